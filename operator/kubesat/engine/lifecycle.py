"""A pod's life in the engine: it starts, it ends, and its Job reacts. Every phase calls
these; they are the only code that fills or frees a slot.

The recursion is explicit and bounded: `end` of a gang member for a reason in
`GANG_BREAKING` ends the gang's other members with `GANG_RESTART` (which does not break a
gang again), and `fail_job` ends a failed Job's pods with `JOB_FAILED` (which does not
count toward the Job again), so neither calls itself more than one level deep.
"""

from __future__ import annotations

import heapq
from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.workloads import backoff_seconds
from kubesat.engine.config import JobController
from kubesat.engine.events import EndReason, JobFinished, PodEnded, PodStarted
from kubesat.engine.slot_state import FREE, RESTORING, RUNNING
from kubesat.engine.state import NO_POD, FleetState

# ends that take a member from a running gang (the others stop with it)
GANG_BREAKING: Final = frozenset(
    {
        EndReason.POWER_LOST,
        EndReason.SEFI,
        EndReason.LATCHUP,
        EndReason.OVERHEATED,
        EndReason.DELETED,
    }
)


def start(
    s: FleetState,
    unit: int,
    sat: int,
    gpu_slots: NDArray[np.int64],
    pod: int | None,
    slot: int | None = None,
) -> int:
    """A pod of `unit` starts on `sat`'s GPUs `gpu_slots` (in `slot` when a restored pod
    takes back its own); it resumes from the unit's checkpoint. Returns its pod id."""
    if slot is not None and slot >= s.slot_state.size:
        s.grow_slots(max(slot + 1, 2 * s.slot_state.size))
    if slot is not None and slot in s.free_slots:
        s.free_slots.remove(slot)  # a restored pod takes back its slot
        heapq.heapify(s.free_slots)
    else:
        if not s.free_slots:
            s.grow_slots(2 * s.slot_state.size)
        slot = heapq.heappop(s.free_slots)
    job = int(s.unit_job[unit])
    pod_id = s.next_pod if pod is None else pod
    s.next_pod = max(s.next_pod, pod_id + 1)
    s.slot_unit[slot] = unit
    s.slot_sat[slot] = sat
    s.slot_job[slot] = job
    s.slot_gpus[slot] = gpu_slots.size
    s.slot_pod[slot] = pod_id
    s.slot_evicted[slot] = False
    s.slot_started[slot] = s.now
    s.slot_from[slot] = s.unit_checkpoint[unit]
    s.pod_slot[pod_id] = slot
    s.gpu_owner[sat, gpu_slots] = slot
    resuming = s.unit_checkpoint[unit] > 0
    s.slot_state[slot] = RESTORING if resuming else RUNNING
    s.slot_left[slot] = s.write[job] if resuming else 0.0
    s.slot_since[slot] = 0.0
    s.unit_progress[unit] = s.unit_checkpoint[unit]
    s.unit_running[unit] = True
    s.job_running[job] += 1
    s.counters.pods_started += 1
    s.decisions.append(
        PodStarted(
            pod_id,
            job,
            int(s.unit_index[unit]),
            int(s.unit_attempts[unit]),
            sat,
            int(gpu_slots.size),
            float(s.unit_checkpoint[unit]),
            s.now,
        )
    )
    s.unit_attempts[unit] += 1
    return pod_id


def release(s: FleetState, slot: int) -> None:
    """The slot's GPUs and the slot itself are free again."""
    sat = s.slot_sat[slot]
    s.gpu_owner[sat][s.gpu_owner[sat] == slot] = NO_POD
    unit = s.slot_unit[slot]
    s.unit_running[unit] = False
    s.job_running[s.slot_job[slot]] -= 1
    s.pod_slot.pop(int(s.slot_pod[slot]), None)
    s.slot_state[slot] = FREE
    s.slot_unit[slot] = NO_POD
    s.slot_sat[slot] = NO_POD
    s.slot_pod[slot] = NO_POD
    heapq.heappush(s.free_slots, int(slot))


def end(
    s: FleetState, slot: int, reason: EndReason, count: bool = True, gpu: int | None = None
) -> PodEnded:
    """A pod stops: work since the last checkpoint is kept (checkpointed, done) or lost.
    A gang member broken by `reason` stops its gang; with `count`, its Job reacts."""
    unit = int(s.slot_unit[slot])
    job = int(s.slot_job[slot])
    lost = 0.0
    if reason is EndReason.COMPLETED:
        s.unit_progress[unit] = s.unit_checkpoint[unit] = s.work[job]
        s.unit_done[unit] = True
        results = s.jobs[job].downlink_bytes
        if results > 0:  # the results wait on board for a contact
            sat = int(s.slot_sat[slot])
            s.downlink_queue[sat].append([job, unit, results, s.now])
            s.downlink_backlog_bytes[sat] += results
    elif reason is EndReason.CHECKPOINTED:
        s.unit_checkpoint[unit] = s.unit_progress[unit]
    else:
        lost = max(float(s.unit_progress[unit] - s.unit_checkpoint[unit]), 0.0)
        s.unit_progress[unit] = s.unit_checkpoint[unit]
        s.counters.lost_gpu_seconds += lost
    metric = reason.failure_metric
    if metric is not None and count:
        s.counters.add(s.counters.failures, metric)
    ended = PodEnded(
        int(s.slot_pod[slot]),
        job,
        int(s.unit_index[unit]),
        int(s.slot_sat[slot]),
        reason,
        float(s.unit_progress[unit]),
        lost,
        s.now,
        gpu,
        float(s.slot_started[slot]),
        float(s.slot_from[slot]),
    )
    evicted = bool(s.slot_evicted[slot])
    release(s, slot)
    s.decisions.append(ended)
    if s.job_gang[job] and s.job_active[job] and reason in GANG_BREAKING:
        restart_gang(s, job)
    if count:
        job_after_end(s, job, reason, evicted)
    return ended


def restart_gang(s: FleetState, job: int) -> None:
    """A collective cannot go on without a member: the others stop (GANG_RESTART, which
    breaks nothing further), and the gang restarts whole from its last checkpoint."""
    for other in s.slots_of(job):
        end(s, int(other), EndReason.GANG_RESTART, count=False)


def end_on_satellite(s: FleetState, sat: int, reason: EndReason) -> tuple[list[int], float]:
    """Every pod on `sat` ends for `reason`: their pod ids and the work they lost."""
    killed: list[int] = []
    lost = 0.0
    for slot in np.unique(s.gpu_owner[sat][s.gpu_owner[sat] >= 0]):
        if s.slot_state[slot] == FREE:
            continue  # a gang member stopped with another member
        ended = end(s, int(slot), reason)
        killed.append(ended.pod)
        lost += ended.lost_gpu_seconds
    return killed, lost


def job_after_end(s: FleetState, job: int, reason: EndReason, evicted: bool) -> None:
    """The Job controller's reaction to a pod's end: backoff, failure, completion."""
    spec = s.jobs[job]
    if reason is EndReason.COMPLETED:
        s.job_recent_failures[job] = 0
        if s.unit_done[s.job_units[job]].all() and not s.job_complete[job]:
            s.job_complete[job] = True
            s.job_clock.finished_at[job] = s.now + s.dt
            s.counters.jobs_completed += 1
            s.decisions.append(JobFinished(job, True, s.now))
        return
    ignored = reason.disruption and spec.ignores_disruptions
    if s.job_controller[job] is JobController.KUBESAT:
        # planned migrations and ignored disruptions are not failures of the Job
        if evicted or reason is EndReason.CHECKPOINTED or ignored:
            return
        s.job_failures[job] += 1
        s.job_recent_failures[job] += 1
        delay = backoff_seconds(int(s.job_recent_failures[job]))
    else:
        # the built-in controller delays every creation after any failed pod, in wall
        # time (kubernetes#130881), and counts toward backoffLimit what is not ignored
        s.job_recent_failures[job] += 1
        delay = backoff_seconds(int(s.job_recent_failures[job])) * s.config.speedup
        if not ignored:
            s.job_failures[job] += 1
    if s.job_failures[job] > spec.backoff_limit:
        fail_job(s, job)
    else:
        s.job_not_before[job] = max(s.job_not_before[job], s.now + delay)


def fail_job(s: FleetState, job: int) -> None:
    """BackoffLimitExceeded: the Job is Failed and its remaining pods are deleted (with
    JOB_FAILED, uncounted: the Job does not react to them again)."""
    if s.job_failed[job]:
        return
    s.job_failed[job] = True
    s.job_clock.finished_at[job] = s.now + s.dt
    s.counters.jobs_failed += 1
    for slot in s.slots_of(job):
        end(s, int(slot), EndReason.JOB_FAILED, count=False)
    s.decisions.append(JobFinished(job, False, s.now))
