"""The operator's Event recorder: repeats folded, a bounded queue (no API server needed)."""

from __future__ import annotations

from typing import Any

from kubesat.k8s.events import EventRecorder


class Queue:
    """Records what the recorder submits; `send()` completes the writes in order."""

    def __init__(self) -> None:
        self.writes: list[tuple[tuple[str, ...], Any]] = []
        self.core = self  # stands for CoreV1Api: only its method is referred to

    def create_namespaced_event(self, *_: Any) -> None:
        raise AssertionError("the queue sends nothing here")

    def submit(self, key: tuple[str, ...], *_: Any, on_done: Any = None, **__: Any) -> None:
        self.writes.append((key, on_done))

    def send(self) -> None:
        writes, self.writes = self.writes, []
        for _, on_done in writes:
            on_done(None, None)


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "uid": name}}


def test_a_repeat_within_the_window_is_posted_once():
    queue = Queue()
    record = EventRecorder(queue, "test")  # type: ignore[arg-type]
    record(pod("a"), "Warning", "FailedScheduling", "no room")
    record(pod("a"), "Warning", "FailedScheduling", "no room")
    record(pod("a"), "Warning", "FailedScheduling", "other")
    assert len(queue.writes) == 2


def test_beyond_max_queued_events_are_dropped_until_some_are_sent():
    queue = Queue()
    record = EventRecorder(queue, "test", max_queued=3)  # type: ignore[arg-type]
    for index in range(5):
        record(pod(f"p{index}"), "Warning", "FailedScheduling", "no room")
    assert (len(queue.writes), record.queued, record.dropped) == (3, 3, 2)
    queue.send()
    assert record.queued == 0
    record(pod("p9"), "Warning", "FailedScheduling", "no room")
    assert (len(queue.writes), record.dropped) == (1, 2)


def test_a_stalled_write_queue_holds_at_most_the_cap() -> None:
    """The operator's real write queue with no writer running (an API server that never
    answers): it holds the cap and no more."""
    import asyncio

    from kubernetes import client

    from kubesat.k8s.api import Api
    from kubesat.k8s.events import MAX_QUEUED_EVENTS

    async def scenario() -> tuple[int, int, int]:
        api = Api(client.ApiClient(client.Configuration()), concurrency=0)
        api.start()
        record = EventRecorder(api, "test")
        for i in range(MAX_QUEUED_EVENTS + 25):
            record(pod(f"p{i}"), "Normal", "Checkpointed", "checkpointed before the eclipse")
        await api.close()
        return api.backlog, record.queued, record.dropped

    assert asyncio.run(scenario()) == (MAX_QUEUED_EVENTS, MAX_QUEUED_EVENTS, 25)
