"""Per-Job time accounting: how long a Job took (or will take) and where its time went.

Every step a Job that is not finished is in exactly one activity: computing (for a gang,
the share of the step its members compute), exchanging gradients (the rest of a gang's
training step), checkpointing (its pods restore or write, nothing computes) or waiting (no
pod runs; for a gang, a member is missing or the links between members are down). The
four add up to the Job's elapsed time, so the report's shares are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

NOT_YET: Final = math.nan
# why a Job waited (the order of `waiting.WaitReason`)
WAIT_NAMES: Final = (
    "never-fits",
    "capacity",
    "links",
    "power",
    "contact",
    "heat",
    "radiation",
    "backoff",
    "scheduler",
)


class Activity(IntEnum):
    """What a Job did during a step (columns of `JobClock.seconds`)."""

    COMPUTE = 0
    EXCHANGE = 1
    CHECKPOINT = 2
    WAIT = 3


ACTIVITY_NAMES: Final = ("compute", "exchange", "checkpoint", "wait")


@dataclass(frozen=True)
class JobStats:
    """One Job's report: its time to finish and where its time went."""

    name: str
    gang: bool
    members: int  # pods that run at once (a gang's size)
    gpus_per_pod: int
    finished: bool
    failed: bool
    elapsed_seconds: float  # since the Job arrived, to its end or to now
    finish_seconds: float | None  # simulated seconds from the Job's arrival to its end
    projected_finish_seconds: float | None  # unfinished: at the average rate so far
    progress_ratio: float  # useful work done / the Job's total work
    useful_gpu_seconds: float
    gpu_seconds_used: float  # GPU-seconds its pods held (running, writing, waiting)
    compute_seconds: float
    exchange_seconds: float
    checkpoint_seconds: float
    wait_seconds: float
    satellites: tuple[int, ...]  # where its pods run now (a gang: in ring order)
    step_seconds: float | None  # a running gang's training step (compute + exchange)
    # seconds waited, by reason (`waiting.WAIT_NAMES`; the reasons with any wait)
    waiting: dict[str, float] = field(default_factory=dict)
    # the most useful work any schedule could have given it so far: its parallelism's
    # GPUs over its open time, at most its demand (0 when its pods can never fit)
    achievable_gpu_seconds: float = 0.0
    never_fits: str | None = None  # why its pods can never run on this fleet

    def share(self, activity: Activity) -> float:
        """The fraction of the elapsed time spent in `activity`."""
        seconds = (
            self.compute_seconds,
            self.exchange_seconds,
            self.checkpoint_seconds,
            self.wait_seconds,
        )[activity]
        return seconds / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        """The `jobs: {NAME: ...}` entry of `kubesat simulate --json`."""
        return {
            "gang": self.gang,
            "members": self.members,
            "gpusPerPod": self.gpus_per_pod,
            "finished": self.finished,
            "failed": self.failed,
            "elapsedSeconds": self.elapsed_seconds,
            "finishSeconds": self.finish_seconds,
            "projectedFinishSeconds": self.projected_finish_seconds,
            "progressRatio": self.progress_ratio,
            "usefulGpuSeconds": self.useful_gpu_seconds,
            "gpuHoursUsed": self.gpu_seconds_used / 3600.0,
            "shares": {name: self.share(Activity(i)) for i, name in enumerate(ACTIVITY_NAMES)},
            "seconds": {
                "compute": self.compute_seconds,
                "exchange": self.exchange_seconds,
                "checkpoint": self.checkpoint_seconds,
                "wait": self.wait_seconds,
            },
            "satellites": list(self.satellites),
            "stepSeconds": self.step_seconds,
            "waiting": dict(self.waiting),
            "achievableGpuSeconds": self.achievable_gpu_seconds,
            **({"neverFits": self.never_fits} if self.never_fits else {}),
        }


class JobClock:
    """The accounting arrays of every Job the engine knows (grown as Jobs arrive)."""

    def __init__(self) -> None:
        self.arrived_at = np.zeros(0)
        self.finished_at = np.zeros(0)  # NaN until the Job ends
        self.seconds = np.zeros((0, len(Activity)))
        self.gpu_seconds = np.zeros(0)
        self.step_seconds = np.zeros(0)  # a gang's latest training step; NaN when idle
        self.waiting = np.zeros((0, len(WAIT_NAMES)))  # seconds waited, by reason
        self.reach_gpu_seconds = np.zeros(0)  # the most it could have computed so far

    def add(self, now: float) -> None:
        self.arrived_at = np.append(self.arrived_at, now)
        self.finished_at = np.append(self.finished_at, NOT_YET)
        self.seconds = np.vstack([self.seconds, np.zeros((1, len(Activity)))])
        self.gpu_seconds = np.append(self.gpu_seconds, 0.0)
        self.step_seconds = np.append(self.step_seconds, NOT_YET)
        self.waiting = np.vstack([self.waiting, np.zeros((1, len(WAIT_NAMES)))])
        self.reach_gpu_seconds = np.append(self.reach_gpu_seconds, 0.0)

    def account(
        self,
        open_jobs: NDArray[np.bool_],
        compute_fraction: NDArray[np.float64],
        checkpointing: NDArray[np.bool_],
        gpus_held: NDArray[np.float64],
        dt: float,
    ) -> None:
        """One step: open Jobs with a compute fraction > 0 computed (and exchanged the
        rest); else they checkpointed, or waited."""
        computing = open_jobs & (compute_fraction > 0)
        fraction = np.where(computing, compute_fraction, 0.0)
        self.seconds[:, Activity.COMPUTE] += fraction * dt
        self.seconds[:, Activity.EXCHANGE] += np.where(computing, 1.0 - fraction, 0.0) * dt
        writing = open_jobs & ~computing & checkpointing
        self.seconds[:, Activity.CHECKPOINT] += writing * dt
        self.seconds[:, Activity.WAIT] += (open_jobs & ~computing & ~checkpointing) * dt
        self.gpu_seconds += gpus_held * dt

    def wait(self, waiting: NDArray[np.bool_], reasons: NDArray[np.int64], dt: float) -> None:
        """One step of the Jobs `waiting`, each put down to its reason."""
        jobs = np.flatnonzero(waiting)
        self.waiting[jobs, reasons[jobs]] += dt

    def reach(self, open_jobs: NDArray[np.bool_], gpus: NDArray[np.float64], dt: float) -> None:
        """One step of the most each open Job could compute (`gpus` GPUs at once)."""
        self.reach_gpu_seconds += np.where(open_jobs, gpus, 0.0) * dt

    def to_state(self, job: int) -> dict[str, Any]:
        finished = float(self.finished_at[job])
        return {
            "arrivedAt": float(self.arrived_at[job]),
            "finishedAt": None if math.isnan(finished) else finished,
            "seconds": [float(v) for v in self.seconds[job]],
            "gpuSeconds": float(self.gpu_seconds[job]),
            "waiting": [float(v) for v in self.waiting[job]],
            "reachGpuSeconds": float(self.reach_gpu_seconds[job]),
        }

    def restore(self, job: int, saved: dict[str, Any]) -> None:
        self.arrived_at[job] = float(saved.get("arrivedAt", self.arrived_at[job]))
        finished = saved.get("finishedAt")
        self.finished_at[job] = NOT_YET if finished is None else float(finished)
        values = saved.get("seconds") or []
        for i, value in enumerate(values[: len(Activity)]):
            self.seconds[job, i] = float(value)
        self.gpu_seconds[job] = float(saved.get("gpuSeconds", 0.0))
        for i, value in enumerate((saved.get("waiting") or [])[: len(WAIT_NAMES)]):
            self.waiting[job, i] = float(value)
        self.reach_gpu_seconds[job] = float(saved.get("reachGpuSeconds", 0.0))


def projected_finish_seconds(
    elapsed_seconds: float, done_gpu_seconds: float, total_gpu_seconds: float
) -> float | None:
    """Elapsed time plus the remaining work at the average rate so far (None before any
    progress: nothing to project from)."""
    if done_gpu_seconds <= 0 or elapsed_seconds <= 0:
        return None
    rate = done_gpu_seconds / elapsed_seconds
    return elapsed_seconds + max(total_gpu_seconds - done_gpu_seconds, 0.0) / rate
