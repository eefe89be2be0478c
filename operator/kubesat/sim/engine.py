"""The simulated cluster: satellites as nodes, GPU pods, Jobs, a scheduler and a policy.

A time-stepped model of the Kubernetes semantics that matter here: nodes with GPU capacity,
taints, pods placed by a scheduler, evictions honouring PodDisruptionBudgets, and a Job
controller that recreates failed pods with backoff. Pods live in fixed slots (struct of
arrays), so a step costs a few numpy operations however large the fleet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kubesat.core.conditions import FleetConditions
from kubesat.core.policy import (
    FleetView,
    feasible,
    gpus_to_keep,
    max_gpus_with_runway,
    required_runway_seconds,
    score,
)
from kubesat.core.power import PowerSystem, battery_step
from kubesat.core.upsets import UpsetEvents, UpsetKind
from kubesat.core.workloads import DisruptionBudget, JobSpec, backoff_seconds
from kubesat.telemetry import UPSET_KINDS, FleetSnapshot

POWER_RECOVERY_FRACTION = 0.05  # battery must climb 5% of capacity above its floor to restart
FREE, RESTORING, RUNNING, WRITING, DRAINING = 0, 1, 2, 3, 4


@dataclass
class Outcome:
    """What a run achieved, in GPU-seconds and counts."""

    policy: str
    completed_gpu_seconds: float = 0.0
    lost_gpu_seconds: float = 0.0
    energy_bound_gpu_seconds: float = 0.0
    demand_gpu_seconds: float = 0.0
    evictions: dict[str, int] = field(default_factory=dict)
    pod_failures: dict[str, int] = field(default_factory=dict)
    jobs_completed: int = 0
    jobs_failed: int = 0
    upsets: dict[str, int] = field(default_factory=dict)
    timeline: dict[str, NDArray] = field(default_factory=dict)

    @property
    def goodput_ratio(self) -> float:
        """Useful GPU-seconds over what sunlight allowed (or what the jobs asked, if less)."""
        reachable = min(self.energy_bound_gpu_seconds, self.demand_gpu_seconds)
        return self.completed_gpu_seconds / reachable if reachable > 0 else 0.0


@dataclass
class Cluster:
    """Nodes, jobs and pods of one simulated run under one policy."""

    policy: str
    power: PowerSystem
    conditions: FleetConditions
    jobs: Sequence[JobSpec]
    budgets: Sequence[DisruptionBudget]
    upsets: UpsetEvents
    initial_soc: float
    sefi_recovery_seconds: float
    latchup_recovery_seconds: float
    saa_threshold: float
    margin_seconds: float = 60.0
    payload_restart_seconds: float = 300.0

    def __post_init__(self) -> None:
        n = self.conditions.illumination.shape[0]
        g = self.power.gpus
        self.n = n
        self.dt = self.conditions.step_seconds
        self.soc = np.full(n, self.initial_soc * self.power.battery_wh)
        self.powered = np.ones(n, np.bool_)
        self.restart_pending = np.zeros(n, np.bool_)  # low-voltage disconnect, charging
        self.down_until = np.zeros(n)  # latch-up power cycle
        self.upset_until = np.zeros(n)  # reactive/predictive taint after an upset
        self.gpu_broken_until = np.zeros((n, g))
        self.gpu_owner = np.full((n, g), -1, np.int64)
        # work units: one per completion of each job
        self.unit_job = (
            np.concatenate([np.full(j.completions, i, np.int64) for i, j in enumerate(self.jobs)])
            if self.jobs
            else np.zeros(0, np.int64)
        )
        units = self.unit_job.size
        self.unit_progress = np.zeros(units)
        self.unit_checkpoint = np.zeros(units)
        self.unit_done = np.zeros(units, np.bool_)
        self.unit_running = np.zeros(units, np.bool_)
        # pod slots
        slots = max(n * max(g, 1), 1)
        self.slot_state = np.zeros(slots, np.int8)
        self.slot_unit = np.full(slots, -1, np.int64)
        self.slot_sat = np.full(slots, -1, np.int64)
        self.slot_gpus = np.zeros(slots, np.int64)
        self.slot_left = np.zeros(slots)  # seconds left restoring / writing / draining
        self.slot_since = np.zeros(slots)  # running seconds since the last checkpoint
        self.slot_job = np.full(slots, -1, np.int64)
        self.free_slots = list(range(slots - 1, -1, -1))
        job_count = len(self.jobs)
        self.job_failures = np.zeros(job_count, np.int64)
        self.job_recent_failures = np.zeros(job_count, np.int64)  # reset by a success
        self.job_not_before = np.zeros(job_count)
        self.job_failed = np.zeros(job_count, np.bool_)
        self.job_running = np.zeros(job_count, np.int64)
        self.gpus_per_pod = np.array([j.gpus_per_pod for j in self.jobs], np.int64)
        self.work = np.array([j.work_gpu_seconds for j in self.jobs])
        self.interval = np.array([j.checkpoint_interval_seconds for j in self.jobs])
        self.write = np.array([j.checkpoint_write_seconds for j in self.jobs])
        self.budget_of_job = [[b for b in self.budgets if b.matches(j.labels)] for j in self.jobs]
        self.outcome = Outcome(self.policy)
        self.upset_cursor = 0
        self.upsets_by_satellite = np.zeros((n, len(UPSET_KINDS)), np.int64)
        self.solar_energy_j = np.zeros(n)
        self.load_w = np.zeros(n)
        self.live_bound_gpu_seconds = 0.0
        self.bound_soc = self.soc.copy()
        self.name = "constellation"
        self.satellite_names: tuple[str, ...] = tuple(f"sat-{i}" for i in range(n))
        self.planes = np.zeros(n, np.int64)

    # ------------------------------------------------------------------ views
    def view(self, k: int, now: float) -> FleetView:
        c = self.conditions
        busy = (self.gpu_owner >= 0).sum(axis=1)
        healthy = (self.gpu_broken_until <= now) & (self.gpu_owner < 0)
        return FleetView(
            illumination=c.illumination[:, k].astype(np.float64),
            soc_wh=self.soc,
            busy_gpus=busy,
            free_gpus=healthy.sum(axis=1),
            link=c.link[:, k],
            high_radiation=c.flux[:, k] > self.saa_threshold,
            seconds_to_shadow=c.seconds_to_shadow[:, k].astype(np.float64),
            shadow_seconds=c.shadow_seconds[:, k].astype(np.float64),
            powered=self.powered,
            ready=(self.down_until <= now) & ~self.restart_pending,
            upset=self.upset_until > now,
        )

    # ------------------------------------------------------------------ pods
    def _start_pod(self, unit: int, sat: int, gpu_slots: NDArray) -> None:
        slot = self.free_slots.pop()
        job = int(self.unit_job[unit])
        self.slot_unit[slot] = unit
        self.slot_sat[slot] = sat
        self.slot_job[slot] = job
        self.slot_gpus[slot] = gpu_slots.size
        self.gpu_owner[sat, gpu_slots] = slot
        resuming = self.unit_checkpoint[unit] > 0
        self.slot_state[slot] = RESTORING if resuming else RUNNING
        self.slot_left[slot] = self.write[job] if resuming else 0.0
        self.slot_since[slot] = 0.0
        self.unit_progress[unit] = self.unit_checkpoint[unit]
        self.unit_running[unit] = True
        self.job_running[job] += 1

    def _end_pod(self, slot: int) -> None:
        sat = self.slot_sat[slot]
        self.gpu_owner[sat][self.gpu_owner[sat] == slot] = -1
        unit = self.slot_unit[slot]
        self.unit_running[unit] = False
        self.job_running[self.slot_job[slot]] -= 1
        self.slot_state[slot] = FREE
        self.slot_unit[slot] = -1
        self.slot_sat[slot] = -1
        self.free_slots.append(int(slot))

    def _kill(self, slot: int, reason: str, now: float) -> None:
        """A pod dies without checkpointing: work since the last checkpoint is lost."""
        unit = self.slot_unit[slot]
        job = int(self.slot_job[slot])
        lost = self.unit_progress[unit] - self.unit_checkpoint[unit]
        self.outcome.lost_gpu_seconds += max(lost, 0.0)
        self.unit_progress[unit] = self.unit_checkpoint[unit]
        self.outcome.pod_failures[reason] = self.outcome.pod_failures.get(reason, 0) + 1
        self._end_pod(slot)
        # the node agent marks such pods DisruptionTarget, as the kubelet does
        self._count_failure(job, now)

    def _count_failure(self, job: int, now: float) -> None:
        """A failed pod counts toward backoffLimit and the backoff delay, unless ignored."""
        if self.jobs[job].ignores_disruptions:
            return
        self.job_failures[job] += 1
        self.job_recent_failures[job] += 1
        if self.job_failures[job] > self.jobs[job].backoff_limit:
            self._fail_job(job)
        else:
            # the Job controller delays every pod creation of the Job (backoffRecord)
            self.job_not_before[job] = now + backoff_seconds(int(self.job_recent_failures[job]))

    def _fail_job(self, job: int) -> None:
        """BackoffLimitExceeded: the Job is Failed and its remaining pods are deleted."""
        self.job_failed[job] = True
        self.outcome.jobs_failed += 1
        for slot in np.flatnonzero((self.slot_job == job) & (self.slot_state != FREE)):
            unit = self.slot_unit[slot]
            self.outcome.lost_gpu_seconds += max(
                self.unit_progress[unit] - self.unit_checkpoint[unit], 0.0
            )
            self.unit_progress[unit] = self.unit_checkpoint[unit]
            self._end_pod(int(slot))

    def _evict(self, slot: int, reason: str) -> bool:
        """Eviction API: refused when a PodDisruptionBudget would be violated."""
        job = int(self.slot_job[slot])
        for budget in self.budget_of_job[job]:
            matching = [i for i, j in enumerate(self.jobs) if budget.matches(j.labels)]
            healthy = int(
                np.isin(self.slot_job, matching)
                .__and__(np.isin(self.slot_state, (RESTORING, RUNNING, WRITING)))
                .sum()
            )
            expected = sum(
                min(self.jobs[i].parallelism, self.jobs[i].completions) for i in matching
            )
            if budget.allowed_disruptions(healthy, expected) < 1:
                self.outcome.evictions["refused-by-pdb"] = (
                    self.outcome.evictions.get("refused-by-pdb", 0) + 1
                )
                return False
        # grace period = a checkpoint write; restoring pods keep their last checkpoint
        if self.slot_state[slot] == RESTORING:
            self.slot_left[slot] = 0.0
        elif self.slot_state[slot] == WRITING:
            pass  # the write in progress completes within the grace period
        else:
            self.slot_left[slot] = self.write[job]
        self.slot_state[slot] = DRAINING
        self.outcome.evictions[reason] = self.outcome.evictions.get(reason, 0) + 1
        return True

    # ------------------------------------------------------------------ step parts
    def apply_upsets(self, now: float, end: float) -> None:
        ev = self.upsets
        while self.upset_cursor < len(ev.time_seconds) and ev.time_seconds[self.upset_cursor] < end:
            i = self.upset_cursor
            self.upset_cursor += 1
            sat, kind, gpu = int(ev.satellite[i]), int(ev.kind[i]), int(ev.gpu[i])
            name = UpsetKind(kind).name.lower()
            self.outcome.upsets[name] = self.outcome.upsets.get(name, 0) + 1
            self.upsets_by_satellite[sat, kind] += 1
            if kind == UpsetKind.SEFI:
                slot = self.gpu_owner[sat, gpu]
                if slot >= 0:
                    self._kill(int(slot), "sefi", now)
                self.gpu_broken_until[sat, gpu] = now + self.sefi_recovery_seconds
                self.upset_until[sat] = max(self.upset_until[sat], now + self.sefi_recovery_seconds)
            elif kind == UpsetKind.LATCHUP:
                for slot in np.unique(self.gpu_owner[sat][self.gpu_owner[sat] >= 0]):
                    self._kill(int(slot), "latchup", now)
                self.down_until[sat] = now + self.latchup_recovery_seconds
                self.upset_until[sat] = max(self.upset_until[sat], self.down_until[sat])

    def drain(self, view: FleetView) -> None:
        keep = gpus_to_keep(
            self.policy,
            self.power,
            view,
            float(self.write.max(initial=0.0)) + self.margin_seconds + self.dt,
        )
        draining = np.zeros(self.n, np.int64)
        active = self.slot_state != FREE
        np.add.at(
            draining,
            self.slot_sat[active & (self.slot_state == DRAINING)],
            self.slot_gpus[active & (self.slot_state == DRAINING)],
        )
        excess = view.busy_gpus - draining - keep
        reason = "eclipse" if self.policy == "reactive" else "runway"
        for sat in np.flatnonzero(excess > 0):
            slots = np.unique(self.gpu_owner[sat][self.gpu_owner[sat] >= 0])
            slots = [s for s in slots if self.slot_state[s] != DRAINING]
            # cheapest first: least work since the last checkpoint
            slots.sort(key=lambda s: (self.slot_since[s], s))
            why = "upset" if view.upset[sat] and self.policy == "reactive" else reason
            freed = 0
            for s in slots:
                if freed >= excess[sat]:
                    break
                if self._evict(int(s), why):
                    freed += int(self.slot_gpus[s])

    def create_and_schedule(self, view: FleetView, now: float) -> None:
        """Job controller plus scheduler: pending work units become pods on satellites."""
        pending: dict[tuple[int, bool, float], list[int]] = {}
        for job, spec in enumerate(self.jobs):
            if (
                self.job_failed[job]
                or not spec.tolerates_satellites
                or now < self.job_not_before[job]
            ):
                continue
            room = spec.parallelism - int(self.job_running[job])
            if room <= 0:
                continue
            units = np.flatnonzero((self.unit_job == job) & ~self.unit_done & ~self.unit_running)[
                :room
            ]
            if units.size:
                need = required_runway_seconds(
                    float(self.interval[job]), float(self.write[job]), self.margin_seconds
                )
                key = (spec.gpus_per_pod, spec.needs_ground_link, need)
                pending.setdefault(key, []).extend(int(u) for u in units)
        if not pending:
            return
        free = view.free_gpus.copy()
        busy = view.busy_gpus.copy()
        for (gpus, needs_link, need), units in sorted(pending.items(), key=lambda kv: -kv[0][0]):
            current = FleetView(**{**view.__dict__, "free_gpus": free, "busy_gpus": busy})
            ok = feasible(self.policy, self.power, current, gpus, needs_link, need)
            if not ok.any():
                continue
            capacity = free // gpus
            if self.policy == "predictive":
                allowed = max_gpus_with_runway(self.power, current, need) - busy
                capacity = np.minimum(capacity, np.maximum(allowed, 0) // gpus)
            capacity = np.where(ok, capacity, 0)
            order = np.argsort(-score(self.policy, self.power, current, gpus)[ok], kind="stable")
            nodes = np.flatnonzero(ok)[order]
            targets = np.repeat(nodes, capacity[nodes])[: len(units)]
            for unit, sat in zip(units, targets, strict=False):
                healthy = np.flatnonzero(
                    (self.gpu_owner[sat] < 0) & (self.gpu_broken_until[sat] <= now)
                )[:gpus]
                self._start_pod(unit, int(sat), healthy)
                free[sat] -= gpus
                busy[sat] += gpus

    def power_step(self, k: int, now: float) -> None:
        """Advance every battery one step; a shortfall sheds the GPUs (their pods die)."""
        busy = (self.gpu_owner >= 0).sum(axis=1)
        solar = self.conditions.illumination[:, k].astype(np.float64) * self.power.solar_array_w
        up = self.down_until <= now
        bus = np.where(up, self.power.bus_power_w, 0.0)
        new, short = battery_step(
            self.power, self.soc, solar, bus + busy * self.power.gpu_power_w, self.dt
        )
        lost = (short > 1e-9) & (busy > 0)
        for sat in np.flatnonzero(lost):
            for slot in np.unique(self.gpu_owner[sat][self.gpu_owner[sat] >= 0]):
                self._kill(int(slot), "power", now)
        if lost.any():
            # the GPUs were shed at the start of the step: only the bus drew power
            redo, _ = battery_step(self.power, self.soc, solar, bus, self.dt)
            new = np.where(lost, redo, new)
        self.soc = new
        self.load_w = np.where(lost, bus, bus + busy * self.power.gpu_power_w)
        self.solar_energy_j += solar * self.dt
        self._advance_live_bound(solar)
        floor = self.power.battery_wh * self.power.floor_soc
        restart = floor + POWER_RECOVERY_FRACTION * self.power.battery_wh
        # low-voltage disconnect: the payload (the node) is off until the battery has
        # recovered, then boots for payload_restart_seconds before it rejoins the cluster
        self.restart_pending |= lost
        recovered = self.restart_pending & (self.soc >= restart)
        self.down_until = np.where(recovered, now + self.payload_restart_seconds, self.down_until)
        self.restart_pending &= ~recovered
        self.powered = ~self.restart_pending

    def _advance_live_bound(self, solar_w: NDArray) -> None:
        """Running energy bound for live metrics: a greedy fractional-GPU schedule on its
        own battery (within ~1-2% of the exact bound that the final report uses)."""
        p = self.power
        spare_wh = np.maximum(self.bound_soc - p.battery_wh * p.floor_soc, 0.0)
        from_battery_w = spare_wh * p.discharge_efficiency * 3600.0 / self.dt
        gpus = np.clip((solar_w + from_battery_w - p.bus_power_w) / p.gpu_power_w, 0.0, p.gpus)
        self.bound_soc, _ = battery_step(
            p, self.bound_soc, solar_w, p.bus_power_w + gpus * p.gpu_power_w, self.dt
        )
        self.live_bound_gpu_seconds += float(gpus.sum()) * self.dt

    def progress_step(self, now: float) -> None:
        dt = self.dt
        state = self.slot_state
        # restores and checkpoint writes count down; finished writes become checkpoints
        counting = (state == RESTORING) | (state == WRITING) | (state == DRAINING)
        self.slot_left[counting] -= dt
        done = counting & (self.slot_left <= 1e-9)
        for slot in np.flatnonzero(done & (state == WRITING)):
            unit = self.slot_unit[slot]
            self.unit_checkpoint[unit] = self.unit_progress[unit]
            self.slot_since[slot] = 0.0
            state[slot] = RUNNING
        state[done & (state == RESTORING)] = RUNNING
        for slot in np.flatnonzero(done & (state == DRAINING)):
            unit = self.slot_unit[slot]
            job = int(self.slot_job[slot])
            self.unit_checkpoint[unit] = self.unit_progress[unit]
            self._end_pod(int(slot))
            self._count_failure(job, now)  # an evicted pod ends Failed
        running = (state == RUNNING) & ~done
        units = self.slot_unit[running]
        self.unit_progress[units] += self.slot_gpus[running] * dt
        self.slot_since[running] += dt
        jobs = self.slot_job[running]
        finished = self.unit_progress[units] >= self.work[jobs] - 1e-9
        for slot in np.flatnonzero(running)[finished]:
            unit = self.slot_unit[slot]
            job = int(self.slot_job[slot])
            self.unit_progress[unit] = self.work[job]
            self.unit_checkpoint[unit] = self.work[job]
            self.unit_done[unit] = True
            self.job_recent_failures[job] = 0
            self._end_pod(int(slot))
            if self.unit_done[self.unit_job == job].all():
                self.outcome.jobs_completed += 1
        due = running.copy()
        due[np.flatnonzero(running)[finished]] = False
        due &= (self.slot_since >= self.interval[np.maximum(self.slot_job, 0)]) & (
            self.slot_state == RUNNING
        )
        state[due] = WRITING
        self.slot_left[due] = self.write[self.slot_job[due]]

    # ------------------------------------------------------------------ run
    def snapshot(self, k: int) -> FleetSnapshot:
        """The fleet at step k, for metrics (counters cumulative since the start)."""
        c = self.conditions
        now = float(c.grid.offsets_seconds[k])
        active = self.slot_state != FREE
        return FleetSnapshot(
            constellation=self.name,
            simulated_time=c.grid.instant(now),
            satellites=self.satellite_names,
            planes=self.planes,
            gpus_per_satellite=self.power.gpus,
            illumination=c.illumination[:, k].astype(np.float64),
            state_of_charge=self.soc / max(self.power.battery_wh, 1e-9),
            solar_power_w=c.illumination[:, k].astype(np.float64) * self.power.solar_array_w,
            load_power_w=self.load_w.copy(),
            ground_link=c.link[:, k].copy(),
            latitude_deg=c.latitude_deg[:, k].astype(np.float64),
            longitude_deg=c.longitude_deg[:, k].astype(np.float64),
            altitude_km=c.altitude_km[:, k].astype(np.float64),
            seconds_to_eclipse=c.seconds_to_shadow[:, k].astype(np.float64),
            gpus_busy=(self.gpu_owner >= 0).sum(axis=1),
            power_available=self.powered.copy(),
            ready=(self.down_until <= now) & ~self.restart_pending,
            upsets_total=self.upsets_by_satellite.copy(),
            solar_energy_j_total=self.solar_energy_j.copy(),
            evictions_total={
                reason: count
                for reason, count in self.outcome.evictions.items()
                if reason != "refused-by-pdb"
            },
            pod_failures_total=dict(self.outcome.pod_failures),
            pods_by_phase={
                "Running": int(active.sum()),
                "Pending": self._pending_pods(),
                "Succeeded": int(self.unit_done.sum()),
                "Failed": int(sum(self.outcome.pod_failures.values())),
            },
            completed_gpu_seconds=self.useful_gpu_seconds(),
            lost_gpu_seconds=self.outcome.lost_gpu_seconds,
            energy_bound_gpu_seconds=self.live_bound_gpu_seconds,
            jobs_completed=self.outcome.jobs_completed,
            policy=self.policy,
        )

    def _pending_pods(self) -> int:
        """Pods the Job controller would have created that are not running."""
        pending = 0
        for job, spec in enumerate(self.jobs):
            if self.job_failed[job]:
                continue
            waiting = int((~self.unit_done & ~self.unit_running & (self.unit_job == job)).sum())
            pending += min(waiting, max(spec.parallelism - int(self.job_running[job]), 0))
        return pending

    def run(
        self,
        steps: int,
        progress: Callable[[int], None] | None = None,
        sample_every: int = 1,
        on_snapshot: Callable[[FleetSnapshot], None] | None = None,
        snapshot_every: int = 6,
    ) -> Outcome:
        offsets = self.conditions.grid.offsets_seconds
        busy_trace, soc_trace, useful_trace = [], [], []
        for k in range(steps):
            now = float(offsets[k])
            self.apply_upsets(now, now + self.dt)
            view = self.view(k, now)
            self.drain(view)
            view = self.view(k, now)
            self.create_and_schedule(view, now)
            self.power_step(k, now)
            self.progress_step(now)
            if k % sample_every == 0:
                busy_trace.append((self.gpu_owner >= 0).sum(axis=1).astype(np.int16))
                soc_trace.append((self.soc / max(self.power.battery_wh, 1e-9)).astype(np.float32))
                useful_trace.append(self.useful_gpu_seconds())
            if on_snapshot is not None and k % snapshot_every == 0:
                on_snapshot(self.snapshot(k))
            if progress is not None:
                progress(k)
        self.outcome.completed_gpu_seconds = self.useful_gpu_seconds()
        self.outcome.timeline = {
            "busy_gpus": np.array(busy_trace).T,
            "state_of_charge": np.array(soc_trace).T,
            "useful_gpu_seconds": np.array(useful_trace),
        }
        return self.outcome

    def useful_gpu_seconds(self) -> float:
        """Work not lost: finished units plus progress kept by running or checkpointed pods."""
        return float(self.unit_progress.sum())
