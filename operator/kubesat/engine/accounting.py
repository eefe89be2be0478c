"""The accounting phase: each open Job's step computed, checkpointed or waited (the Job
report's clock)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.config import JobController
from kubesat.engine.slot_state import FREE
from kubesat.engine.state import FleetState
from kubesat.engine.waiting import NOT_WAITING, WaitReason


def account(
    s: FleetState,
    computing_jobs: NDArray[np.int64],
    computing_factor: NDArray[np.float64],
    checkpointing_jobs: NDArray[np.int64],
) -> None:
    """The Job report's step: each open Job computed, checkpointed or waited."""
    jobs = len(s.jobs)
    if jobs == 0:
        return
    fraction = np.zeros(jobs)
    np.maximum.at(fraction, computing_jobs, computing_factor)
    checkpointing = np.bincount(checkpointing_jobs, minlength=jobs)[:jobs] > 0
    live = s.slot_state != FREE
    held = np.bincount(
        s.slot_job[live], weights=s.slot_gpus[live].astype(np.float64), minlength=jobs
    )[:jobs].astype(np.float64)
    open_jobs = s.job_active & ~s.job_complete & ~s.job_failed
    s.job_clock.account(open_jobs, fraction, checkpointing, held, s.dt)
    s.job_clock.wait(open_jobs & ~(fraction > 0) & ~checkpointing, wait_reasons(s), s.dt)
    s.job_clock.reach(open_jobs, reach_gpus(s), s.dt)
    for job, step in s.gang_steps.items():
        s.job_clock.step_seconds[job] = step.seconds


def wait_reasons(s: FleetState) -> NDArray[np.int64]:
    """Per Job, why it waits this step: what placement found, else its backoff or who
    places its pods; a Job that can never fit says so whatever else held it."""
    reasons = s.job_wait.copy()
    unset = reasons == NOT_WAITING
    reasons[unset & (s.now < s.job_not_before)] = WaitReason.BACKOFF
    for job, spec in enumerate(s.jobs):
        if s.job_never_fits[job] is not None:
            reasons[job] = WaitReason.NEVER_FITS
        elif reasons[job] != NOT_WAITING:
            continue
        elif not spec.tolerates_satellites or (
            s.job_controller[job] is JobController.BUILTIN and not s.config.places_builtin_pods
        ):
            reasons[job] = WaitReason.SCHEDULER
        else:
            reasons[job] = WaitReason.CAPACITY
    return reasons


def reach_gpus(s: FleetState) -> NDArray[np.float64]:
    """Per Job, the most GPUs it could compute on this step whatever the schedule: its
    parallelism (a gang: every member) of its unfinished units, its pods' GPUs each;
    none for a Job whose pods can never fit. The achievable bound sums it over steps."""
    done = s.unit_done
    left = [span.stop - span.start - int(np.count_nonzero(done[span])) for span in s.job_units]
    return np.minimum(s.job_reach_pods, np.asarray(left, np.int64)) * s.job_pod_gpus
