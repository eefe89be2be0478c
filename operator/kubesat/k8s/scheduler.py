"""kubesat-scheduler: a second scheduler in the operator process.

It places the pods whose `spec.schedulerName` is `kubesat-scheduler`, with the policy's
filter and score plugins (`kubesat.engine.plugins`, the same the engine runs) over a
`FleetView` of every constellation built from live state: battery,
forecast runway, free healthy GPUs (pods bound but not yet running count as allocated),
ground link, radiation. It also honours taints and tolerations and `nodeSelector`. A pod
goes to the best-scoring satellite of any constellation, through the Binding subresource.
A pod that fits nowhere stays Pending with a `FailedScheduling` Event (and a PodScheduled
condition) that says how many satellites failed for which reason, written at most once a
minute per pod.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kubesat.core.policy import required_contact_seconds, required_runway_seconds
from kubesat.engine.plugins.framework import FleetNow, PodShape, Rejections, explain
from kubesat.engine.plugins.registry import policy_named
from kubesat.k8s.api import NORMAL, URGENT, status_of
from kubesat.k8s.objects import JobInfo, PodInfo
from kubesat.spec import SCHEDULER_NAME

if TYPE_CHECKING:
    from kubesat.k8s.runtime import FleetRuntime

logger = logging.getLogger("kubesat.scheduler")

DEFAULT_WORK_INTERVAL = 1800.0
DEFAULT_WRITE = 30.0
ASSUME_SECONDS = 30.0  # forget a binding the watch never confirmed after this long
EVENT_REPEAT_SECONDS = 60.0
NOT_REGISTERED = "node not registered"
TAINT_OR_SELECTOR = "untolerated taint or node selector mismatch"


@dataclass
class Assumed:
    fleet: tuple[str, str]
    sat: int
    gpus: int
    wall: float


class Scheduler:
    """Binds pending kubesat-scheduler pods; one pass at a time, woken by pod events."""

    def __init__(self, api: Any, event: Any, metrics: Any = None) -> None:
        self.api = api
        self.event = event
        self.metrics = metrics
        self.assumed: dict[str, Assumed] = {}
        self.reported: dict[str, tuple[str, float]] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self.last_pass = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def maybe_run(
        self,
        fleets: dict[tuple[str, str], FleetRuntime],
        pods_index: Any,
        jobs_index: Any,
        min_interval: float = 0.1,
    ) -> None:
        """A pass if woken (a pod event) or a second has gone by; skipped if one runs."""
        now = time.monotonic()
        due = self._wake.is_set() or now - self.last_pass >= 1.0
        if not due or now - self.last_pass < min_interval or self._lock.locked():
            return
        async with self._lock:
            self._wake.clear()
            self.last_pass = now
            self.run_once(fleets, pods_index, jobs_index)

    # -- one pass ----------------------------------------------------------------------

    def run_once(
        self, fleets: dict[tuple[str, str], FleetRuntime], pods_index: Any, jobs_index: Any
    ) -> None:
        wall = time.monotonic()
        pending = [
            p
            for p in pods_index.get("", [])
            if p.scheduler == SCHEDULER_NAME and not p.terminal and not p.deleting
        ]
        # forget assumptions the watch confirmed (the pod is bound) or never will
        pending_uids = {p.uid for p in pending}
        for uid in list(self.assumed):
            if uid not in pending_uids or wall - self.assumed[uid].wall > ASSUME_SECONDS:
                del self.assumed[uid]
        for uid in list(self.reported):
            if uid not in pending_uids:
                del self.reported[uid]
        pending = [p for p in pending if p.uid not in self.assumed]
        if not pending:
            return
        live = {k: f for k, f in fleets.items() if f.schedulable}
        views = {}
        for key, fleet in live.items():
            allocated = fleet.pods.allocated(pods_index)
            for a in self.assumed.values():
                if a.fleet == key:
                    allocated[a.sat] += a.gpus
            views[key] = fleet.view(allocated)
        # pods that ask for the same as one that found no satellite in this pass find none
        # either (placements only take capacity): thousands of pending pods of one Job cost
        # one search, as the default scheduler's equivalence classes
        failed: dict[Any, tuple[int, Counter[str]]] = {}
        for pod in sorted(pending, key=lambda p: (p.created, p.name)):
            started = time.perf_counter()
            self._place(pod, live, views, jobs_index, wall, failed)
            if self.metrics is not None:
                result = "bound" if pod.uid in self.assumed else "unschedulable"
                self.metrics.observe_scheduling(result, time.perf_counter() - started)

    def _needs(self, pod: PodInfo, jobs_index: Any) -> tuple[float, float, bool]:
        """(checkpoint interval, checkpoint write, needs a ground link) of the pod's work:
        its Job's annotations when it has a Job, else its own."""
        work = pod.work
        if pod.job is not None and (pod.namespace, pod.job) in jobs_index:
            info: JobInfo | None = next(iter(jobs_index[(pod.namespace, pod.job)]), None)
            if info is not None and info.spec is not None:
                work = info.spec
        if work is None:
            return DEFAULT_WORK_INTERVAL, DEFAULT_WRITE, pod.needs_link
        return (
            work.checkpoint_interval_seconds,
            work.checkpoint_write_seconds,
            pod.needs_link or work.needs_ground_link,
        )

    def _place(
        self,
        pod: PodInfo,
        fleets: dict[tuple[str, str], FleetRuntime],
        views: dict[tuple[str, str], Any],
        jobs_index: Any,
        wall: float,
        failed: dict[Any, tuple[int, Counter[str]]],
    ) -> None:
        if pod.job is not None and (pod.namespace, pod.job) not in jobs_index:
            return  # its Job's watch event has not arrived: what it needs is not known yet
        interval, write, needs_link = self._needs(pod, jobs_index)
        asks = (pod.gpus, needs_link, interval, write, pod.tolerations, pod.node_selector)
        if asks in failed:
            self._unschedulable(pod, *failed[asks], wall)
            return
        reasons: Counter[str] = Counter()
        best: tuple[float, tuple[str, str], int] | None = None
        total = 0
        for key, fleet in fleets.items():
            spec = fleet.spec
            shape = PodShape(
                pod.gpus,
                needs_link,
                required_runway_seconds(interval, write, spec.predictive_margin_seconds),
                required_contact_seconds(write, spec.predictive_margin_seconds),
            )
            policy = policy_named(spec.policy)
            now = FleetNow(spec.power, views[key])
            # the shell's own checks first, then the same filters as the engine's
            first = (
                (NOT_REGISTERED, fleet.nodes.registered),
                (TAINT_OR_SELECTOR, fleet.placement_mask(pod)),
            )
            ok, rejected = explain(policy.filters, now, shape, first)
            total += fleet.n
            reasons.update(rejected)
            if not ok.any():
                continue
            points = policy.score(now, shape)
            i = int(np.flatnonzero(ok)[np.argmax(points[ok])])
            if best is None or points[i] > best[0]:
                best = (float(points[i]), key, i)
        if best is None:
            failed[asks] = (total, reasons)
            self._unschedulable(pod, total, reasons, wall)
            return
        _, key, i = best
        fleet = fleets[key]
        views[key].free_gpus[i] -= pod.gpus
        views[key].busy_gpus[i] += pod.gpus
        self.assumed[pod.uid] = Assumed(key, i, pod.gpus, wall)
        self._bind(pod, fleet.nodes.names[i])

    def _unschedulable(self, pod: PodInfo, total: int, reasons: Counter[str], wall: float) -> None:
        if total == 0:
            message = "0/0 nodes are available: no satellites (no Constellation is running)."
        else:
            message = Rejections(total, reasons).message()
        # once per pod per EVENT_REPEAT_SECONDS, whatever the counts in the message say
        # (they move every step; thousands of pending pods would flood the API with them)
        last = self.reported.get(pod.uid)
        if last is not None and wall - last[1] < EVENT_REPEAT_SECONDS:
            return
        self.reported[pod.uid] = (message, wall)
        self.event(
            pod.reference(), "Warning", "FailedScheduling", message, component=SCHEDULER_NAME
        )
        body = {
            "status": {
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                    }
                ]
            }
        }
        self.api.submit(
            ("pod-status", pod.uid),
            "patch",
            "pods/status",
            lambda: self.api.core.patch_namespaced_pod_status(pod.name, pod.namespace, body),
            priority=NORMAL,  # after the heartbeats and the pods that run
        )

    def _bind(self, pod: PodInfo, node: str) -> None:
        from kubernetes import client

        body = client.V1Binding(
            metadata=client.V1ObjectMeta(name=pod.name, namespace=pod.namespace, uid=pod.uid),
            target=client.V1ObjectReference(api_version="v1", kind="Node", name=node),
        )

        def call() -> Any:
            # kubernetes-client/python#547: the generated call raises ValueError on success
            # while deserialising the reply; the raw response avoids it.
            response = self.api.core.create_namespaced_pod_binding(
                pod.name, pod.namespace, body, _preload_content=False
            )
            response.release_conn()
            return response.status

        def done(_: Any, error: BaseException | None) -> None:
            if error is None:
                self.event(
                    pod.reference(),
                    "Normal",
                    "Scheduled",
                    f"Successfully assigned {pod.namespace}/{pod.name} to {node}",
                    component=SCHEDULER_NAME,
                )
            else:
                self.assumed.pop(pod.uid, None)
                if status_of(error) not in (404, 409):
                    logger.warning(
                        "binding %s/%s to %s failed: %s", pod.namespace, pod.name, node, error
                    )
                self.wake()

        self.api.submit(
            ("pod-binding", pod.uid), "create", "pods/binding", call, priority=URGENT, on_done=done
        )
