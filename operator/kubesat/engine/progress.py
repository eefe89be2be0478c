"""The progress phase: restores and checkpoint writes count down, running pods compute
(a gang only with every member running and linked), periodic checkpoints fall due, and
finished work completes its pod."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from kubesat.core.gangs import gang_step
from kubesat.engine.accounting import account
from kubesat.engine.events import EndReason
from kubesat.engine.lifecycle import end
from kubesat.engine.slot_state import DRAINING, FREE, RESTORING, RUNNING, WRITING
from kubesat.engine.state import EPSILON, FleetState


def progress_step(s: FleetState) -> None:
    """Every pod's step of work, checkpoints and ends, and the Job report's step."""
    if not s.pod_slot:
        s.gang_steps = {}
        account(s, np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.bool_))
        return  # no pod runs: nothing progresses
    dt = s.dt
    state = s.slot_state
    # restores and checkpoint writes count down; finished writes become checkpoints
    counting = (state == RESTORING) | (state == WRITING) | (state == DRAINING)
    counted_jobs = s.slot_job[counting]
    s.slot_left[counting] -= dt
    done = counting & (s.slot_left <= EPSILON)
    for slot in np.flatnonzero(done & (state == WRITING)):
        unit = s.slot_unit[slot]
        s.unit_checkpoint[unit] = s.unit_progress[unit]
        s.slot_since[slot] = 0.0
        state[slot] = RUNNING
    state[done & (state == RESTORING)] = RUNNING
    for slot in np.flatnonzero(done & (state == DRAINING)):
        end(s, int(slot), EndReason.CHECKPOINTED)
    running = (state == RUNNING) & ~done
    factor = gang_factors(s, running)
    running &= factor > 0  # a gang computes only with every member running and linked
    account(s, s.slot_job[running], factor[running], counted_jobs)
    units = s.slot_unit[running]
    s.unit_progress[units] += s.slot_gpus[running] * dt * factor[running]
    s.slot_since[running] += dt
    jobs = s.slot_job[running]
    finished = s.unit_progress[units] >= s.work[jobs] - EPSILON
    for slot in np.flatnonzero(running)[finished]:
        if s.slot_state[slot] != FREE:
            end(s, int(slot), EndReason.COMPLETED)
    due = running.copy()
    due[np.flatnonzero(running)[finished]] = False
    due &= s.slot_state == RUNNING
    due &= s.slot_since >= s.interval[np.maximum(s.slot_job, 0)] - EPSILON
    state[due] = WRITING
    s.slot_left[due] = s.write[s.slot_job[due]]


def gang_factors(s: FleetState, running: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Per slot, the share of this step that is useful compute: 1 for a lone pod; for a
    gang's members, compute / (compute + gradient exchange) while every member runs
    and the links join them, else 0 (they wait)."""
    factor = np.ones(running.size)
    s.gang_steps = {}
    if not s.job_gang.any():
        return factor
    live = s.slot_state != FREE
    gang_slots = live & s.job_gang[np.maximum(s.slot_job, 0)]
    for job in np.unique(s.slot_job[gang_slots]):
        spec = s.jobs[int(job)]
        slots = np.flatnonzero((s.slot_job == job) & live)
        if slots.size < spec.completions or not running[slots].all():
            factor[slots] = 0.0
            continue
        ring = s.slot_sat[slots[np.argsort(s.unit_index[s.slot_unit[slots]])]]
        step = gang_step(
            ring,
            spec.compute_seconds_per_step,
            spec.gradient_bytes_per_step,
            s.links,
            s.config.links,
            s.n,
        )
        s.gang_steps[int(job)] = step
        factor[slots] = step.compute_fraction
    return factor
