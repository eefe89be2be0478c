"""Kubernetes Events from the operator's loops (Kopf's `kopf.event` needs a handler's context).

Events go through the write queue at the lowest priority; the same message about the same
object within `repeat_seconds` is posted once (like the kubelet's event aggregation), and
while `max_queued` Events wait to be sent, more are dropped and counted (as client-go's
event broadcaster drops beyond its queue of 1000): Events are for people, never worth
holding back the writes the fleet needs.
"""

from __future__ import annotations

import functools
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from kubesat.k8s.api import LAZY, Api

COMPONENT = "kubesat-operator"
MAX_QUEUED_EVENTS: Final = 1000


class EventRecorder:
    """Posts core/v1 Events about pods, Satellites, Constellations."""

    def __init__(
        self,
        api: Api,
        instance: str,
        repeat_seconds: float = 60.0,
        max_queued: int = MAX_QUEUED_EVENTS,
    ) -> None:
        self.api = api
        self.instance = instance
        self.repeat = repeat_seconds
        self.max_queued = max_queued
        self.queued = 0
        self.dropped = 0
        self.recent: dict[tuple[str, str, str], float] = {}

    def __call__(
        self,
        obj: dict[str, Any],
        type_: str,
        reason: str,
        message: str,
        component: str = COMPONENT,
    ) -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        key = (str(meta.get("uid") or f"{namespace}/{meta.get('name')}"), reason, message)
        now = time.monotonic()
        if now - self.recent.get(key, -1e18) < self.repeat:
            return
        if self.queued >= self.max_queued:
            self.dropped += 1
            return
        self.recent[key] = now
        if len(self.recent) > 10000:
            cutoff = now - self.repeat
            self.recent = {k: v for k, v in self.recent.items() if v >= cutoff}
        stamp = datetime.now(UTC)
        text = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name', 'object')}.{uuid.uuid4().hex[:16]}",
                "namespace": namespace,
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": self.instance,
            "firstTimestamp": text,
            "lastTimestamp": text,
            "count": 1,
        }
        event: Any = body  # the client takes a plain manifest as well as a CoreV1Event
        self.queued += 1
        self.api.submit(
            ("event", body["metadata"]["name"]),
            "create",
            "events",
            functools.partial(self.api.core.create_namespaced_event, namespace, event),
            priority=LAZY,
            on_done=self._sent,
        )

    def _sent(self, _result: Any, _error: BaseException | None) -> None:
        self.queued -= 1
