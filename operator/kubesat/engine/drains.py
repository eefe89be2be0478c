"""The drain phase: the policy's drain plugins say which pods leave (with a checkpoint)
and why; evictions honour PodDisruptionBudgets, and a gang drains whole.

Order within the step: pod drains (a link-bound pod before loss of signal), the
policy's checkpoint plugins, then its keep plugin: per satellite, the busy GPUs beyond
what it may keep drain, cheapest first (least work since the last checkpoint).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView, runway_with
from kubesat.engine.events import Eviction, EvictionReason, EvictionRefused
from kubesat.engine.plugins.framework import FleetNow
from kubesat.engine.slot_state import DRAINING, FREE, RESTORING, RUNNING, WRITING
from kubesat.engine.state import FleetState


def drain_step(s: FleetState, view: FleetView) -> None:
    """The policy's drains for this step (none without drain plugins)."""
    if not s.plugins.drains:
        return
    # the budgets' live counts, once for the step (only budgets read them)
    s.live_count = live_by_job(s) if s.budgets else None
    try:
        drain_pods(s, view)
    finally:
        s.live_count = None


def drain_pods(s: FleetState, view: FleetView) -> None:
    policy = s.plugins
    fleet = FleetNow(s.power, view)
    for pod_drain in policy.pod_drains:
        for slot, reason, runway in pod_drain.evictions(s, fleet):
            evict(s, slot, reason, runway)
    for checkpoint in policy.checkpoints:
        due = checkpoint.due(s)
        s.slot_state[due] = WRITING
        s.slot_left[due] = s.write[s.slot_job[due]]
    if policy.keep is None:
        return
    lead = drain_lead_seconds(s)
    keep = policy.keep.keep(fleet, lead)
    draining_state = s.slot_state == DRAINING
    draining = np.zeros(s.n, np.int64)
    np.add.at(draining, s.slot_sat[draining_state], s.slot_gpus[draining_state])
    excess = view.busy_gpus - draining - keep
    busy_after = view.busy_gpus - draining
    over = np.flatnonzero(excess > 0)
    if not over.size:
        return
    reasons = policy.keep.reasons(fleet, lead, over, busy_after)
    # the runway each eviction reports: of the GPUs busy now, for all at once
    runways = runway_with(s.power, view, view.busy_gpus)[over]
    for sat, reason, runway in zip(over, reasons, runways, strict=True):
        slots = [
            int(slot)
            for slot in np.unique(s.gpu_owner[sat][s.gpu_owner[sat] >= 0])
            if s.slot_state[slot] != DRAINING
        ]
        # cheapest first: least work since the last checkpoint
        slots.sort(key=lambda slot: (s.slot_since[slot], s.slot_pod[slot]))
        for slot in slots:
            # a gang drained whole frees members here and on other satellites
            if drained_since(s, int(sat), int(draining[sat])) >= excess[sat]:
                break
            if s.slot_state[slot] != DRAINING:
                evict(s, slot, reason, float(runway))


def drain_lead_seconds(s: FleetState) -> NDArray[np.float64]:
    """Per satellite, how long before its runway ends a pod must be told to go: the
    longest checkpoint write of its pods, the margin and one step of reaction."""
    lead = np.zeros(s.n)
    live = s.slot_state != FREE
    if live.any():
        np.maximum.at(lead, s.slot_sat[live], s.write[s.slot_job[live]])
    return lead + s.config.margin_seconds + s.dt


def drained_since(s: FleetState, sat: int, before: int) -> int:
    """GPUs of `sat` draining now beyond the `before` that were draining already (a
    pod's slot owns its GPUs on its satellite until it ends)."""
    owners = s.gpu_owner[sat]
    return int(np.count_nonzero(s.slot_state[owners[owners >= 0]] == DRAINING)) - before


def budget_refuses(s: FleetState, job: int) -> str | None:
    """None when evicting a pod of `job` keeps every PodDisruptionBudget; else its name."""
    for budget, jobs in zip(s.budgets, s.budget_jobs, strict=True):
        if job not in jobs:
            continue
        healthy = int(live_by_job(s)[jobs].sum())
        expected = sum(
            min(s.jobs[j].parallelism, s.jobs[j].completions) for j in jobs if s.job_active[j]
        )
        if budget.allowed_disruptions(healthy, expected) < 1:
            return budget.name
    return None


def live_by_job(s: FleetState) -> NDArray[np.int64]:
    """Live pods (restoring, running, writing) per Job: the drain step's count, kept up
    to date by its evictions (nothing else changes a pod's state meanwhile), or now."""
    if s.live_count is not None:
        return s.live_count
    live = s.live_slots() & (s.slot_job >= 0)
    return np.bincount(s.slot_job[live], minlength=len(s.jobs)).astype(np.int64)


def drain(s: FleetState, slot: int) -> None:
    """Stop after writing a checkpoint (the grace period stands for the write)."""
    state = s.slot_state[slot]
    if state == RESTORING:
        s.slot_left[slot] = 0.0  # nothing new to save: the restored checkpoint stands
    elif state == RUNNING:
        s.slot_left[slot] = s.write[s.slot_job[slot]]
    # a write in progress (WRITING) completes within the grace period
    s.slot_state[slot] = DRAINING


def evict(s: FleetState, slot: int, reason: EvictionReason, runway: float) -> bool:
    """Eviction: refused while a PodDisruptionBudget allows no disruption."""
    job = int(s.slot_job[slot])
    refused_by = budget_refuses(s, job)
    pod = int(s.slot_pod[slot])
    sat = int(s.slot_sat[slot])
    if refused_by is not None:
        s.counters.refused_evictions += 1
        s.decisions.append(EvictionRefused(pod, job, sat, refused_by, s.now))
        return False
    for member in members(s, slot):
        if s.live_count is not None and RESTORING <= s.slot_state[member] <= WRITING:
            s.live_count[job] -= 1
        drain(s, member)
        s.slot_evicted[member] = True
        s.counters.add(s.counters.evictions, reason.value)
        s.decisions.append(
            Eviction(
                int(s.slot_pod[member]),
                job,
                int(s.slot_sat[member]),
                reason,
                float(s.write[job]),
                runway,
                s.now,
            )
        )
    return True


def members(s: FleetState, slot: int) -> list[int]:
    """The slot, or with a gang every live member of its gang (they checkpoint and
    move together)."""
    job = int(s.slot_job[slot])
    if not s.job_gang[job]:
        return [slot]
    live = (s.slot_job == job) & (s.slot_state != FREE) & (s.slot_state != DRAINING)
    return sorted({slot, *(int(other) for other in np.flatnonzero(live))})


def stop(s: FleetState, pod: int) -> None:
    """Deletion requested (a user, a controller): write a checkpoint, then stop."""
    slot = s.pod_slot.get(pod)
    if slot is not None and s.slot_state[slot] != DRAINING:
        for member in members(s, slot):
            drain(s, member)
