"""The pod runtime: the operator plays the kubelet of every satellite node.

Pods bound to a satellite's node join the engine (`FleetEngine.bind`) and are reported
Running, with the conditions and container statuses a kubelet writes, so Jobs,
PodDisruptionBudgets and `kubectl` see them as real; the pods kubesat's Job controller
creates are in the engine from the start. When the engine ends a pod, its status says
how: Succeeded when its work is done, Failed with a reason and a `DisruptionTarget`
condition when power is lost, a radiation upset kills it or a drain checkpointed it (so
a Job's podFailurePolicy can ignore such failures). A pod being deleted (an eviction, a
user) first writes a checkpoint (its grace period stands for the write), is then
reported Failed and finally deleted with grace 0, as a kubelet confirms a termination.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.timebase import iso_z
from kubesat.engine.events import EndReason, PodEnded
from kubesat.engine.fleet import FleetEngine
from kubesat.engine.slot_state import DRAINING
from kubesat.k8s.api import URGENT, Api, status_of
from kubesat.k8s.jobs import JobBook
from kubesat.k8s.objects import PodInfo

logger = logging.getLogger("kubesat.pods")

PodKey = tuple[str, str]  # (namespace, name)


def _now_text(wall: Any) -> str:
    return iso_z(wall).replace(".000Z", "Z")


def running_status(pod: PodInfo, wall: Any) -> dict[str, Any]:
    started = pod.started or _now_text(wall)
    now = _now_text(wall)
    conditions = [
        {"type": kind, "status": "True", "lastTransitionTime": now}
        for kind in ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")
    ]
    return {
        "status": {
            "phase": "Running",
            "startTime": started,
            "hostIP": "127.0.0.1",
            "conditions": conditions,
            "containerStatuses": [
                {
                    "name": name,
                    "image": image,
                    "imageID": "",
                    "containerID": f"kubesat://{pod.uid}/{name}",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": started}},
                }
                for name, image in pod.containers
            ],
        }
    }


def end_message(ended: PodEnded, satellite: str) -> str:
    """What a pod's status and Event say about its end."""
    reason = ended.reason
    if reason is EndReason.COMPLETED:
        return f"{ended.progress_gpu_seconds:.0f} GPU-s of work done"
    if reason is EndReason.CHECKPOINTED:
        return (
            f"checkpoint of {ended.progress_gpu_seconds:.0f} GPU-s written after the "
            "deletion request; stopped"
        )
    if reason is EndReason.POWER_LOST:
        return (
            f"the battery of {satellite} reached its floor: GPUs shed, work since the last "
            "checkpoint lost"
        )
    if reason is EndReason.SEFI:
        return (
            f"single-event functional interrupt on GPU {ended.gpu} of {satellite}: "
            "the GPU hung and the pod was lost"
        )
    if reason is EndReason.LATCHUP:
        return f"single-event latch-up on {satellite}: the satellite power-cycled"
    if reason is EndReason.OVERHEATED:
        return (
            f"{satellite} reached its maximum temperature: GPUs held off, work since the "
            "last checkpoint lost"
        )
    if reason is EndReason.JOB_FAILED:
        return "the Job reached its backoff limit"
    if reason is EndReason.GANG_RESTART:
        return (
            "another member of its gang was lost: every member stops and the gang restarts "
            f"from its last checkpoint ({ended.progress_gpu_seconds:.0f} GPU-s)"
        )
    return "the pod was deleted"


def ended_status(pod: PodInfo, ended: PodEnded, message: str, wall: Any) -> dict[str, Any]:
    started = pod.started or _now_text(wall)
    now = _now_text(wall)
    succeeded = ended.succeeded
    not_ready = "PodCompleted" if succeeded else "PodFailed"
    conditions = [
        {"type": "Ready", "status": "False", "reason": not_ready, "lastTransitionTime": now},
        {
            "type": "ContainersReady",
            "status": "False",
            "reason": not_ready,
            "lastTransitionTime": now,
        },
    ]
    if ended.reason.disruption and ended.reason is not EndReason.CHECKPOINTED:
        conditions.append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": ended.reason.status_reason,
                "message": message,
                "lastTransitionTime": now,
            }
        )
    terminated = {
        "exitCode": 0 if succeeded else 137,
        "reason": "Completed" if succeeded else "Error",
        "message": message,
        "startedAt": started,
        "finishedAt": now,
    }
    return {
        "status": {
            "phase": "Succeeded" if succeeded else "Failed",
            "reason": ended.reason.status_reason,
            "message": message,
            "startTime": started,
            "conditions": conditions,
            "containerStatuses": [
                {
                    "name": name,
                    "image": image,
                    "imageID": "",
                    "containerID": f"kubesat://{pod.uid}/{name}",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {"terminated": terminated},
                }
                for name, image in pod.containers
            ],
        }
    }


def rejected_status(message: str, reason: str) -> dict[str, Any]:
    return {"status": {"phase": "Failed", "reason": reason, "message": message}}


class PodRuntime:
    """Binds the API's pods on one fleet's nodes to the engine's pods, and writes their lives."""

    def __init__(
        self,
        api: Api,
        engine: FleetEngine,
        book: JobBook,
        node_names: tuple[str, ...],
        event: Callable[..., None],
    ) -> None:
        self.api = api
        self.engine = engine
        self.book = book
        self.node_names = node_names
        self.event = event
        self.pod_of: dict[PodKey, int] = {}  # API pod -> engine pod
        self.key_of: dict[int, PodKey] = {}  # engine pod -> API pod
        self.info: dict[PodKey, PodInfo] = {}  # latest view of our pods
        self.seen: set[int] = set()  # engine pods seen in the API at least once
        self.running_written: set[int] = set()
        self.ended: dict[PodKey, PodEnded] = {}  # ends to write (kept until the pod is gone)
        self.end_written: set[PodKey] = set()
        self.finalized: set[PodKey] = set()
        self.rejected: set[PodKey] = set()
        self.strays: set[PodKey] = set()  # pods of kubesat's Jobs the engine does not run

    def register(self, pod: int, key: PodKey) -> None:
        self.pod_of[key] = pod
        self.key_of[pod] = key
        self.engine.pod_refs[pod] = f"{key[0]}/{key[1]}"

    def restore_refs(self) -> None:
        """After a restart: the engine's pods and the names it kept for them."""
        for pod, ref in self.engine.pod_refs.items():
            namespace, _, name = ref.partition("/")
            if pod in self.engine.pod_slot:
                self.pod_of[(namespace, name)] = pod
                self.key_of[pod] = (namespace, name)

    def pods_on(self, pods_index: Any, i: int) -> Iterable[PodInfo]:
        name = self.node_names[i]
        if name in pods_index:
            yield from pods_index[name]

    # -- reading the API -------------------------------------------------------------------

    def adopt(self, pods_index: Any, jobs_index: Any, ready: NDArray[np.bool_]) -> None:
        """Admit pods newly bound to our nodes; notice deletions and disappearances."""
        present: set[PodKey] = set()
        e = self.engine
        for i in range(len(self.node_names)):
            for pod in self.pods_on(pods_index, i):
                key = pod.key
                present.add(key)
                self.info[key] = pod
                known = self.pod_of.get(key)
                if known is None:
                    if key in self.strays and key not in self.finalized:
                        self._finalize(key, pod)  # the last delete failed: try again
                    fresh = key not in self.rejected and key not in self.ended
                    if fresh and not pod.terminal and ready[i]:
                        self._adopt(pod, i, jobs_index)
                    continue
                self.seen.add(known)
                alive = known in e.pod_slot
                if pod.deleting and alive and e.pod_state(known) != DRAINING:
                    e.stop(known)
        for engine_pod, key in list(self.key_of.items()):
            if key in present:
                continue
            if engine_pod in e.pod_slot and engine_pod in self.seen:
                e.drop(engine_pod)  # gone without us (force-deleted): work since the checkpoint
            # an ended pod is forgotten once it was seen and is gone; one the API has not
            # shown yet (its creation still queued) stays known, so that when it appears
            # it gets its end written instead of being taken for somebody else's pod
            if engine_pod not in e.pod_slot and engine_pod in self.seen:
                self._forget(engine_pod, key)
        for key in [k for k in self.info if k not in present]:
            self.info.pop(key, None)
        self.rejected &= present
        self.strays &= present
        self.finalized = {k for k in self.finalized if k in present or k in self.pod_of}

    def forget_unwritten(self, pod: int) -> None:
        """An engine pod that ended before it was ever written to the API."""
        key = self.key_of.get(pod)
        if key is not None and key not in self.info:
            self._forget(pod, key)

    def _forget(self, pod: int, key: PodKey) -> None:
        self.key_of.pop(pod, None)
        self.pod_of.pop(key, None)
        self.engine.pod_refs.pop(pod, None)
        self.seen.discard(pod)
        self.running_written.discard(pod)
        self.ended.pop(key, None)
        self.end_written.discard(key)
        self.finalized.discard(key)

    def _adopt(self, pod: PodInfo, i: int, jobs_index: Any) -> None:
        if pod.job is not None:
            job_key = (pod.namespace, pod.job)
            if job_key not in jobs_index:
                return  # the Job's watch event has not arrived yet: adopt at the next tick
            info = next(iter(jobs_index[job_key]), None)
            if info is None:
                return
            if info.managed:
                self._remove_stray(pod)
                return
            if info.error:
                self.event(pod.reference(), "Warning", "InvalidWork", info.error)
            record = self.book.add(info) or self.book.add_bare_pod(pod)
        else:
            if pod.work_error:
                self.event(pod.reference(), "Warning", "InvalidWork", pod.work_error)
            record = self.book.add_bare_pod(pod)
        index = None
        if record.info is not None and record.info.indexed and pod.completion_index is not None:
            index = int(pod.completion_index)
        engine_pod = self.engine.bind(record.index, i, max(pod.gpus, 1), index)
        if engine_pod is None:
            free = int(self.engine.free_gpus()[i])
            message = (
                f"Node {self.node_names[i]} has {free} free healthy nvidia.com/gpu, "
                f"the pod asks {pod.gpus}"
                if free < pod.gpus
                else "every unit of its Job is done or has a pod"
            )
            self.rejected.add(pod.key)
            self.api.submit(
                ("pod-status", pod.namespace, pod.name),
                "patch",
                "pods/status",
                lambda: self.api.core.patch_namespaced_pod_status(
                    pod.name, pod.namespace, rejected_status(message, "OutOfnvidia.com/gpu")
                ),
                priority=URGENT,
            )
            return
        self.register(engine_pod, pod.key)
        self.seen.add(engine_pod)
        if pod.deleting:
            self.engine.stop(engine_pod)

    def _remove_stray(self, pod: PodInfo) -> None:
        """Delete a pod of one of kubesat's Jobs that the engine does not run.

        kubesat's Job controller creates every such pod for a unit the engine placed, so
        one the engine does not know is a late copy of a decision already undone (its
        creation was still queued when the engine ended it); running it would run a unit
        twice.
        """
        self.rejected.add(pod.key)
        self.strays.add(pod.key)
        self._finalize(pod.key, pod)

    # -- writing ---------------------------------------------------------------------------

    def end(self, ended: PodEnded) -> None:
        """The engine ended a pod: its status is written once the pod is in the API."""
        key = self.key_of.get(ended.pod)
        if key is not None:
            self.ended[key] = ended

    def write(self, wall: Any) -> None:
        """Write what changed: Running on admission, the end, the final deletion."""
        e = self.engine
        for pod, key in list(self.key_of.items()):
            info = self.info.get(key)
            if info is None:
                continue
            ended = self.ended.get(key)
            if ended is None:
                if pod in e.pod_slot and pod not in self.running_written:
                    self.running_written.add(pod)
                    if info.phase != "Running":
                        self._write_status(key, running_status(info, wall), pod)
                continue
            if key not in self.end_written:
                self.end_written.add(key)
                message = end_message(ended, self.node_names[ended.sat])
                self._write_status(key, ended_status(info, ended, message, wall), pod)
                self._announce(info, ended, message)
            elif info.deleting and info.terminal and key not in self.finalized:
                self._finalize(key, info)

    def _write_status(self, key: PodKey, body: dict[str, Any], pod: int) -> None:
        namespace, name = key

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None and status_of(error) != 404:
                self.running_written.discard(pod)
                self.end_written.discard(key)

        self.api.submit(
            ("pod-status", namespace, name),
            "patch",
            "pods/status",
            lambda: self.api.core.patch_namespaced_pod_status(name, namespace, body),
            priority=URGENT,
            on_done=done,
        )

    def _finalize(self, key: PodKey, info: PodInfo) -> None:
        """Confirm the deletion of a stopped pod (grace 0), as its kubelet would."""
        from kubernetes import client

        self.finalized.add(key)
        options = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=info.uid)
        )

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None and status_of(error) not in (404, 409):
                self.finalized.discard(key)

        self.api.submit(
            ("pod-delete", info.namespace, info.name),
            "delete",
            "pods",
            lambda: self.api.core.delete_namespaced_pod(
                info.name, info.namespace, grace_period_seconds=0, body=options
            ),
            priority=URGENT,
            on_done=done,
        )

    def _announce(self, info: PodInfo, ended: PodEnded, message: str) -> None:
        ref = info.reference()
        if ended.reason is EndReason.COMPLETED:
            self.event(ref, "Normal", "Completed", message)
        elif ended.reason is EndReason.CHECKPOINTED:
            self.event(ref, "Normal", "Checkpointed", message)
        else:
            lost = f"; {ended.lost_gpu_seconds:.0f} GPU-s since the last checkpoint lost"
            self.event(ref, "Warning", ended.reason.status_reason, f"{message}{lost}")

    # -- views -----------------------------------------------------------------------------

    def allocated(self, pods_index: Any) -> NDArray[np.int64]:
        """GPUs held on each node by pods that are not finished (the scheduler's view)."""
        out = np.zeros(len(self.node_names), np.int64)
        for i in range(len(self.node_names)):
            for pod in self.pods_on(pods_index, i):
                if pod.terminal or pod.key in self.rejected or pod.key in self.ended:
                    continue
                out[i] += pod.gpus
        return out

    def phases(self, pods_index: Any) -> dict[str, int]:
        """GPU pods on our nodes by phase (the `kubesat_pods` gauge)."""
        phases = {"Pending": 0, "Running": 0, "Succeeded": 0, "Failed": 0}
        for i in range(len(self.node_names)):
            for pod in self.pods_on(pods_index, i):
                if pod.phase in phases:
                    phases[pod.phase] += 1
        return phases
