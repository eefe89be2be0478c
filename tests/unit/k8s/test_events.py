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
