"""The fleet engine: batteries, upsets, pods and Jobs of one constellation, one step at a time.

One step at time `now` (k x step seconds after the clock's start) does, in this order:
the radiation upsets drawn for [now, now + step); the policy's drains (evictions that
write a checkpoint, honouring PodDisruptionBudgets); pod creation and placement for the
Jobs the engine controls (the policy's filter and score); the power balance (a shortfall
sheds the GPUs and their pods die; the payload restarts once the battery recovers); the
pods' progress (restores, running, periodic checkpoints, drains ending, work done). Pods
live in slots (struct of arrays), so a step costs a few numpy operations however large the
fleet. Every decision is also recorded (`take_decisions`) for the shell to act on.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.gangs import GangStep, gang_step, place_gang
from kubesat.core.links import LinkState, link_state
from kubesat.core.policy import (
    FleetView,
    feasible,
    gpus_to_keep,
    max_gpus_with_runway,
    required_contact_seconds,
    required_runway_seconds,
    runway_table,
    runway_with,
    schedulable,
    score,
)
from kubesat.core.power import EnergyBound, bus_first_step
from kubesat.core.thermal import (
    HeatBound,
    heat_limit_w,
    heater_w,
    seconds_to_max_temperature,
    thermal_step,
)
from kubesat.core.upsets import UpsetEvents, UpsetKind
from kubesat.core.workloads import DisruptionBudget, JobSpec, backoff_seconds
from kubesat.engine.config import EngineConfig, JobController
from kubesat.engine.environment import Column
from kubesat.engine.events import (
    Decision,
    EndReason,
    Eviction,
    EvictionReason,
    EvictionRefused,
    GangPlaced,
    GangWait,
    GangWaiting,
    JobFinished,
    Notice,
    NoticeKind,
    PodEnded,
    PodStarted,
)
from kubesat.engine.job_stats import JobClock, JobStats, projected_finish_seconds
from kubesat.telemetry import UPSET_KINDS, FleetSnapshot

POWER_RECOVERY_FRACTION: Final = 0.05  # battery must climb 5% of capacity above its floor
STATE_VERSION: Final = 2
EPSILON: Final = 1e-9
NO_POD: Final = -1


class SlotState(IntEnum):
    """What a pod's simulated container is doing."""

    FREE = 0
    RESTORING = 1  # reading its last checkpoint (as long as a write)
    RUNNING = 2
    WRITING = 3  # writing a periodic checkpoint (GPUs busy, no progress)
    DRAINING = 4  # evicted or deleted: writing its last checkpoint, then it stops


# plain ints for the hot array comparisons (enum attribute lookups cost more than the step)
FREE, RESTORING, RUNNING, WRITING, DRAINING = (int(state) for state in SlotState)
LIVE_STATES: Final = (RESTORING, RUNNING, WRITING)
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


def count_per_row(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """True values per row of an (N, G) mask: `mask.sum(axis=1)`, summed over a transposed
    copy (numpy reduces a short trailing axis slowly; this is ~3x faster for G = 8)."""
    return np.asarray(np.ascontiguousarray(mask.T).sum(axis=0), dtype=np.int64)


@dataclass
class Counters:
    """Totals since the start of the run (durable across operator restarts)."""

    lost_gpu_seconds: float = 0.0
    evictions: dict[str, int] = field(default_factory=dict)
    refused_evictions: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    upsets: dict[str, int] = field(default_factory=dict)
    jobs_completed: int = 0
    jobs_failed: int = 0
    bound_gpu_seconds: float = 0.0
    pods_started: int = 0
    bus_brownout_seconds: float = 0.0  # satellite-seconds with the bus at the hard reserve
    bus_brownouts: int = 0  # times a satellite's bus browned out
    throttled_gpu_seconds: float = 0.0  # GPU capacity the radiator could not carry
    thermal_throttles: int = 0  # times a satellite started throttling
    heater_energy_j: float = 0.0  # drawn by heaters holding the minimum temperature
    downlinked_bytes: float = 0.0  # results brought to the ground
    results_landed: int = 0  # completions whose results reached the ground
    landed_latency_seconds: float = 0.0  # sum over them of completion to landing
    landed_latency_max_seconds: float = 0.0

    def add(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1


class FleetEngine:
    """The state of one constellation's satellites, Jobs and pods, and its step."""

    def __init__(
        self,
        config: EngineConfig,
        names: tuple[str, ...],
        planes: NDArray[np.int64] | None = None,
        constellation: str = "constellation",
    ) -> None:
        self.config = config
        self.power = config.power
        self.policy = config.policy
        self.names = names
        self.constellation = constellation
        n, g = len(names), config.power.gpus
        self.n, self.g = n, g
        self.dt = config.step_seconds
        self.planes = np.zeros(n, np.int64) if planes is None else np.asarray(planes, np.int64)
        self.k = 0
        # satellites
        self.soc = np.full(n, config.initial_state_of_charge * config.power.battery_wh)
        # (battery, time to shadow, shadow length) objects and the runway table of them
        self._runway_cache: tuple[tuple[NDArray[np.float64], ...], NDArray[np.float64]] | None
        self._runway_cache = None
        self.powered = np.ones(n, np.bool_)
        self.restart_pending = np.zeros(n, np.bool_)  # low-voltage disconnect, charging
        self.down_until = np.zeros(n)  # payload off until (latch-up, restart after a cutoff)
        self.bus_off_until = np.zeros(n)  # the whole satellite off (a latch-up power cycle)
        self.upset_until = np.zeros(n)  # recovering from an upset until
        self.upset_kind = np.zeros(n, np.int8)  # the upset that set upset_until
        self.gpu_broken_until = np.zeros((n, g))
        self.gpu_owner = np.full((n, g), NO_POD, np.int64)  # slot holding each GPU
        self.upsets_by_satellite = np.zeros((n, len(UPSET_KINDS)), np.int64)
        self.solar_energy_j = np.zeros(n)
        self.load_w = np.zeros(n)
        self.brownout = np.zeros(n, np.bool_)  # the bus is at the hard reserve, unserved
        self.brownout_seconds = np.zeros(n)  # per satellite, since the start
        # the proven energy bound of the steps so far (the goodput denominator)
        self.bound = EnergyBound.start(config.power, np.full(n, config.initial_state_of_charge))
        self.counters = Counters()
        # heat (spec.thermal): one lumped temperature per satellite
        self.thermal = config.thermal
        initial_k = self.thermal.initial_temperature_k if self.thermal is not None else 0.0
        self.temperature_k = np.full(n, initial_k)
        self.heat_bound = (
            HeatBound.start(self.thermal, self.temperature_k) if self.thermal else None
        )
        self.heat_limit_gpus = np.full(n, g, np.int64)  # GPUs the radiator carries now
        self.throttling = np.zeros(n, np.bool_)  # heat holds some GPUs off
        self.heat_rejected_j = np.zeros(n)  # radiated since the start, per satellite
        self.heater_w = np.zeros(n)
        # results waiting for a contact: per satellite, [job, unit, bytes left, done at]
        self.downlink_queue: list[list[list[float]]] = [[] for _ in range(n)]
        self.downlink_backlog_bytes = np.zeros(n)
        # jobs
        self.jobs: list[JobSpec] = []
        self.job_keys: list[str] = []
        self.job_controller: list[JobController] = []
        self.job_active = np.zeros(0, np.bool_)  # present (not removed)
        self.job_failures = np.zeros(0, np.int64)  # toward backoffLimit
        self.job_recent_failures = np.zeros(0, np.int64)  # toward the backoff delay
        self.job_not_before = np.zeros(0)
        self.job_failed = np.zeros(0, np.bool_)
        self.job_complete = np.zeros(0, np.bool_)
        self.job_running = np.zeros(0, np.int64)
        self.work = np.zeros(0)
        self.interval = np.zeros(0)
        self.write = np.zeros(0)
        self.job_gang = np.zeros(0, np.bool_)
        self.job_clock = JobClock()  # per-Job time accounting (the Job report)
        self.gang_waiting: dict[int, GangWait] = {}  # the last reason said, per gang
        # live pods per Job while a drain step runs (`_live_by_job`), else None
        self._live_count: NDArray[np.int64] | None = None
        self.gang_reserved: dict[int, NDArray[np.bool_]] = {}  # kept for a waiting gang
        self.gang_steps: dict[int, GangStep] = {}  # running gangs' step this step
        self.links: LinkState | None = None  # the laser links now (with gangs to run)
        self.flux: NDArray[np.float64] | None = None  # proton flux now (gangs' checkpoints)
        self.budgets: tuple[DisruptionBudget, ...] = ()
        self.budget_jobs: list[list[int]] = []  # per budget, the jobs it covers
        # work units: one per completion of each job
        self.unit_job = np.zeros(0, np.int64)
        self.unit_index = np.zeros(0, np.int64)
        self.unit_progress = np.zeros(0)
        self.unit_checkpoint = np.zeros(0)
        self.unit_done = np.zeros(0, np.bool_)
        self.unit_running = np.zeros(0, np.bool_)
        self.unit_attempts = np.zeros(0, np.int64)
        # each job's units are one contiguous run of the unit arrays (added together)
        self.job_units: list[slice] = []
        # pod slots
        self.slot_state = np.zeros(0, np.int8)
        self.slot_unit = np.zeros(0, np.int64)
        self.slot_job = np.zeros(0, np.int64)
        self.slot_sat = np.zeros(0, np.int64)
        self.slot_gpus = np.zeros(0, np.int64)
        self.slot_left = np.zeros(0)  # seconds left restoring / writing / draining
        self.slot_since = np.zeros(0)  # running seconds since the last checkpoint
        self.slot_pod = np.zeros(0, np.int64)  # the pod id in the slot
        self.slot_evicted = np.zeros(0, np.bool_)  # drained by the policy (not a deletion)
        self.slot_started = np.zeros(0)  # simulated seconds the pod started
        self.slot_from = np.zeros(0)  # the checkpoint (GPU-seconds) it started from
        self.free_slots: list[int] = []  # a heap: the lowest free slot is taken first
        self._grow_slots(max(n * max(g, 1), 1))
        self.pod_slot: dict[int, int] = {}
        self.pod_refs: dict[int, str] = {}  # shells' names for pods (durable)
        self.next_pod = 0
        self.decisions: list[Decision] = []

    # -- time -----------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated seconds since the clock's start."""
        return self.k * self.dt

    @property
    def ready(self) -> NDArray[np.bool_]:
        return (self.down_until <= self.now) & ~self.restart_pending

    @property
    def upset(self) -> NDArray[np.bool_]:
        return self.upset_until > self.now

    def take_decisions(self) -> list[Decision]:
        out, self.decisions = self.decisions, []
        return out

    # -- jobs -----------------------------------------------------------------------------

    def add_job(
        self, spec: JobSpec, key: str | None = None, controller: JobController | None = None
    ) -> int:
        """Register a Job (its units start with no work done); returns its index."""
        job = len(self.jobs)
        self.jobs.append(spec)
        self.job_keys.append(key or f"{spec.namespace}/{spec.name}")
        if controller is None:
            controller = JobController.KUBESAT if spec.managed else JobController.BUILTIN
        self.job_controller.append(controller)
        self.job_active = np.append(self.job_active, True)
        self.job_failures = np.append(self.job_failures, 0)
        self.job_recent_failures = np.append(self.job_recent_failures, 0)
        self.job_not_before = np.append(self.job_not_before, 0.0)
        self.job_failed = np.append(self.job_failed, False)
        self.job_complete = np.append(self.job_complete, False)
        self.job_running = np.append(self.job_running, 0)
        self.work = np.append(self.work, spec.work_gpu_seconds)
        self.interval = np.append(self.interval, spec.checkpoint_interval_seconds)
        self.write = np.append(self.write, spec.checkpoint_write_seconds)
        self.job_gang = np.append(self.job_gang, spec.gang)
        self.job_clock.add(self.now)
        units = spec.completions
        self.job_units.append(slice(self.unit_job.size, self.unit_job.size + units))
        self.unit_job = np.append(self.unit_job, np.full(units, job, np.int64))
        self.unit_index = np.append(self.unit_index, np.arange(units, dtype=np.int64))
        self.unit_progress = np.append(self.unit_progress, np.zeros(units))
        self.unit_checkpoint = np.append(self.unit_checkpoint, np.zeros(units))
        self.unit_done = np.append(self.unit_done, np.zeros(units, np.bool_))
        self.unit_running = np.append(self.unit_running, np.zeros(units, np.bool_))
        self.unit_attempts = np.append(self.unit_attempts, np.zeros(units, np.int64))
        self._match_budgets()
        return job

    def job_index(self, key: str) -> int | None:
        for job, known in enumerate(self.job_keys):
            if known == key and self.job_active[job]:
                return job
        return None

    def remove_job(self, job: int) -> None:
        """The Job is gone: its pods stop where they are (their work goes with the Job)."""
        self.job_active[job] = False
        for slot in np.flatnonzero((self.slot_job == job) & (self.slot_state != FREE)):
            self._end(int(slot), EndReason.DELETED, count=False)

    def set_budgets(self, budgets: tuple[DisruptionBudget, ...]) -> None:
        self.budgets = tuple(budgets)
        self._match_budgets()

    def _match_budgets(self) -> None:
        self.budget_jobs = [
            [j for j, spec in enumerate(self.jobs) if b.matches(spec.labels)] for b in self.budgets
        ]

    def _live_slots(self) -> NDArray[np.bool_]:
        """Slots in LIVE_STATES (restoring, running or writing: consecutive states)."""
        return (self.slot_state >= RESTORING) & (self.slot_state <= WRITING)

    def _units_of(self, job: int) -> NDArray[np.int64]:
        span = self.job_units[job]
        return np.arange(span.start, span.stop, dtype=np.int64)

    # -- views ----------------------------------------------------------------------------

    def busy_gpus(self) -> NDArray[np.int64]:
        return count_per_row(self.gpu_owner >= 0)

    def healthy_gpus(self) -> NDArray[np.int64]:
        return count_per_row(self.gpu_broken_until <= self.now)

    def free_gpus(self) -> NDArray[np.int64]:
        return count_per_row((self.gpu_broken_until <= self.now) & (self.gpu_owner < 0))

    def _runway_table(self, column: Column) -> NDArray[np.float64] | None:
        """The predictive policy's runway with 0..K GPUs busy on every satellite now (K:
        every GPU, plus the largest gang member when gangs run, whose placement scores
        full satellites too), kept while the battery and forecast are the same objects
        (the drain and the placement of one step share it)."""
        if self.policy != "predictive":
            return None
        inputs = (self.soc, column.seconds_to_shadow, column.shadow_seconds)
        most = self.g + max((spec.gpus_per_pod for spec in self.jobs if spec.gang), default=0)
        cached = self._runway_cache
        if (
            cached is not None
            and all(a is b for a, b in zip(cached[0], inputs, strict=True))
            and cached[1].shape[1] > most
        ):
            return cached[1]
        table = runway_table(self.power, *inputs, most)
        self._runway_cache = (inputs, table)
        return table

    def view(self, column: Column) -> FleetView:
        """What the policy sees of every satellite now."""
        busy = self.busy_gpus()
        free = self.free_gpus()
        if self.thermal is not None:
            # GPUs the radiator cannot carry are held off, as a hung GPU is
            free = np.minimum(free, np.maximum(self.heat_limit_gpus - busy, 0))
        return FleetView(
            illumination=column.illumination,
            soc_wh=self.soc.copy(),
            busy_gpus=busy,
            free_gpus=free,
            link=column.link,
            high_radiation=column.flux > self.config.saa_flux_threshold,
            seconds_to_shadow=column.seconds_to_shadow,
            shadow_seconds=column.shadow_seconds,
            powered=self.powered.copy(),
            ready=self.ready,
            upset=self.upset,
            thermal_seconds=self.thermal_forecast(),
            throttling=self.throttling.copy() if self.thermal is not None else None,
            contact_left_seconds=(
                None
                if column.contact_seconds is None
                else np.where(column.link, column.contact_seconds, 0.0)
            ),
            runway_by_gpus=self._runway_table(column),
        )

    def thermal_forecast(self) -> NDArray[np.float64] | None:
        """(N, gpus + 1): seconds until the maximum temperature with 0..gpus GPUs busy, in
        full sunlight (the hotter case) from each satellite's temperature now."""
        if self.thermal is None:
            return None
        p = self.power
        heat = (
            p.bus_power_w
            + np.arange(self.g + 1) * p.gpu_power_w
            + float(self.thermal.environment_w(1.0))
        )
        return seconds_to_max_temperature(self.thermal, self.temperature_k[:, None], heat[None, :])

    def required_contact(self, job: int) -> float:
        return required_contact_seconds(float(self.write[job]), self.config.margin_seconds)

    def required_runway(self, job: int) -> float:
        return required_runway_seconds(
            float(self.interval[job]), float(self.write[job]), self.config.margin_seconds
        )

    def required_gang_runway(self, job: int) -> float:
        """Runway a gang needs to start: its restore, a checkpoint write, the margin and
        one write's worth of compute. Less than a single pod needs: a waiting gang holds
        its satellites idle, so any run that saves a checkpoint shortens its time."""
        write = float(self.write[job])
        return 3.0 * write + self.config.margin_seconds

    # -- pods -----------------------------------------------------------------------------

    def _grow_slots(self, size: int) -> None:
        old = self.slot_state.size
        if size <= old:
            return

        def grow(values: NDArray[Any], fill: Any) -> NDArray[Any]:
            out = np.full(size, fill, values.dtype)
            out[:old] = values
            return out

        self.slot_state = grow(self.slot_state, FREE)
        self.slot_unit = grow(self.slot_unit, NO_POD)
        self.slot_job = grow(self.slot_job, NO_POD)
        self.slot_sat = grow(self.slot_sat, NO_POD)
        self.slot_gpus = grow(self.slot_gpus, 0)
        self.slot_left = grow(self.slot_left, 0.0)
        self.slot_since = grow(self.slot_since, 0.0)
        self.slot_pod = grow(self.slot_pod, NO_POD)
        self.slot_evicted = grow(self.slot_evicted, False)
        self.slot_started = grow(self.slot_started, 0.0)
        self.slot_from = grow(self.slot_from, 0.0)
        for slot in range(old, size):
            heapq.heappush(self.free_slots, slot)

    def _start(
        self,
        unit: int,
        sat: int,
        gpu_slots: NDArray[np.int64],
        pod: int | None,
        slot: int | None = None,
    ) -> int:
        if slot is not None and slot >= self.slot_state.size:
            self._grow_slots(max(slot + 1, 2 * self.slot_state.size))
        if slot is not None and slot in self.free_slots:
            self.free_slots.remove(slot)  # a restored pod takes back its slot
            heapq.heapify(self.free_slots)
        else:
            if not self.free_slots:
                self._grow_slots(2 * self.slot_state.size)
            slot = heapq.heappop(self.free_slots)
        job = int(self.unit_job[unit])
        pod_id = self.next_pod if pod is None else pod
        self.next_pod = max(self.next_pod, pod_id + 1)
        self.slot_unit[slot] = unit
        self.slot_sat[slot] = sat
        self.slot_job[slot] = job
        self.slot_gpus[slot] = gpu_slots.size
        self.slot_pod[slot] = pod_id
        self.slot_evicted[slot] = False
        self.slot_started[slot] = self.now
        self.slot_from[slot] = self.unit_checkpoint[unit]
        self.pod_slot[pod_id] = slot
        self.gpu_owner[sat, gpu_slots] = slot
        resuming = self.unit_checkpoint[unit] > 0
        self.slot_state[slot] = RESTORING if resuming else RUNNING
        self.slot_left[slot] = self.write[job] if resuming else 0.0
        self.slot_since[slot] = 0.0
        self.unit_progress[unit] = self.unit_checkpoint[unit]
        self.unit_running[unit] = True
        self.job_running[job] += 1
        self.counters.pods_started += 1
        self.decisions.append(
            PodStarted(
                pod_id,
                job,
                int(self.unit_index[unit]),
                int(self.unit_attempts[unit]),
                sat,
                int(gpu_slots.size),
                float(self.unit_checkpoint[unit]),
                self.now,
            )
        )
        self.unit_attempts[unit] += 1
        return pod_id

    def _release(self, slot: int) -> None:
        sat = self.slot_sat[slot]
        self.gpu_owner[sat][self.gpu_owner[sat] == slot] = NO_POD
        unit = self.slot_unit[slot]
        self.unit_running[unit] = False
        self.job_running[self.slot_job[slot]] -= 1
        self.pod_slot.pop(int(self.slot_pod[slot]), None)
        self.slot_state[slot] = FREE
        self.slot_unit[slot] = NO_POD
        self.slot_sat[slot] = NO_POD
        self.slot_pod[slot] = NO_POD
        heapq.heappush(self.free_slots, int(slot))

    def _end(
        self, slot: int, reason: EndReason, count: bool = True, gpu: int | None = None
    ) -> PodEnded:
        """A pod stops: work since the last checkpoint is kept (checkpointed, done) or lost."""
        unit = int(self.slot_unit[slot])
        job = int(self.slot_job[slot])
        lost = 0.0
        if reason is EndReason.COMPLETED:
            self.unit_progress[unit] = self.unit_checkpoint[unit] = self.work[job]
            self.unit_done[unit] = True
            results = self.jobs[job].downlink_bytes
            if results > 0:  # the results wait on board for a contact
                sat = int(self.slot_sat[slot])
                self.downlink_queue[sat].append([job, unit, results, self.now])
                self.downlink_backlog_bytes[sat] += results
        elif reason is EndReason.CHECKPOINTED:
            self.unit_checkpoint[unit] = self.unit_progress[unit]
        else:
            lost = max(float(self.unit_progress[unit] - self.unit_checkpoint[unit]), 0.0)
            self.unit_progress[unit] = self.unit_checkpoint[unit]
            self.counters.lost_gpu_seconds += lost
        metric = reason.failure_metric
        if metric is not None and count:
            self.counters.add(self.counters.failures, metric)
        ended = PodEnded(
            int(self.slot_pod[slot]),
            job,
            int(self.unit_index[unit]),
            int(self.slot_sat[slot]),
            reason,
            float(self.unit_progress[unit]),
            lost,
            self.now,
            gpu,
            float(self.slot_started[slot]),
            float(self.slot_from[slot]),
        )
        evicted = bool(self.slot_evicted[slot])
        self._release(slot)
        self.decisions.append(ended)
        if self.job_gang[job] and self.job_active[job] and reason in GANG_BREAKING:
            # a collective cannot go on without a member: the others stop, and the gang
            # restarts whole from its last checkpoint
            for other in np.flatnonzero((self.slot_job == job) & (self.slot_state != FREE)):
                self._end(int(other), EndReason.GANG_RESTART, count=False)
        if count:
            self._job_after_end(job, reason, evicted)
        return ended

    def _job_after_end(self, job: int, reason: EndReason, evicted: bool) -> None:
        """The Job controller's reaction to a pod's end: backoff, failure, completion."""
        spec = self.jobs[job]
        if reason is EndReason.COMPLETED:
            self.job_recent_failures[job] = 0
            if self.unit_done[self.job_units[job]].all() and not self.job_complete[job]:
                self.job_complete[job] = True
                self.job_clock.finished_at[job] = self.now + self.dt
                self.counters.jobs_completed += 1
                self.decisions.append(JobFinished(job, True, self.now))
            return
        ignored = reason.disruption and spec.ignores_disruptions
        if self.job_controller[job] is JobController.KUBESAT:
            # planned migrations and ignored disruptions are not failures of the Job
            if evicted or reason is EndReason.CHECKPOINTED or ignored:
                return
            self.job_failures[job] += 1
            self.job_recent_failures[job] += 1
            delay = backoff_seconds(int(self.job_recent_failures[job]))
        else:
            # the built-in controller delays every creation after any failed pod, in wall
            # time (kubernetes#130881), and counts toward backoffLimit what is not ignored
            self.job_recent_failures[job] += 1
            delay = backoff_seconds(int(self.job_recent_failures[job])) * self.config.speedup
            if not ignored:
                self.job_failures[job] += 1
        if self.job_failures[job] > spec.backoff_limit:
            self._fail_job(job)
        else:
            self.job_not_before[job] = max(self.job_not_before[job], self.now + delay)

    def _fail_job(self, job: int) -> None:
        """BackoffLimitExceeded: the Job is Failed and its remaining pods are deleted."""
        if self.job_failed[job]:
            return
        self.job_failed[job] = True
        self.job_clock.finished_at[job] = self.now + self.dt
        self.counters.jobs_failed += 1
        for slot in np.flatnonzero((self.slot_job == job) & (self.slot_state != FREE)):
            self._end(int(slot), EndReason.JOB_FAILED, count=False)
        self.decisions.append(JobFinished(job, False, self.now))

    def _budget_allows(self, job: int) -> str | None:
        """None when evicting a pod of `job` keeps every PodDisruptionBudget; else its name."""
        for budget, jobs in zip(self.budgets, self.budget_jobs, strict=True):
            if job not in jobs:
                continue
            healthy = int(self._live_by_job()[jobs].sum())
            expected = sum(
                min(self.jobs[j].parallelism, self.jobs[j].completions)
                for j in jobs
                if self.job_active[j]
            )
            if budget.allowed_disruptions(healthy, expected) < 1:
                return budget.name
        return None

    def _live_by_job(self) -> NDArray[np.int64]:
        """Live pods (restoring, running, writing) per Job: the drain step's count, kept up
        to date by its evictions (nothing else changes a pod's state meanwhile), or now."""
        if self._live_count is not None:
            return self._live_count
        live = self._live_slots() & (self.slot_job >= 0)
        return np.bincount(self.slot_job[live], minlength=len(self.jobs)).astype(np.int64)

    def _drain(self, slot: int) -> None:
        """Stop after writing a checkpoint (the grace period stands for the write)."""
        state = self.slot_state[slot]
        if state == RESTORING:
            self.slot_left[slot] = 0.0  # nothing new to save: the restored checkpoint stands
        elif state == RUNNING:
            self.slot_left[slot] = self.write[self.slot_job[slot]]
        # a write in progress (WRITING) completes within the grace period
        self.slot_state[slot] = DRAINING

    def _evict(self, slot: int, reason: EvictionReason, runway: float) -> bool:
        """Eviction: refused while a PodDisruptionBudget allows no disruption."""
        job = int(self.slot_job[slot])
        refused_by = self._budget_allows(job)
        pod = int(self.slot_pod[slot])
        sat = int(self.slot_sat[slot])
        if refused_by is not None:
            self.counters.refused_evictions += 1
            self.decisions.append(EvictionRefused(pod, job, sat, refused_by, self.now))
            return False
        for member in self._members(slot):
            if self._live_count is not None and RESTORING <= self.slot_state[member] <= WRITING:
                self._live_count[job] -= 1
            self._drain(member)
            self.slot_evicted[member] = True
            self.counters.add(self.counters.evictions, reason.value)
            self.decisions.append(
                Eviction(
                    int(self.slot_pod[member]),
                    job,
                    int(self.slot_sat[member]),
                    reason,
                    float(self.write[job]),
                    runway,
                    self.now,
                )
            )
        return True

    def _members(self, slot: int) -> list[int]:
        """The slot, or with a gang every live member of its gang (they checkpoint and
        move together)."""
        job = int(self.slot_job[slot])
        if not self.job_gang[job]:
            return [slot]
        live = (self.slot_job == job) & (self.slot_state != FREE) & (self.slot_state != DRAINING)
        return sorted({slot, *(int(s) for s in np.flatnonzero(live))})

    # -- inputs from a shell --------------------------------------------------------------

    def bind(self, job: int, sat: int, gpus: int, index: int | None = None) -> int | None:
        """A pod of `job` created and bound by someone else starts on `sat`; its pod id, or
        None when the satellite lacks the healthy GPUs or the Job has no unit left for it."""
        units = self._units_of(job)
        if index is not None:
            units = units[self.unit_index[units] == index]
        units = units[~self.unit_done[units] & ~self.unit_running[units]]
        if units.size == 0:
            return None
        # the unfinished unit with the most saved work (resumes the furthest)
        unit = int(units[np.argmax(self.unit_checkpoint[units])])
        healthy = np.flatnonzero(
            (self.gpu_owner[sat] < 0) & (self.gpu_broken_until[sat] <= self.now)
        )
        if healthy.size < gpus or not self.ready[sat]:
            return None
        return self._start(unit, sat, healthy[:gpus], None)

    def stop(self, pod: int) -> None:
        """Deletion requested (a user, a controller): write a checkpoint, then stop."""
        slot = self.pod_slot.get(pod)
        if slot is not None and self.slot_state[slot] != DRAINING:
            for member in self._members(slot):
                self._drain(member)

    def drop(self, pod: int) -> None:
        """The pod vanished without stopping (force-deleted): its work since the checkpoint
        is lost."""
        slot = self.pod_slot.get(pod)
        if slot is not None:
            self._end(slot, EndReason.DELETED)

    def inject_upset(self, sat: int, kind: UpsetKind, gpu: int | None = None) -> Notice:
        """An upset now, as if sampled (fault injection). Without a GPU: the first busy one."""
        if gpu is None:
            owners = np.flatnonzero(self.gpu_owner[sat] >= 0)
            gpu = int(owners[0]) if owners.size else 0
        return self._upset(sat, kind, gpu, self.now, injected=True)

    # -- the step -------------------------------------------------------------------------

    def step(self, column: Column, upsets: UpsetEvents) -> None:
        """Advance one step from `now` with the environment `column` and the upsets drawn
        for [now, now + step) (time-ordered)."""
        now = self.now
        for i in range(len(upsets)):
            self._upset(
                int(upsets.satellite[i]),
                UpsetKind(int(upsets.kind[i])),
                int(upsets.gpu[i]),
                now,
                injected=False,
            )
        self.links = self._links_now(column)
        self.flux = column.flux
        self._drain_step(self.view(column))
        self._place_step(self.view(column))
        self._power_step(column)
        self._progress_step()
        self._downlink_step(column)
        self.k += 1
        ended = (self.upset_until > now) & (self.upset_until <= self.now)
        for sat in np.flatnonzero(ended):
            self.decisions.append(Notice(NoticeKind.RECOVERED, int(sat), self.now))

    def _links_now(self, column: Column) -> LinkState | None:
        """The laser links at this step, when there are links and a gang to use them."""
        settings, pairs = self.config.links, self.config.link_pairs
        if settings is None or pairs is None or column.position_km is None:
            return None
        if not (self.job_gang & self.job_active & ~self.job_complete).any():
            return None
        return link_state(column.position_km, pairs, settings)

    def _upset(self, sat: int, kind: UpsetKind, gpu: int, now: float, injected: bool) -> Notice:
        name = UPSET_KINDS[kind]
        self.counters.add(self.counters.upsets, name)
        self.upsets_by_satellite[sat, kind] += 1
        killed: list[int] = []
        lost = 0.0
        if kind == UpsetKind.SEFI and self.g > 0:
            gpu = min(max(gpu, 0), self.g - 1)
            slot = int(self.gpu_owner[sat, gpu])
            if slot >= 0:
                ended = self._end(slot, EndReason.SEFI, gpu=gpu)
                killed.append(ended.pod)
                lost += ended.lost_gpu_seconds
            recovery = self.config.sefi_recovery_seconds
            self.gpu_broken_until[sat, gpu] = now + recovery
            if now + recovery > self.upset_until[sat]:
                self.upset_until[sat] = now + recovery
                self.upset_kind[sat] = kind
        elif kind == UpsetKind.LATCHUP:
            for slot in np.unique(self.gpu_owner[sat][self.gpu_owner[sat] >= 0]):
                if self.slot_state[slot] == FREE:
                    continue  # a gang member stopped with another member
                ended = self._end(int(slot), EndReason.LATCHUP)
                killed.append(ended.pod)
                lost += ended.lost_gpu_seconds
            self.down_until[sat] = max(
                self.down_until[sat], now + self.config.latchup_recovery_seconds
            )
            self.bus_off_until[sat] = max(
                self.bus_off_until[sat], now + self.config.latchup_recovery_seconds
            )
            if self.down_until[sat] >= self.upset_until[sat]:
                self.upset_until[sat] = self.down_until[sat]
                self.upset_kind[sat] = kind
        notice = Notice(
            NoticeKind.UPSET,
            sat,
            now,
            upset=name,
            gpu=gpu if kind == UpsetKind.SEFI else None,
            pods=tuple(killed),
            lost_gpu_seconds=lost,
            injected=injected,
        )
        self.decisions.append(notice)
        return notice

    def drain_lead_seconds(self) -> NDArray[np.float64]:
        """Per satellite, how long before its runway ends a pod must be told to go: the
        longest checkpoint write of its pods, the margin and one step of reaction."""
        lead = np.zeros(self.n)
        live = self.slot_state != FREE
        if live.any():
            np.maximum.at(lead, self.slot_sat[live], self.write[self.slot_job[live]])
        return lead + self.config.margin_seconds + self.dt

    def _drain_link_bound(self, view: FleetView) -> None:
        """Link-bound pods leave (checkpointed) before loss of signal: when the contact
        left is within their checkpoint write, the margin and one step of reaction."""
        if view.contact_left_seconds is None or not self.pod_slot:
            return
        link_jobs = np.array([spec.needs_ground_link for spec in self.jobs], np.bool_)
        if not link_jobs.any():
            return
        live = self._live_slots() & (self.slot_job >= 0)
        live &= link_jobs[np.maximum(self.slot_job, 0)]
        for slot in np.flatnonzero(live):
            sat = int(self.slot_sat[slot])
            left = float(view.contact_left_seconds[sat])
            lead = float(self.write[self.slot_job[slot]]) + self.config.margin_seconds + self.dt
            if left < lead:
                self._evict(int(slot), EvictionReason.LINK, left)

    def _drain_step(self, view: FleetView) -> None:
        if self.policy == "none":
            return
        # the budgets' live counts, once for the step (only budgets read them)
        self._live_count = self._live_by_job() if self.budgets else None
        try:
            self._drain_pods(view)
        finally:
            self._live_count = None

    def _drain_pods(self, view: FleetView) -> None:
        self._drain_link_bound(view)
        if self.policy == "predictive":
            self._checkpoint_gangs_in_radiation(view)
        lead = self.drain_lead_seconds()
        keep = gpus_to_keep(self.policy, self.power, view, lead)
        draining_state = self.slot_state == DRAINING
        draining = np.zeros(self.n, np.int64)
        np.add.at(draining, self.slot_sat[draining_state], self.slot_gpus[draining_state])
        excess = view.busy_gpus - draining - keep
        busy_after = view.busy_gpus - draining
        power_keep = None
        if self.policy == "predictive" and view.thermal_seconds is not None and (excess > 0).any():
            power_view = FleetView(**{**view.__dict__, "thermal_seconds": None})
            power_keep = gpus_to_keep(self.policy, self.power, power_view, lead)
        over = np.flatnonzero(excess > 0)
        runways = np.zeros(self.n)
        if over.size:
            # the runway each eviction reports: of the GPUs busy now, for all at once
            runways[over] = runway_with(self.power, view, view.busy_gpus)[over]
        for sat in over:
            slots = [
                int(s)
                for s in np.unique(self.gpu_owner[sat][self.gpu_owner[sat] >= 0])
                if self.slot_state[s] != DRAINING
            ]
            # cheapest first: least work since the last checkpoint
            slots.sort(key=lambda s: (self.slot_since[s], self.slot_pod[s]))
            if self.policy == "reactive":
                reason = EvictionReason.UPSET if view.upset[sat] else EvictionReason.ECLIPSE
            elif power_keep is not None and busy_after[sat] <= power_keep[sat]:
                reason = EvictionReason.THERMAL  # the power runway alone would keep them
            else:
                reason = EvictionReason.RUNWAY
            runway = float(runways[sat])
            for slot in slots:
                # a gang drained whole frees members here and on other satellites
                if self._drained_since(int(sat), int(draining[sat])) >= excess[sat]:
                    break
                if self.slot_state[slot] != DRAINING:
                    self._evict(slot, reason, runway)

    def _checkpoint_gangs_in_radiation(self, view: FleetView) -> None:
        """A running gang checkpoints as often as its risk of losing a member calls for:
        at Young's interval sqrt(2 x write x mean time between the upsets that kill a
        member (SEFIs, latch-ups) at the proton flux its members fly through now), when
        that is shorter than its own interval. One such upset restarts every member, so
        a large gang crossing the South Atlantic Anomaly saves its work every few minutes."""
        model = self.config.upsets
        if model is None or self.flux is None or not self.job_gang.any():
            return
        killing = model.sefi_fraction + model.latchup_fraction
        running = (self.slot_state == RUNNING) & (self.slot_job >= 0)
        running &= self.job_gang[np.maximum(self.slot_job, 0)]
        for job in np.unique(self.slot_job[running]):
            members = np.flatnonzero(running & (self.slot_job == job))
            sats = self.slot_sat[members]
            rate = float(np.sum(model.rate_per_second(self.flux[sats], self.slot_gpus[members])))
            if rate * killing <= 0:
                continue
            young = math.sqrt(2.0 * float(self.write[job]) / (rate * killing))
            if young >= float(self.interval[job]):
                continue
            if float(self.slot_since[members].max()) < young:
                continue
            self.slot_state[members] = WRITING
            self.slot_left[members] = self.write[job]

    def _drained_since(self, sat: int, before: int) -> int:
        """GPUs of `sat` draining now beyond the `before` that were draining already (a
        pod's slot owns its GPUs on its satellite until it ends)."""
        owners = self.gpu_owner[sat]
        return int(np.count_nonzero(self.slot_state[owners[owners >= 0]] == DRAINING)) - before

    def pending_units(self, job: int, limit: int) -> NDArray[np.int64]:
        span = self.job_units[job]
        waiting = ~self.unit_done[span] & ~self.unit_running[span]
        units: NDArray[np.int64] = np.flatnonzero(waiting)[:limit] + span.start
        return units

    def _placeable_jobs(self) -> list[int]:
        out = []
        for job, spec in enumerate(self.jobs):
            if not self.job_active[job] or self.job_failed[job] or self.job_complete[job]:
                continue
            if not spec.tolerates_satellites or self.now < self.job_not_before[job]:
                continue
            controller = self.job_controller[job]
            if controller is JobController.BUILTIN and not self.config.places_builtin_pods:
                continue
            out.append(job)
        return out

    def _place_step(self, view: FleetView) -> None:
        """Job controller plus scheduler: pending units become pods on satellites."""
        pending: dict[tuple[int, bool, float, float], list[int]] = {}
        free = view.free_gpus.copy()
        busy = view.busy_gpus.copy()
        reserved = np.zeros(self.n, np.bool_)  # kept free for waiting gangs
        for job in self._placeable_jobs():
            spec = self.jobs[job]
            if spec.gang:
                reserved |= self._place_gang(job, view, free, busy, reserved)
                continue
            room = spec.parallelism - int(self.job_running[job])
            if room <= 0:
                continue
            units = self.pending_units(job, room)
            if units.size:
                contact = self.required_contact(job) if spec.needs_ground_link else 0.0
                key = (
                    spec.gpus_per_pod,
                    spec.needs_ground_link,
                    self.required_runway(job),
                    contact,
                )
                pending.setdefault(key, []).extend(units.tolist())
        if not pending:
            return
        # predictive keeps room for larger pods that will need a satellite soon (their
        # pods are draining, or they found none now): smaller pods must not fragment the
        # satellites that could take them
        soon = self._draining_by_shape() if self.policy == "predictive" else {}
        for (gpus, needs_link, need, contact), waiting in sorted(
            pending.items(), key=lambda kv: -kv[0][0]
        ):
            held = self._hold_for_larger(view, free, busy, gpus, soon)
            free -= held
            targets = self.placements(
                view,
                free,
                busy,
                gpus,
                needs_link,
                need,
                len(waiting),
                allowed=~reserved if reserved.any() else None,
                contact_seconds=contact,
            )
            free += held
            for unit, sat in zip(waiting, targets, strict=False):
                healthy = np.flatnonzero(
                    (self.gpu_owner[sat] < 0) & (self.gpu_broken_until[sat] <= self.now)
                )[:gpus]
                self._start(unit, int(sat), healthy, None)
                free[sat] -= gpus
                busy[sat] += gpus
            if self.policy == "predictive" and len(waiting) > len(targets):
                count, most = soon.get(gpus, (0, 0.0))
                soon[gpus] = (count + len(waiting) - len(targets), max(most, need))

    def _place_gang(
        self,
        job: int,
        view: FleetView,
        free: NDArray[np.int64],
        busy: NDArray[np.int64],
        reserved: NDArray[np.bool_],
    ) -> NDArray[np.bool_]:
        """Every member of a gang at once, where the policy allows and the links carry its
        gradients best, or none of them (a `GangWaiting` says why, once per change). A gang
        that waits for room keeps the satellites it would take free of smaller pods (the
        mask returned), so the ends of their pods make room rather than others taking it."""
        spec = self.jobs[job]
        none = np.zeros(self.n, np.bool_)
        if self.job_running[job] > 0:
            return none  # members still draining or stopping: the gang restarts whole
        units = self.pending_units(job, spec.completions)
        if units.size < spec.completions:
            return none
        usable = np.where(reserved, 0, free)
        capacity, points = self._capacity(
            view,
            usable,
            busy,
            spec.gpus_per_pod,
            False,
            self.required_gang_runway(job),
            every_score=True,
        )
        placed = self._gang_ring(job, capacity, points)
        if placed is None:
            reason = GangWait.CAPACITY if int(capacity.sum()) < spec.completions else GangWait.LINKS
            if self.gang_waiting.get(job) is not reason:
                self.gang_waiting[job] = reason
                self.decisions.append(
                    GangWaiting(job, reason, spec.completions, int(capacity.sum()), self.now)
                )
            return self._gang_reservation(job, view, reserved)
        ring, step = placed
        self.gang_waiting.pop(job, None)
        self.gang_reserved.pop(job, None)
        gpus = spec.gpus_per_pod
        order = units[np.argsort(self.unit_index[units], kind="stable")]
        for unit, sat in zip(order, ring, strict=True):
            healthy = np.flatnonzero(
                (self.gpu_owner[sat] < 0) & (self.gpu_broken_until[sat] <= self.now)
            )[:gpus]
            self._start(int(unit), int(sat), healthy, None)
            free[sat] -= gpus
            busy[sat] += gpus
        self.decisions.append(
            GangPlaced(
                job,
                tuple(int(s) for s in ring),
                step.seconds,
                step.exchange_seconds,
                self.now,
            )
        )
        return none

    def _gang_ring(
        self, job: int, capacity: NDArray[np.int64], points: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], GangStep] | None:
        spec = self.jobs[job]
        return place_gang(
            spec.completions,
            capacity,
            points,
            self.config.gang_placement,
            spec.compute_seconds_per_step,
            spec.gradient_bytes_per_step,
            self.links,
            self.config.links,
        )

    def _gang_reservation(
        self, job: int, view: FleetView, reserved: NDArray[np.bool_]
    ) -> NDArray[np.bool_]:
        """The satellites a waiting gang would take if no single pod held GPUs there (only
        gangs' members count as busy): kept for it, and the single pods there drain (with
        a checkpoint). Gangs go before single pods; the satellites kept last time come
        first, so a waiting gang does not drain the fleet one satellite after another."""
        spec = self.jobs[job]
        live = (self.slot_state != FREE) & (self.slot_job >= 0)
        live &= self.job_gang[np.maximum(self.slot_job, 0)]
        gang_busy = np.bincount(
            self.slot_sat[live], weights=self.slot_gpus[live], minlength=self.n
        ).astype(np.int64)
        open_gpus = np.where(reserved, 0, np.maximum(self.healthy_gpus() - gang_busy, 0))
        capacity, points = self._capacity(
            view,
            open_gpus,
            gang_busy,
            spec.gpus_per_pod,
            False,
            self.required_gang_runway(job),
            every_score=True,
        )
        before = self.gang_reserved.get(job)
        if before is not None and points.size:
            points = points + before * (float(np.abs(points).max()) + 1.0)
        placed = self._gang_ring(job, capacity, points)
        mask = np.zeros(self.n, np.bool_)
        if placed is None:
            self.gang_reserved.pop(job, None)
            return mask
        mask[placed[0]] = True
        self.gang_reserved[job] = mask
        single = (self.slot_state != FREE) & (self.slot_state != DRAINING) & (self.slot_job >= 0)
        single &= ~self.job_gang[np.maximum(self.slot_job, 0)]
        for slot in np.flatnonzero(single & mask[np.maximum(self.slot_sat, 0)]):
            self._evict(int(slot), EvictionReason.GANG, math.inf)
        return mask

    def _draining_by_shape(self) -> dict[int, tuple[int, float]]:
        """Pods draining now, by GPUs per pod: (how many, the longest runway they need)."""
        out: dict[int, tuple[int, float]] = {}
        for slot in np.flatnonzero(self.slot_state == DRAINING):
            job = int(self.slot_job[slot])
            if not self.job_active[job] or self.job_complete[job]:
                continue
            gpus = self.jobs[job].gpus_per_pod
            count, most = out.get(gpus, (0, 0.0))
            out[gpus] = (count + 1, max(most, self.required_runway(job)))
        return out

    def _hold_for_larger(
        self,
        view: FleetView,
        free: NDArray[np.int64],
        busy: NDArray[np.int64],
        gpus: int,
        soon: dict[int, tuple[int, float]],
    ) -> NDArray[np.int64]:
        """GPUs held back, per satellite, for the larger pods of `soon` before pods of
        `gpus` GPUs are placed: the satellites that could take them now or at the sunrise
        coming within their required runway, fullest first."""
        held = np.zeros(self.n, np.int64)
        for larger, (count, need) in sorted(soon.items(), reverse=True):
            if larger <= gpus or count <= 0:
                continue
            spare = free - held
            current = FleetView(**{**view.__dict__, "free_gpus": spare, "busy_gpus": busy})
            ok = feasible(self.policy, self.power, current, larger, False, need)
            sunrise_soon = (
                schedulable(self.policy, current)
                & (spare >= larger)
                & (view.seconds_to_shadow <= 0)
                & (view.shadow_seconds <= need)
            )
            candidates = np.flatnonzero(ok | sunrise_soon)
            order = np.argsort(-spare[candidates], kind="stable")
            for sat in candidates[order][:count]:
                held[sat] += larger
        return held

    def placements(
        self,
        view: FleetView,
        free: NDArray[np.int64],
        busy: NDArray[np.int64],
        gpus: int,
        needs_link: bool,
        need_seconds: float,
        count: int,
        allowed: NDArray[np.bool_] | None = None,
        contact_seconds: float = 0.0,
    ) -> NDArray[np.int64]:
        """Satellites for up to `count` pods of `gpus` GPUs, best first (one entry per pod):
        the policy's filter, its runway cap on GPUs per satellite, and its score. A
        link-bound pod needs `contact_seconds` of ground contact left."""
        capacity, points = self._capacity(
            view, free, busy, gpus, needs_link, need_seconds, allowed, contact_seconds
        )
        ok = capacity > 0
        if not ok.any():
            return np.zeros(0, np.int64)
        order = np.argsort(-points[ok], kind="stable")
        nodes = np.flatnonzero(ok)[order]
        return np.repeat(nodes, capacity[nodes])[:count].astype(np.int64)

    def _capacity(
        self,
        view: FleetView,
        free: NDArray[np.int64],
        busy: NDArray[np.int64],
        gpus: int,
        needs_link: bool,
        need_seconds: float,
        allowed: NDArray[np.bool_] | None = None,
        contact_seconds: float = 0.0,
        every_score: bool = False,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Per satellite, how many pods of `gpus` GPUs the policy lets it take now (its
        filter and runway cap), and the policy's score of it: of every satellite with
        `every_score` (a gang's placement weighs them all), else of those the filter lets
        through (0 elsewhere; only they can take a pod)."""
        current = FleetView(**{**view.__dict__, "free_gpus": free, "busy_gpus": busy})
        ok = feasible(
            self.policy, self.power, current, gpus, needs_link, need_seconds, contact_seconds
        )
        if allowed is not None:
            ok &= allowed
        if not ok.any():
            return np.zeros(self.n, np.int64), np.zeros(self.n)
        rows = np.flatnonzero(ok)
        fits = free[rows] // gpus
        if self.policy == "predictive":
            most = max_gpus_with_runway(self.power, current, need_seconds, rows) - busy[rows]
            fits = np.minimum(fits, np.maximum(most, 0) // gpus)
        capacity = np.zeros(self.n, np.int64)
        capacity[rows] = fits
        if every_score:
            points = score(self.policy, self.power, current, gpus, needs_link)
        else:
            points = np.zeros(self.n)
            points[rows] = score(self.policy, self.power, current, gpus, needs_link, rows)
        return capacity, np.asarray(points, np.float64)

    def _power_step(self, column: Column) -> None:
        """Advance every battery one step; a shortfall sheds the GPUs (their pods die).
        With a thermal model, GPUs the radiator cannot carry are held off first (their
        pods die too), a heater on the bus holds the minimum temperature, and the
        temperature follows the heat of the step."""
        now, dt, p = self.now, self.dt, self.power
        solar = column.illumination * p.solar_array_w
        # the bus runs unless the satellite power-cycles (a latch-up); a payload that
        # reboots after a low-voltage disconnect leaves the bus on
        bus = np.where(self.bus_off_until <= now, p.bus_power_w, 0.0)
        environment_w = np.zeros(self.n)
        if self.thermal is not None:
            environment_w = self.thermal.environment_w(column.illumination)
            self._hold_off_hot_gpus(bus + environment_w)
            self.heater_w = heater_w(
                self.thermal,
                self.temperature_k,
                bus + environment_w + self.busy_gpus() * p.gpu_power_w,
                dt,
            )
            bus = bus + self.heater_w
        busy = self.busy_gpus()
        new, short, bus_short = bus_first_step(p, self.soc, solar, bus, busy * p.gpu_power_w, dt)
        lost = (short > EPSILON) & (busy > 0)
        for sat in np.flatnonzero(lost):
            killed, lost_work = [], 0.0
            for slot in np.unique(self.gpu_owner[sat][self.gpu_owner[sat] >= 0]):
                if self.slot_state[slot] == FREE:
                    continue  # a gang member stopped with another member
                ended = self._end(int(slot), EndReason.POWER_LOST)
                killed.append(ended.pod)
                lost_work += ended.lost_gpu_seconds
            self.decisions.append(
                Notice(
                    NoticeKind.POWER_LOST,
                    int(sat),
                    now,
                    pods=tuple(killed),
                    lost_gpu_seconds=lost_work,
                )
            )
        if lost.any():
            # the GPUs were shed at the start of the step: only the bus drew power
            redo = bus_first_step(p, self.soc, solar, bus, 0.0, dt)
            new = np.where(lost, redo.stored_wh, new)
            bus_short = np.where(lost, redo.bus_unserved_w, bus_short)
        self.soc = new
        browned = bus_short > EPSILON
        for sat in np.flatnonzero(browned & ~self.brownout):
            self.counters.bus_brownouts += 1
            self.decisions.append(Notice(NoticeKind.BUS_BROWNOUT, int(sat), now))
        self.brownout = browned
        self.brownout_seconds += browned * dt
        self.counters.bus_brownout_seconds += float(browned.sum()) * dt
        self.load_w = np.where(lost, bus, bus + busy * p.gpu_power_w)
        self.solar_energy_j += solar * dt
        self.bound.add(column.illumination, dt)
        if self.thermal is not None:
            self._heat_step(column, environment_w)
        self.counters.bound_gpu_seconds = float(self.bound_gpu_seconds().sum())
        floor = p.battery_wh * p.floor_soc
        restart = floor + POWER_RECOVERY_FRACTION * p.battery_wh
        # low-voltage disconnect: the payload (the node) is off until the battery has
        # recovered, then boots for payload_restart_seconds before it rejoins the cluster
        self.restart_pending |= lost
        recovered = self.restart_pending & (self.soc >= restart)
        self.down_until = np.where(
            recovered, now + dt + self.config.payload_restart_seconds, self.down_until
        )
        self.restart_pending &= ~recovered
        self.powered = ~self.restart_pending
        for sat in np.flatnonzero(recovered):
            self.decisions.append(Notice(NoticeKind.POWER_RESTORED, int(sat), now + dt))

    def bound_gpu_seconds(self) -> NDArray[np.float64]:
        """Per satellite, the proven bound of the steps so far: the energy bound, and with
        a thermal model the lesser of it and the heat bound (both are upper bounds)."""
        energy = self.bound.gpu_seconds()
        if self.heat_bound is None or self.power.gpu_power_w <= 0:
            return energy
        heat = self.heat_bound.gpu_joules() / self.power.gpu_power_w
        return np.asarray(np.minimum(energy, heat), dtype=np.float64)

    def _heat_limit(self, other_w: NDArray[np.float64]) -> NDArray[np.int64]:
        """Per satellite, the most GPUs whose heat, with `other_w`, ends a step at or below
        the maximum temperature."""
        assert self.thermal is not None
        spare_w = heat_limit_w(self.thermal, self.temperature_k, self.dt) - other_w
        gpu_w = max(self.power.gpu_power_w, EPSILON)
        return np.clip(np.floor(spare_w / gpu_w + EPSILON), 0, self.g).astype(np.int64)

    def _hold_off_hot_gpus(self, other_w: NDArray[np.float64]) -> None:
        """The payload's thermal protection: GPUs beyond what the radiator carries this step
        are switched off; their pods die (the ones with the least unsaved work first)."""
        allowed = self._heat_limit(other_w)
        busy = self.busy_gpus()
        for sat in np.flatnonzero(busy > allowed):
            slots = [int(s) for s in np.unique(self.gpu_owner[sat][self.gpu_owner[sat] >= 0])]
            slots.sort(key=lambda s: (self.slot_since[s], self.slot_pod[s]))
            killed, lost_work, left = [], 0.0, int(busy[sat])
            for slot in slots:
                if left <= allowed[sat]:
                    break
                if self.slot_state[slot] == FREE:
                    continue  # a gang member stopped with another member
                ended = self._end(slot, EndReason.OVERHEATED)
                killed.append(ended.pod)
                lost_work += ended.lost_gpu_seconds
                left = int((self.gpu_owner[sat] >= 0).sum())
            self.decisions.append(
                Notice(
                    NoticeKind.THERMAL_THROTTLING,
                    int(sat),
                    self.now,
                    pods=tuple(killed),
                    lost_gpu_seconds=lost_work,
                )
            )

    def _heat_step(self, column: Column, environment_w: NDArray[np.float64]) -> None:
        """The temperature after the step's heat; the GPUs the radiator carries next."""
        thermal, dt = self.thermal, self.dt
        assert thermal is not None and self.heat_bound is not None
        self.temperature_k = thermal_step(
            thermal, self.temperature_k, self.load_w + environment_w, dt
        )
        self.heat_rejected_j += thermal.radiative_w_per_k4 * self.temperature_k**4 * dt
        self.counters.heater_energy_j += float(self.heater_w.sum()) * dt
        self.heat_bound.add(column.illumination, self.power.bus_power_w, dt)
        bus = np.where(self.bus_off_until <= self.now + dt, self.power.bus_power_w, 0.0)
        self.heat_limit_gpus = self._heat_limit(bus + environment_w)
        throttling = self.heat_limit_gpus < self.g
        self.counters.throttled_gpu_seconds += float((self.g - self.heat_limit_gpus).sum()) * dt
        self.counters.thermal_throttles += int((throttling & ~self.throttling).sum())
        for sat in np.flatnonzero(throttling != self.throttling):
            hot = bool(throttling[sat])
            kind = NoticeKind.THERMAL_THROTTLING if hot else NoticeKind.THERMAL_RECOVERED
            self.decisions.append(Notice(kind, int(sat), self.now + dt))
        self.throttling = throttling

    def _downlink_step(self, column: Column) -> None:
        """Results waiting on board go down, first finished first, at the best rate of the
        stations in view; a result has landed when its last byte has."""
        rate_bps = column.downlink_bps
        if rate_bps is None or not self.downlink_backlog_bytes.any():
            return
        c = self.counters
        for sat in np.flatnonzero((self.downlink_backlog_bytes > 0) & (rate_bps > 0)):
            bytes_per_second = float(rate_bps[sat]) / 8.0
            budget = bytes_per_second * self.dt
            queue = self.downlink_queue[sat]
            while queue and budget > 0:
                item = queue[0]
                take = min(item[2], budget)
                item[2] -= take
                budget -= take
                self.downlink_backlog_bytes[sat] -= take
                c.downlinked_bytes += take
                if item[2] <= EPSILON:
                    queue.pop(0)
                    landed = self.now + self.dt - budget / bytes_per_second
                    latency = landed - item[3]
                    c.results_landed += 1
                    c.landed_latency_seconds += latency
                    c.landed_latency_max_seconds = max(c.landed_latency_max_seconds, latency)
            if not queue:
                self.downlink_backlog_bytes[sat] = 0.0

    def _progress_step(self) -> None:
        if not self.pod_slot:
            self.gang_steps = {}
            self._account(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.bool_))
            return  # no pod runs: nothing progresses
        dt = self.dt
        state = self.slot_state
        # restores and checkpoint writes count down; finished writes become checkpoints
        counting = (state == RESTORING) | (state == WRITING) | (state == DRAINING)
        counted_jobs = self.slot_job[counting]
        self.slot_left[counting] -= dt
        done = counting & (self.slot_left <= EPSILON)
        for slot in np.flatnonzero(done & (state == WRITING)):
            unit = self.slot_unit[slot]
            self.unit_checkpoint[unit] = self.unit_progress[unit]
            self.slot_since[slot] = 0.0
            state[slot] = RUNNING
        state[done & (state == RESTORING)] = RUNNING
        for slot in np.flatnonzero(done & (state == DRAINING)):
            self._end(int(slot), EndReason.CHECKPOINTED)
        running = (state == RUNNING) & ~done
        factor = self._gang_factors(running)
        running &= factor > 0  # a gang computes only with every member running and linked
        self._account(self.slot_job[running], factor[running], counted_jobs)
        units = self.slot_unit[running]
        self.unit_progress[units] += self.slot_gpus[running] * dt * factor[running]
        self.slot_since[running] += dt
        jobs = self.slot_job[running]
        finished = self.unit_progress[units] >= self.work[jobs] - EPSILON
        for slot in np.flatnonzero(running)[finished]:
            if self.slot_state[slot] != FREE:
                self._end(int(slot), EndReason.COMPLETED)
        due = running.copy()
        due[np.flatnonzero(running)[finished]] = False
        due &= self.slot_state == RUNNING
        due &= self.slot_since >= self.interval[np.maximum(self.slot_job, 0)] - EPSILON
        state[due] = WRITING
        self.slot_left[due] = self.write[self.slot_job[due]]

    def _gang_factors(self, running: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Per slot, the share of this step that is useful compute: 1 for a lone pod; for a
        gang's members, compute / (compute + gradient exchange) while every member runs
        and the links join them, else 0 (they wait)."""
        factor = np.ones(running.size)
        self.gang_steps = {}
        if not self.job_gang.any():
            return factor
        live = self.slot_state != FREE
        gang_slots = live & self.job_gang[np.maximum(self.slot_job, 0)]
        for job in np.unique(self.slot_job[gang_slots]):
            spec = self.jobs[int(job)]
            slots = np.flatnonzero((self.slot_job == job) & live)
            if slots.size < spec.completions or not running[slots].all():
                factor[slots] = 0.0
                continue
            ring = self.slot_sat[slots[np.argsort(self.unit_index[self.slot_unit[slots]])]]
            step = gang_step(
                ring,
                spec.compute_seconds_per_step,
                spec.gradient_bytes_per_step,
                self.links,
                self.config.links,
                self.n,
            )
            self.gang_steps[int(job)] = step
            factor[slots] = step.compute_fraction
        return factor

    def _account(
        self,
        computing_jobs: NDArray[np.int64],
        computing_factor: NDArray[np.float64],
        checkpointing_jobs: NDArray[np.int64],
    ) -> None:
        """The Job report's step: each open Job computed, checkpointed or waited."""
        jobs = len(self.jobs)
        if jobs == 0:
            return
        fraction = np.zeros(jobs)
        np.maximum.at(fraction, computing_jobs, computing_factor)
        checkpointing = np.bincount(checkpointing_jobs, minlength=jobs)[:jobs] > 0
        live = self.slot_state != FREE
        held = np.bincount(
            self.slot_job[live], weights=self.slot_gpus[live].astype(np.float64), minlength=jobs
        )[:jobs].astype(np.float64)
        open_jobs = self.job_active & ~self.job_complete & ~self.job_failed
        self.job_clock.account(open_jobs, fraction, checkpointing, held, self.dt)
        for job, step in self.gang_steps.items():
            self.job_clock.step_seconds[job] = step.seconds

    # -- reading --------------------------------------------------------------------------

    def job_stats(self, job: int) -> JobStats:
        """One Job's report now: time to finish (or projected), GPU time, where it went."""
        spec, clock = self.jobs[job], self.job_clock
        units = self._units_of(job)
        useful = float(self.unit_progress[units].sum())
        total = float(self.work[job]) * units.size
        finished = bool(self.job_complete[job] or self.job_failed[job])
        end = float(clock.finished_at[job]) if finished else self.now
        elapsed = max(end - float(clock.arrived_at[job]), 0.0)
        live = np.flatnonzero((self.slot_job == job) & (self.slot_state != FREE))
        live = live[np.argsort(self.unit_index[self.slot_unit[live]], kind="stable")]
        step = self.gang_steps.get(job)
        seconds = clock.seconds[job]
        return JobStats(
            name=f"{spec.namespace}/{spec.name}",
            gang=spec.gang,
            members=spec.members,
            gpus_per_pod=spec.gpus_per_pod,
            finished=bool(self.job_complete[job]),
            failed=bool(self.job_failed[job]),
            elapsed_seconds=elapsed,
            finish_seconds=elapsed if finished else None,
            projected_finish_seconds=(
                elapsed if finished else projected_finish_seconds(elapsed, useful, total)
            ),
            progress_ratio=useful / total if total > 0 else 0.0,
            useful_gpu_seconds=useful,
            gpu_seconds_used=float(clock.gpu_seconds[job]),
            compute_seconds=float(seconds[0]),
            exchange_seconds=float(seconds[1]),
            checkpoint_seconds=float(seconds[2]),
            wait_seconds=float(seconds[3]),
            satellites=tuple(int(s) for s in self.slot_sat[live]),
            step_seconds=None if step is None else step.seconds,
        )

    def useful_gpu_seconds(self) -> float:
        """Work not lost: finished units plus progress kept by running or checkpointed pods."""
        return float(self.unit_progress.sum())

    def pending_pods(self) -> int:
        """Pods the Job controllers would have created that are not running."""
        pending = 0
        for job, spec in enumerate(self.jobs):
            if not self.job_active[job] or self.job_failed[job]:
                continue
            span = self.job_units[job]
            waiting = int((~self.unit_done[span] & ~self.unit_running[span]).sum())
            pending += min(waiting, max(spec.parallelism - int(self.job_running[job]), 0))
        return pending

    def pod_state(self, pod: int) -> SlotState:
        slot = self.pod_slot.get(pod)
        return SlotState.FREE if slot is None else SlotState(int(self.slot_state[slot]))

    def pod_sat(self, pod: int) -> int:
        slot = self.pod_slot.get(pod)
        return NO_POD if slot is None else int(self.slot_sat[slot])

    def live_pods(self) -> list[int]:
        return sorted(self.pod_slot)

    def snapshot(
        self, column: Column, simulated_time: Any, pods_by_phase: dict[str, int] | None = None
    ) -> FleetSnapshot:
        """The fleet now, for metrics (counters cumulative since the start)."""
        c = self.counters
        active = self.slot_state != FREE
        phases = pods_by_phase or {
            "Running": int(active.sum()),
            "Pending": self.pending_pods(),
            "Succeeded": int(self.unit_done.sum()),
            "Failed": int(sum(c.failures.values()) + sum(c.evictions.values())),
        }
        # the step keeps the links only while a gang runs: between gangs, work them out here
        links, settings, pairs = self.links, self.config.links, self.config.link_pairs
        position_km = column.position_km
        if links is None and settings is not None and pairs is not None and position_km is not None:
            links = link_state(position_km, pairs, settings)
        links_up = int(links.up.sum()) if links is not None else None if settings is None else 0
        return FleetSnapshot(
            constellation=self.constellation,
            simulated_time=simulated_time,
            satellites=self.names,
            planes=self.planes,
            gpus_per_satellite=self.power.gpus,
            illumination=column.illumination,
            state_of_charge=self.soc / max(self.power.battery_wh, EPSILON),
            solar_power_w=column.illumination * self.power.solar_array_w,
            load_power_w=self.load_w.copy(),
            ground_link=column.link.copy(),
            latitude_deg=column.latitude_deg,
            longitude_deg=column.longitude_deg,
            altitude_km=column.altitude_km,
            seconds_to_eclipse=column.seconds_to_shadow,
            gpus_busy=self.busy_gpus(),
            power_available=self.powered.copy(),
            ready=self.ready,
            upsets_total=self.upsets_by_satellite.copy(),
            solar_energy_j_total=self.solar_energy_j.copy(),
            evictions_total=dict(c.evictions),
            pod_failures_total=dict(c.failures),
            pods_by_phase=phases,
            completed_gpu_seconds=self.useful_gpu_seconds(),
            lost_gpu_seconds=c.lost_gpu_seconds,
            energy_bound_gpu_seconds=c.bound_gpu_seconds,
            jobs_completed=c.jobs_completed,
            policy=self.policy,
            bus_brownout_seconds_total=self.brownout_seconds.copy(),
            temperature_k=self.temperature_k.copy() if self.thermal is not None else None,
            throttled_gpus=((self.g - self.heat_limit_gpus) if self.thermal is not None else None),
            heat_rejected_j_total=(
                self.heat_rejected_j.copy() if self.thermal is not None else None
            ),
            downlink_backlog_bytes=(
                self.downlink_backlog_bytes.copy()
                if any(spec.downlink_bytes > 0 for spec in self.jobs)
                else None
            ),
            jobs=tuple(self.job_stats(job) for job in range(len(self.jobs))),
            links_up=links_up,
        )

    @property
    def goodput_ratio(self) -> float:
        bound = self.counters.bound_gpu_seconds
        return self.useful_gpu_seconds() / bound if bound > 0 else 0.0
