"""Which Jobs a constellation's engine runs, and their progress annotation.

A Job joins the engine of a constellation when kubesat controls it (`spec.managedBy:
kubesat.io/job-controller`, in the constellation's namespace, and the constellation its
template's nodeSelector names, if any) or when one of its pods is bound to one of the
constellation's nodes. Work progress is durable in the Constellation's `status.state`
(the engine's state); the Job's `kubesat.io/progress` annotation shows it to people: per
unit (completion) the checkpoint and progress, and the stories of the last pods (which
node, from what checkpoint to what progress, how they ended). It is written when it
changed, at most every 2 wall seconds for kubesat's Jobs and every 30 for Jobs of
Kubernetes' Job controller: each write changes the Job's resourceVersion, and frequent
writes make that controller's status updates conflict until it stops creating pods.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from kubesat.core.workloads import JobSpec
from kubesat.engine.events import PodEnded, PodStarted
from kubesat.engine.fleet import FleetEngine
from kubesat.k8s.api import NORMAL, Api, status_of
from kubesat.k8s.fleet_refs import EventFunc
from kubesat.k8s.objects import PROGRESS_ANNOTATION, JobInfo, PodInfo

HISTORY_LIMIT: Final = 20  # pod stories kept per Job
MANAGED_WRITE_SECONDS: Final = 2.0  # wall seconds between annotation writes, kubesat's Jobs
BUILTIN_WRITE_SECONDS: Final = 30.0  # ... and Jobs of Kubernetes' Job controller
POD_JOB_PREFIX: Final = "pod"  # engine keys of pods without a Job: pod/<namespace>/<name>
DEFAULT_INTERVAL_SECONDS: Final = 1800.0
DEFAULT_WRITE_SECONDS: Final = 30.0
NEVER_FITS_REASON: Final = "NeverFits"  # the Warning Event on a Job whose pods can never run


@dataclass
class JobRecord:
    """One Job (or bare pod) the engine runs, as the shell knows it."""

    index: int  # the engine's job index
    info: JobInfo | None  # None for a bare pod
    pod_key: tuple[str, str] | None = None  # (namespace, name) of a bare pod
    history: list[dict[str, Any]] = field(default_factory=list)
    lost_gpu_seconds: float = 0.0
    failed_pods: int = 0
    written: str | None = None
    dirty: bool = False  # a pod started or ended since the last write
    last_write: float = -math.inf  # wall (monotonic) seconds
    start_time: str | None = None  # wall time of its first pod (Job status)

    def unit_key(self, unit: int) -> str:
        if self.info is not None and self.info.indexed:
            return str(unit)
        return f"u{unit}"


def bare_pod_spec(pod: PodInfo) -> JobSpec:
    """A pod without a Job runs as a one-unit Job: its own work annotations, or forever."""
    if pod.work is not None:
        return pod.work
    return JobSpec(
        pod.name,
        gpus_per_pod=max(pod.gpus, 1),
        work_gpu_seconds=math.inf,
        checkpoint_interval_seconds=DEFAULT_INTERVAL_SECONDS,
        checkpoint_write_seconds=DEFAULT_WRITE_SECONDS,
        namespace=pod.namespace,
        labels=dict(pod.labels),
    )


class JobBook:
    """The Jobs of one constellation's engine, their pods' stories and their annotations."""

    def __init__(
        self,
        engine: FleetEngine,
        api: Api,
        wall_text: Callable[[], str],
        event: EventFunc | None = None,
    ) -> None:
        self.engine = engine
        self.api = api
        self.wall_text = wall_text
        self.event = event  # Events on Jobs (a Job that can never run)
        self.records: dict[int, JobRecord] = {}
        self.by_key: dict[tuple[str, str], int] = {}

    # -- membership ------------------------------------------------------------------------

    def job(self, key: tuple[str, str]) -> JobRecord | None:
        index = self.by_key.get(key)
        return None if index is None else self.records[index]

    def add(self, info: JobInfo) -> JobRecord | None:
        """Run a Job in the engine (once); None when it carries no valid work."""
        known = self.job(info.key)
        if known is not None and known.info is not None and known.info.uid == info.uid:
            return known
        if known is not None:
            self.remove(info.key)  # same name, a new Job
        if info.spec is None:
            return None
        spec = JobSpec(**{**info.spec.__dict__, "namespace": info.namespace})
        index = self.engine.add_job(spec, key=f"{info.namespace}/{info.name}/{info.uid}")
        never = self.engine.job_never_fits[index]
        if never is not None and self.event is not None:
            reference = {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
            }
            self.event(reference, "Warning", NEVER_FITS_REASON, f"can never run: {never}")
        record = JobRecord(index, info)
        record.written = info.progress
        self._load_history(record, info)
        self.records[index] = record
        self.by_key[info.key] = index
        return record

    def add_bare_pod(self, pod: PodInfo) -> JobRecord:
        key = (pod.namespace, f"{POD_JOB_PREFIX}:{pod.name}")
        known = self.job(key)
        if known is not None:
            return known
        index = self.engine.add_job(
            bare_pod_spec(pod), key=f"{POD_JOB_PREFIX}/{pod.namespace}/{pod.name}/{pod.uid}"
        )
        record = JobRecord(index, None, pod_key=(pod.namespace, pod.name))
        self.records[index] = record
        self.by_key[key] = index
        return record

    def remove(self, key: tuple[str, str]) -> None:
        index = self.by_key.pop(key, None)
        if index is not None:
            self.engine.remove_job(index)
            self.records.pop(index, None)

    def _load_history(self, record: JobRecord, info: JobInfo) -> None:
        if not info.progress:
            return
        try:
            data = json.loads(info.progress)
        except ValueError:
            return
        if data.get("uid") not in (None, info.uid):
            return
        record.history = list(data.get("history") or [])
        record.lost_gpu_seconds = float(data.get("lostGpuSeconds", 0.0))
        record.failed_pods = int(data.get("failedPods", 0))
        record.start_time = data.get("startTime")

    # -- stories ---------------------------------------------------------------------------

    def started(self, decision: PodStarted) -> None:
        record = self.records.get(decision.job)
        if record is None:
            return
        if record.start_time is None:
            record.start_time = self.wall_text()
        record.dirty = True

    def ended(self, decision: PodEnded, name: str | None, sim_time: Callable[[float], str]) -> None:
        record = self.records.get(decision.job)
        if record is None:
            return
        record.lost_gpu_seconds += decision.lost_gpu_seconds
        if not decision.succeeded:
            record.failed_pods += 1
        record.history.append(
            {
                "unit": record.unit_key(decision.unit),
                "pod": name,
                "node": self.engine.names[decision.sat],
                "started": sim_time(decision.started_at_seconds),
                "from": round(decision.from_gpu_seconds, 3),
                "to": round(decision.progress_gpu_seconds, 3),
                "lost": round(decision.lost_gpu_seconds, 3),
                "ended": decision.reason.status_reason,
                "at": sim_time(decision.at_seconds),
            }
        )
        del record.history[:-HISTORY_LIMIT]
        record.dirty = True

    def annotation(self, record: JobRecord, pod_names: dict[int, str]) -> str:
        """The progress annotation of a Job, from the engine's units."""
        e = self.engine
        units = e.units_of(record.index)
        done = units[e.unit_done[units]]
        live: dict[int, int] = {
            int(e.slot_unit[slot]): int(e.slot_pod[slot]) for slot in e.pod_slot.values()
        }
        open_units = {}
        for u in units[~e.unit_done[units]]:
            u = int(u)
            entry: dict[str, Any] = {
                "checkpoint": round(float(e.unit_checkpoint[u]), 3),
                "progress": round(float(e.unit_progress[u]), 3),
            }
            pod = live.get(u)
            if pod is not None:
                entry["pod"] = pod_names.get(pod)
                entry["node"] = e.names[e.pod_sat(pod)]
            if entry["checkpoint"] > 0 or pod is not None:
                open_units[record.unit_key(int(e.unit_index[u]))] = entry
        data = {
            "uid": record.info.uid if record.info else None,
            "done": int(done.size),
            "doneGpuSeconds": round(float(e.unit_progress[done].sum()), 3),
            "lostGpuSeconds": round(record.lost_gpu_seconds, 3),
            "failedPods": record.failed_pods,
            "startTime": record.start_time,
            "units": open_units,
            "history": record.history,
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    def write_changed(self, pod_names: dict[int, str], wall_s: float, final: bool = False) -> None:
        """Patch the annotation of every Job whose progress changed, each at most every
        few wall seconds (`final`: now, whatever the last write)."""
        for record in self.records.values():
            if record.info is None:
                continue
            complete = bool(self.engine.job_complete[record.index])
            gap = MANAGED_WRITE_SECONDS if record.info.managed else BUILTIN_WRITE_SECONDS
            if wall_s - record.last_write < gap and not (final or (complete and record.dirty)):
                continue
            record.dirty = False
            text = self.annotation(record, pod_names)
            if text == record.written:
                continue
            record.written = text
            record.last_write = wall_s
            namespace, name = record.info.key
            patch = {"metadata": {"annotations": {PROGRESS_ANNOTATION: text}}}

            def done(_: Any, error: BaseException | None, record: JobRecord = record) -> None:
                if error is not None and status_of(error) != 404:
                    record.written = None
                    record.dirty = True

            self.api.submit(
                ("job-progress", namespace, name),
                "patch",
                "jobs",
                functools.partial(self.api.batch.patch_namespaced_job, name, namespace, patch),
                priority=NORMAL,
                on_done=done,
            )
