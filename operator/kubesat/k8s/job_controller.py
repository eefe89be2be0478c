"""kubesat's Job controller, for Jobs with `spec.managedBy: kubesat.io/job-controller`.

Kubernetes' Job controller leaves such Jobs alone, so their pods follow the engine's Job
semantics in simulated time, as `kubesat simulate` predicts: the engine decides when a
unit gets a pod and where; this writer creates that pod already bound to the satellite's
node (`spec.nodeName`, no scheduler in between) and keeps the Job's status (active,
succeeded, failed, completed indexes, and the Complete or Failed conditions) true to it.
A drained or disrupted pod never delays the next one: there is no wall-clock backoff.

A pod is written only once its node exists: a pod bound to a missing Node is deleted by the
pod garbage collector, which would end a unit the engine still runs. While a large fleet's
Nodes register, the pods placed on the late ones wait, and one the engine ends before its
node is up is never written at all.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from kubesat.engine.events import PodStarted
from kubesat.engine.fleet import FleetEngine
from kubesat.k8s.api import NORMAL, URGENT, Api, status_of
from kubesat.k8s.job_objects import JobReason, JobState, render_job_status, render_pod
from kubesat.k8s.jobs import JobBook, JobRecord

logger = logging.getLogger("kubesat.jobs")


class ManagedJobs:
    """Creates the pods of the managed Jobs the engine places and writes their status."""

    def __init__(
        self,
        api: Api,
        engine: FleetEngine,
        book: JobBook,
        node_names: tuple[str, ...],
        wall_text: Callable[[], str],
    ) -> None:
        self.api = api
        self.engine = engine
        self.book = book
        self.node_names = node_names
        self.wall_text = wall_text
        self.status_written: dict[int, str] = {}
        self.waiting: dict[int, tuple[PodStarted, JobRecord]] = {}  # engine pod -> its write
        self.finished_at: dict[int, str] = {}  # fixed once: completionTime never changes

    def create(self, decision: PodStarted, record: JobRecord, node_registered: bool = True) -> str:
        """Create the pod the engine started (idempotent: its name is fixed), or keep it
        until its node is registered (`flush`). Its name."""
        assert record.info is not None
        node = self.node_names[decision.sat]
        body = render_pod(
            record.info.body(), decision.unit, decision.attempt, node, record.info.indexed
        )
        name = str(body["metadata"]["name"])
        if not node_registered:
            self.waiting[decision.pod] = (decision, record)
            return name
        self._submit(record, body, name)
        return name

    def flush(self, registered: Callable[[int], bool]) -> list[int]:
        """Write the waiting pods whose node is now registered. The engine pods that ended
        while waiting (never to be written), for the pod runtime to forget."""
        gone = []
        for pod, (decision, record) in list(self.waiting.items()):
            if pod not in self.engine.pod_slot:
                del self.waiting[pod]
                gone.append(pod)
            elif registered(decision.sat):
                del self.waiting[pod]
                self.create(decision, record)
        return gone

    def _submit(self, record: JobRecord, body: dict[str, Any], name: str) -> None:
        assert record.info is not None
        pod: Any = body  # the client takes a plain manifest as well as a V1Pod
        namespace = record.info.namespace

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None and status_of(error) != 409:
                logger.warning("creating pod %s/%s failed: %s", namespace, name, error)

        self.api.submit(
            ("pod-create", namespace, name),
            "create",
            "pods",
            functools.partial(self.api.core.create_namespaced_pod, namespace, pod),
            priority=URGENT,
            on_done=done,
        )

    def write_status(self) -> None:
        """Write the status of every managed Job whose counts or conditions changed."""
        e = self.engine
        for record in self.book.records.values():
            if record.info is None or not record.info.managed or not e.job_active[record.index]:
                continue
            job = record.index
            units = e.units_of(job)
            done = units[e.unit_done[units]]
            state = (
                JobState.COMPLETE
                if e.job_complete[job]
                else JobState.FAILED
                if e.job_failed[job]
                else JobState.RUNNING
            )
            active = 0 if state is not JobState.RUNNING else int(e.job_running[job])
            signature = f"{state}/{active}/{done.size}/{record.failed_pods}"
            if self.status_written.get(job) == signature or record.start_time is None:
                continue
            finished = None
            if state is not JobState.RUNNING:
                finished = self.finished_at.setdefault(job, self.wall_text())
            body = render_job_status(
                start_time=record.start_time,
                active=active,
                ready=active,
                succeeded=int(done.size),
                failed=record.failed_pods,
                completed_indexes=(
                    sorted(int(i) for i in e.unit_index[done]) if record.info.indexed else None
                ),
                state=state,
                finished_at=finished,
                reason=None if state is not JobState.FAILED else JobReason.BACKOFF_LIMIT_EXCEEDED,
                message=None
                if state is not JobState.FAILED
                else "Job has reached the specified backoff limit",
            )
            self.status_written[job] = signature
            namespace, name = record.info.key

            def done_cb(_: Any, error: BaseException | None, job: int = job) -> None:
                if error is not None and status_of(error) != 404:
                    logger.warning("Job status of %s failed: %s", job, error)
                    self.status_written.pop(job, None)

            self.api.submit(
                ("job-status", namespace, name),
                "patch",
                "jobs/status",
                functools.partial(
                    self.api.batch.patch_namespaced_job_status, name, namespace, body
                ),
                priority=NORMAL,
                on_done=done_cb,
            )
