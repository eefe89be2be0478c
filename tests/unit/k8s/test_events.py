"""The Event recorder: repeats folded, and a bounded queue when the API server is behind."""

from __future__ import annotations

import asyncio

from kubernetes import client

from kubesat.k8s.api import Api
from kubesat.k8s.events import MAX_QUEUED_EVENTS, EventRecorder


def pod(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}}


def stalled_api() -> Api:
    """The operator's write queue with no writer running: an API server that never answers."""
    api = Api(client.ApiClient(client.Configuration()), concurrency=0)
    api.start()
    return api


def test_a_stalled_api_holds_at_most_the_cap_and_counts_the_rest() -> None:
    async def scenario() -> tuple[int, int, int]:
        api = stalled_api()
        record = EventRecorder(api, "test")
        extra = 25
        for i in range(MAX_QUEUED_EVENTS + extra):
            record(pod(f"p{i}"), "Normal", "Checkpointed", "checkpointed before the eclipse")
        await api.close()
        return api.backlog, len(record.queued), record.dropped

    backlog, queued, dropped = asyncio.run(scenario())
    assert backlog == queued == MAX_QUEUED_EVENTS
    assert dropped == 25


def test_the_same_message_about_the_same_object_is_posted_once() -> None:
    async def scenario() -> int:
        api = stalled_api()
        record = EventRecorder(api, "test", repeat_seconds=60.0)
        for _ in range(3):
            record(pod("p0"), "Warning", "PowerLost", "battery at its floor")
        record(pod("p0"), "Warning", "PowerLost", "battery at its floor again")
        await api.close()
        return api.backlog

    assert asyncio.run(scenario()) == 2
