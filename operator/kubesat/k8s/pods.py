"""The pod runtime: the operator plays the kubelet of every satellite node.

Pods bound to a satellite's node are admitted (GPUs assigned) and reported Running, with
the conditions and container statuses a kubelet writes, so Jobs, PodDisruptionBudgets
and `kubectl` see them as real. Their work advances in simulated time while the
satellite has power (`kubesat.k8s.fleet`); they end Succeeded when their work is done
(their Job completes), or Failed with a reason and a `DisruptionTarget` condition when
power is lost or a radiation upset kills them (so a Job's podFailurePolicy can ignore
such failures). A pod being deleted (an eviction, the taint-eviction controller, a user)
first writes a checkpoint (its grace period stands for the write), is then reported
Failed and finally deleted with grace 0, as a kubelet confirms a pod's termination.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from kubesat.core.timebase import iso_z
from kubesat.k8s.api import URGENT, Api, status_of
from kubesat.k8s.fleet import DRAINING, Ending, FleetState, PodRun, Work, sim_datetime
from kubesat.k8s.jobs import JobBook
from kubesat.k8s.objects import JobInfo, PodInfo

logger = logging.getLogger("kubesat.pods")


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


def ended_status(pod: PodInfo, ending: Ending, wall: Any) -> dict[str, Any]:
    started = pod.started or _now_text(wall)
    now = _now_text(wall)
    succeeded = ending.phase == "Succeeded"
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
    if ending.disruption:
        conditions.append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": ending.disruption,
                "message": ending.message,
                "lastTransitionTime": now,
            }
        )
    terminated = {
        "exitCode": 0 if succeeded else 137,
        "reason": "Completed" if succeeded else "Error",
        "message": ending.message,
        "startedAt": started,
        "finishedAt": now,
    }
    return {
        "status": {
            "phase": ending.phase,
            "reason": ending.reason,
            "message": ending.message,
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
    """Adopts the pods bound to one fleet's nodes and writes what happens to them."""

    def __init__(
        self, api: Api, state: FleetState, node_names: tuple[str, ...], event: Callable[..., None]
    ) -> None:
        self.api = api
        self.state = state
        self.node_names = node_names
        self.node_index = {name: i for i, name in enumerate(node_names)}
        self.event = event
        self.info: dict[str, PodInfo] = {}  # uid -> latest view of our pods
        self.rejected: set[str] = set()
        self.deleted: set[str] = set()

    def pods_on(self, pods_index: Any, i: int) -> Iterable[PodInfo]:
        name = self.node_names[i]
        if name in pods_index:
            yield from pods_index[name]

    def adopt(self, pods_index: Any, jobs_index: Any, book: JobBook, ready: Any, wall: Any) -> None:
        """Admit pods newly bound to our nodes; notice deletions and disappearances."""
        seen: set[str] = set()
        for i in range(len(self.node_names)):
            for pod in self.pods_on(pods_index, i):
                seen.add(pod.uid)
                self.info[pod.uid] = pod
                run = self.state.pods.get(pod.uid)
                if run is None:
                    if not pod.terminal and ready[i] and pod.uid not in self.rejected:
                        self._adopt(pod, i, pods_index, jobs_index, book)
                elif pod.deleting and run.end is None:
                    self.state.start_drain(run)
        for uid in [u for u in self.state.pods if u not in seen]:
            run = self.state.pods[uid]
            if run.end is None:
                # gone without us (force-deleted, or the node was replaced): work lost
                self.state.end_pod(run, "Failed", "Deleted", "the pod was deleted")
            self.state.forget_pod(uid)
        for uid in [u for u in self.info if u not in seen]:
            self.info.pop(uid, None)
        self.rejected &= seen
        self.deleted &= seen

    # -- admission ---------------------------------------------------------------------

    def _adopt(self, pod: PodInfo, i: int, pods_index: Any, jobs_index: Any, book: JobBook) -> None:
        work: Work | None = pod.work
        unit = None
        job_key = None
        info: JobInfo | None = None
        if pod.job is not None:
            job_key = (pod.namespace, pod.job)
            if job_key not in jobs_index:
                return  # the Job's watch event has not arrived yet: adopt at the next tick
            info = next(iter(jobs_index[job_key]), None)
        if info is not None:
            if info.error:
                self.event(pod.reference(), "Warning", "InvalidWork", info.error)
            work = info.work
            if work is not None:
                unit = book.get(info, pods_index).claim(pod)
        elif pod.work_error:
            self.event(pod.reference(), "Warning", "InvalidWork", pod.work_error)
        if unit is not None and unit.pod not in (None, pod.uid) and unit.pod in self.state.pods:
            unit = None  # the index's unit is busy (a duplicate pod): run without one
        free = self.state.healthy_free_gpus()[i]
        restored = unit is not None and unit.pod == pod.uid
        if pod.gpus > free and not restored:
            message = (
                f"Node {self.node_names[i]} has {free} free healthy nvidia.com/gpu, "
                f"the pod asks {pod.gpus}"
            )
            self.rejected.add(pod.uid)
            self.api.submit(
                ("pod-status", pod.uid),
                "patch",
                "pods/status",
                lambda: self.api.core.patch_namespaced_pod_status(
                    pod.name, pod.namespace, rejected_status(message, "OutOfnvidia.com/gpu")
                ),
                priority=URGENT,
            )
            return
        run = PodRun(
            uid=pod.uid,
            name=pod.name,
            namespace=pod.namespace,
            sat=i,
            gpus=pod.gpus,
            work=work,
            unit=unit,
            job=job_key,
            node=self.node_names[i],
        )
        if restored and pod.started:
            run.status_written = "Running" if pod.phase == "Running" else None
        self.state.add_pod(run)
        if pod.deleting:
            self.state.start_drain(run)
        if unit is not None and not restored:
            if unit.checkpoint > 0:
                self.event(
                    pod.reference(),
                    "Normal",
                    "Resuming",
                    f"restoring the checkpoint at {unit.checkpoint:.0f} of "
                    f"{work.work_gpu_seconds if work else 0:.0f} GPU-s on "
                    f"{self.node_names[i]}",
                )
            elif work is not None:
                self.event(
                    pod.reference(),
                    "Normal",
                    "Started",
                    f"running on {self.node_names[i]}: {work.work_gpu_seconds:.0f} "
                    f"GPU-s of work, checkpoint every "
                    f"{work.checkpoint_interval_seconds:.0f} s",
                )

    # -- writes ------------------------------------------------------------------------

    def write(self, wall: Any) -> None:
        """Write what changed: Running on admission, the end, the final deletion."""
        for uid, run in list(self.state.pods.items()):
            pod = self.info.get(uid)
            if pod is None:
                continue
            if run.end is None:
                if run.status_written is None and pod.phase != "Running":
                    self._write_status(run, pod, "Running", running_status(pod, wall))
                elif run.status_written is None:
                    run.status_written = "Running"
                continue
            if run.status_written != run.end.phase:
                if run.status_written != "retry":
                    self._announce_end(run)
                self._write_status(run, pod, run.end.phase, ended_status(pod, run.end, wall))
            elif pod.deleting and pod.terminal and uid not in self.deleted:
                self._finalize(run, pod)
            elif pod.terminal and not pod.deleting:
                self.state.forget_pod(uid)  # the kubelet is done with it

    def _write_status(self, run: PodRun, pod: PodInfo, phase: str, body: dict) -> None:
        run.status_written = phase

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None and status_of(error) != 404:
                run.status_written = None if phase == "Running" else "retry"

        self.api.submit(
            ("pod-status", run.uid),
            "patch",
            "pods/status",
            lambda: self.api.core.patch_namespaced_pod_status(pod.name, pod.namespace, body),
            priority=URGENT,
            on_done=done,
        )

    def _finalize(self, run: PodRun, pod: PodInfo) -> None:
        """Confirm the deletion of a stopped pod (grace 0), as its kubelet would."""
        from kubernetes import client

        self.deleted.add(run.uid)
        options = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=run.uid)
        )

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None and status_of(error) not in (404, 409):
                self.deleted.discard(run.uid)

        self.api.submit(
            ("pod-delete", run.uid),
            "delete",
            "pods",
            lambda: self.api.core.delete_namespaced_pod(
                pod.name, pod.namespace, grace_period_seconds=0, body=options
            ),
            priority=URGENT,
            on_done=done,
        )

    def _announce_end(self, run: PodRun) -> None:
        end = run.end
        assert end is not None
        ref = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": run.name, "namespace": run.namespace, "uid": run.uid},
        }
        when = iso_z(sim_datetime(end.at))
        if end.phase == "Succeeded":
            self.event(ref, "Normal", "Completed", f"{end.message} at {when} (simulated)")
        elif end.reason == "Checkpointed":
            self.event(ref, "Normal", "Checkpointed", f"{end.message} at {when} (simulated)")
        else:
            lost = f"; {end.lost_gpu_seconds:.0f} GPU-s since the last checkpoint lost"
            self.event(ref, "Warning", end.reason, f"{end.message} at {when} (simulated){lost}")

    # -- views -------------------------------------------------------------------------

    def allocated(self, pods_index: Any) -> Any:
        """GPUs held on each node by pods that are not finished (the scheduler's view)."""
        import numpy as np

        out = np.zeros(len(self.node_names), np.int64)
        for i in range(len(self.node_names)):
            for pod in self.pods_on(pods_index, i):
                run = self.state.pods.get(pod.uid)
                if pod.terminal or (run is not None and run.end is not None):
                    continue
                if pod.uid in self.rejected:
                    continue
                out[i] += pod.gpus
        return out

    def draining_gpus(self) -> Any:
        import numpy as np

        out = np.zeros(len(self.node_names), np.int64)
        for run in self.state.pods.values():
            if run.end is None and (run.deleting or run.state == DRAINING or run.eviction):
                out[run.sat] += run.gpus
        return out
