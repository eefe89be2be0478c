"""The accounting phase: each open Job's step computed, checkpointed or waited (the Job
report's clock)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.slot_state import FREE
from kubesat.engine.state import FleetState


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
    for job, step in s.gang_steps.items():
        s.job_clock.step_seconds[job] = step.seconds
