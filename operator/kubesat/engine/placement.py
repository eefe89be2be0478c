"""The placement phase: the Job controller and the scheduler in one. Pending units of the
Jobs the engine controls become pods on the satellites the policy's filters let
through, as many as its caps allow, best scored first; gangs go first (`gangs`)."""

from __future__ import annotations

import numpy as np

from kubesat.core.policy import FleetView
from kubesat.engine.capacity import placements, with_gpus
from kubesat.engine.config import JobController
from kubesat.engine.gangs import place_gang
from kubesat.engine.lifecycle import start
from kubesat.engine.plugins.framework import FleetNow, PodShape
from kubesat.engine.state import FleetState
from kubesat.engine.waiting import NOT_WAITING, binding_reason


def placeable_jobs(s: FleetState) -> list[int]:
    """Jobs whose pods the engine creates now (open, past their backoff, on satellites)."""
    out = []
    for job, spec in enumerate(s.jobs):
        if not s.job_active[job] or s.job_failed[job] or s.job_complete[job]:
            continue
        if not spec.tolerates_satellites or s.now < s.job_not_before[job]:
            continue
        controller = s.job_controller[job]
        if controller is JobController.BUILTIN and not s.config.places_builtin_pods:
            continue
        out.append(job)
    return out


def place_step(s: FleetState, view: FleetView) -> None:
    """Job controller plus scheduler: pending units become pods on satellites."""
    pending: dict[PodShape, list[int]] = {}
    shape_jobs: dict[PodShape, list[int]] = {}  # the Jobs whose units wait in each shape
    free = view.free_gpus.copy()
    busy = view.busy_gpus.copy()
    reserved = np.zeros(s.n, np.bool_)  # kept free for waiting gangs
    s.job_wait[:] = NOT_WAITING
    for job in placeable_jobs(s):
        spec = s.jobs[job]
        if spec.gang:
            reserved |= place_gang(s, job, view, free, busy, reserved)
            continue
        room = spec.parallelism - int(s.job_running[job])
        if room <= 0:
            continue
        units = s.pending_units(job, room)
        if units.size:
            contact = s.required_contact(job) if spec.needs_ground_link else 0.0
            shape = PodShape(
                spec.gpus_per_pod, spec.needs_ground_link, s.required_runway(job), contact
            )
            pending.setdefault(shape, []).extend(units.tolist())
            shape_jobs.setdefault(shape, []).append(job)
    if not pending:
        return
    # the policy's reserve keeps room for larger pods that will need a satellite soon
    policy = s.plugins
    reserve = policy.reserve
    soon = reserve.draining(s) if reserve is not None else {}
    fleet = FleetNow(s.power, view)
    for shape, waiting in sorted(pending.items(), key=lambda kv: -kv[0].gpus):
        gpus = shape.gpus
        if reserve is not None:
            held = reserve.held(policy.filters, policy.node_filters, fleet, free, busy, gpus, soon)
            free -= held
        allowed = ~reserved if reserved.any() else None
        targets = placements(s, with_gpus(s, view, free, busy), shape, len(waiting), allowed)
        if reserve is not None:
            free += held
        for unit, sat in zip(waiting, targets, strict=False):
            start(s, unit, int(sat), s.free_gpu_slots(int(sat))[:gpus], None)
            free[sat] -= gpus
            busy[sat] += gpus
        if len(waiting) > len(targets):
            # why, for the Jobs left with no pod at all (the others do not wait this step)
            idle = [job for job in shape_jobs[shape] if s.job_running[job] == 0]
            if idle:
                fleet_now = with_gpus(s, view, free, busy)
                s.job_wait[idle] = binding_reason(s.plugins, fleet_now, shape, allowed)
            if reserve is not None:
                reserve.unplaced(soon, gpus, len(waiting) - len(targets), shape.runway_seconds)
