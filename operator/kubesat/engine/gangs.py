"""Gang placement: every member of a gang at once, where the policy allows and the laser
links carry its gradients best, or none of them; a waiting gang reserves satellites
and drains the single pods there, so it does not wait forever behind them."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from kubesat.core.gangs import GangStep
from kubesat.core.gangs import place_gang as place_ring
from kubesat.core.links import LinkState, link_state
from kubesat.core.policy import FleetView
from kubesat.engine.capacity import capacity_of, with_gpus
from kubesat.engine.drains import evict
from kubesat.engine.environment import Column
from kubesat.engine.events import EvictionReason, GangPlaced, GangWait, GangWaiting
from kubesat.engine.lifecycle import start
from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.slot_state import DRAINING, FREE
from kubesat.engine.state import FleetState
from kubesat.engine.waiting import WaitReason, binding_reason


def links_now(s: FleetState, column: Column) -> LinkState | None:
    """The laser links at this step, when there are links and a gang to use them."""
    settings, pairs = s.config.links, s.config.link_pairs
    if settings is None or pairs is None or column.position_km is None:
        return None
    if not (s.job_gang & s.job_active & ~s.job_complete).any():
        return None
    return link_state(column.position_km, pairs, settings)


def place_gang(
    s: FleetState,
    job: int,
    view: FleetView,
    free: NDArray[np.int64],
    busy: NDArray[np.int64],
    reserved: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Every member of a gang at once, or none of them (a `GangWaiting` says why, once
    per change). A gang that waits for room keeps the satellites it would take free of
    smaller pods (the mask returned), so the ends of their pods make room rather than
    others taking it."""
    spec = s.jobs[job]
    none = np.zeros(s.n, np.bool_)
    if s.job_running[job] > 0:
        return none  # members still draining or stopping: the gang restarts whole
    units = s.pending_units(job, spec.completions)
    if units.size < spec.completions:
        return none
    usable = np.where(reserved, 0, free)
    shape = PodShape(spec.gpus_per_pod, False, s.required_gang_runway(job))
    fleet = with_gpus(s, view, usable, busy)
    capacity, points = capacity_of(s, fleet, shape, None, every_score=True)
    placed = gang_ring(s, job, capacity, points)
    if placed is None:
        reason = GangWait.CAPACITY if int(capacity.sum()) < spec.completions else GangWait.LINKS
        if reason is GangWait.LINKS:
            s.job_wait[job] = WaitReason.LINKS
        else:
            s.job_wait[job] = binding_reason(s.plugins, fleet, shape, None)
        if s.gang_waiting.get(job) is not reason:
            s.gang_waiting[job] = reason
            s.decisions.append(
                GangWaiting(job, reason, spec.completions, int(capacity.sum()), s.now)
            )
        return gang_reservation(s, job, view, reserved)
    ring, step = placed
    s.gang_waiting.pop(job, None)
    s.gang_reserved.pop(job, None)
    gpus = spec.gpus_per_pod
    order = units[np.argsort(s.unit_index[units], kind="stable")]
    for unit, sat in zip(order, ring, strict=True):
        start(s, int(unit), int(sat), s.free_gpu_slots(int(sat))[:gpus], None)
        free[sat] -= gpus
        busy[sat] += gpus
    s.decisions.append(
        GangPlaced(job, tuple(int(sat) for sat in ring), step.seconds, step.exchange_seconds, s.now)
    )
    return none


def gang_ring(
    s: FleetState, job: int, capacity: NDArray[np.int64], points: NDArray[np.float64]
) -> tuple[NDArray[np.int64], GangStep] | None:
    """The satellites of the gang's ring (member order), or None when none carries it."""
    spec = s.jobs[job]
    return place_ring(
        spec.completions,
        capacity,
        points,
        s.config.gang_placement,
        spec.compute_seconds_per_step,
        spec.gradient_bytes_per_step,
        s.links,
        s.config.links,
    )


def gang_reservation(
    s: FleetState, job: int, view: FleetView, reserved: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """The satellites a waiting gang would take if no single pod held GPUs there (only
    gangs' members count as busy): kept for it, and the single pods there drain (with
    a checkpoint). Gangs go before single pods; the satellites kept last time come
    first, so a waiting gang does not drain the fleet one satellite after another."""
    spec = s.jobs[job]
    live = (s.slot_state != FREE) & (s.slot_job >= 0)
    live &= s.job_gang[np.maximum(s.slot_job, 0)]
    gang_busy = np.bincount(s.slot_sat[live], weights=s.slot_gpus[live], minlength=s.n).astype(
        np.int64
    )
    open_gpus = np.where(reserved, 0, np.maximum(s.healthy_gpus() - gang_busy, 0))
    shape = PodShape(spec.gpus_per_pod, False, s.required_gang_runway(job))
    fleet = with_gpus(s, view, open_gpus, gang_busy)
    capacity, points = capacity_of(s, fleet, shape, None, every_score=True)
    before = s.gang_reserved.get(job)
    if before is not None and points.size:
        points = points + before * (float(np.abs(points).max()) + 1.0)
    placed = gang_ring(s, job, capacity, points)
    mask = np.zeros(s.n, np.bool_)
    if placed is None:
        s.gang_reserved.pop(job, None)
        return mask
    mask[placed[0]] = True
    s.gang_reserved[job] = mask
    single = (s.slot_state != FREE) & (s.slot_state != DRAINING) & (s.slot_job >= 0)
    single &= ~s.job_gang[np.maximum(s.slot_job, 0)]
    for slot in np.flatnonzero(single & mask[np.maximum(s.slot_sat, 0)]):
        evict(s, int(slot), EvictionReason.GANG, math.inf)
    return mask
