"""The fleet engine: batteries, upsets, pods and Jobs of one constellation, one step at a time.

`FleetEngine` is the public API both shells drive; the state is a struct of arrays
(`state`) and each phase of the step is its own module. One step at time `now` (k x step
seconds after the clock's start) runs, in this order:

1. `upsets`     the radiation upsets drawn for [now, now + step)
2. `gangs`      the laser links now (when a gang may use them)
3. `drains`     the policy's drain plugins: evictions that write a checkpoint (budgets)
4. `placement`  pods for pending work: gangs whole (`gangs`), then by the policy's
                filters, caps and scores (`capacity`)
5. `power`      the power balance (a shortfall sheds the GPUs), with `heat`
6. `progress`   restores, running, checkpoints, drains ending, work done; `accounting`
7. `downlink`   results waiting on board go down during contacts

Pods start and end only through `lifecycle`. Every decision is recorded
(`take_decisions`) for the shell to act on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView
from kubesat.core.thermal import HeatBound
from kubesat.core.upsets import UpsetEvents, UpsetKind
from kubesat.core.workloads import DisruptionBudget, JobSpec
from kubesat.engine import drains, lifecycle, placement, power, progress, report, upsets
from kubesat.engine.config import EngineConfig, JobController
from kubesat.engine.downlink import downlink_step
from kubesat.engine.environment import Column
from kubesat.engine.events import Decision, EndReason, Notice, PodStarted
from kubesat.engine.gangs import links_now
from kubesat.engine.job_stats import JobStats
from kubesat.engine.plugins.framework import FleetNow, PodShape, explain
from kubesat.engine.plugins.registry import policy_named
from kubesat.engine.slot_state import SlotState
from kubesat.engine.state import NO_POD, FleetState
from kubesat.engine.views import fleet_view
from kubesat.engine.waiting import NOT_WAITING, never_fits
from kubesat.telemetry import FleetSnapshot


class FleetEngine(FleetState):
    """The state of one constellation's satellites, Jobs and pods, and its step."""

    def step(self, column: Column, events: UpsetEvents) -> None:
        """Advance one step from `now` with the environment `column` and the upsets drawn
        for [now, now + step) (time-ordered)."""
        before = self.now
        upsets.upset_step(self, events)
        self.links = links_now(self, column)
        self.flux = column.flux
        drains.drain_step(self, self.view(column))
        placement.place_step(self, self.view(column))
        power.power_step(self, column)
        progress.progress_step(self)
        downlink_step(self, column)
        self.k += 1
        upsets.recovered(self, before)

    def reconfigure(self, config: EngineConfig) -> None:
        """A new spec for the same satellites and step: hardware, policy, heat and links
        from now on. The temperatures go on (a new thermal model starts from its initial
        temperature); the bounds keep what they proved and add future steps with the
        new hardware."""
        if config.step_seconds != self.dt:
            raise ValueError(f"step_seconds: {config.step_seconds} differs from {self.dt}")
        self.config = config
        self.power = config.power
        self.policy = config.policy
        self.plugins = policy_named(config.policy)
        self.runway_cache = None
        self.bound.system = config.power
        old, self.thermal = self.thermal, config.thermal
        if self.thermal is None:
            self.heat_bound = None
            self.heat_limit_gpus = np.full(self.n, self.g, np.int64)
            self.throttling = np.zeros(self.n, np.bool_)
            self.heater_w = np.zeros(self.n)
        elif old is None or self.heat_bound is None:
            self.temperature_k = np.full(self.n, self.thermal.initial_temperature_k)
            self.heat_bound = HeatBound.start(self.thermal, self.temperature_k)
        else:
            self.heat_bound.system = self.thermal

    # -- Jobs -----------------------------------------------------------------------------

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
        self.job_wait = np.append(self.job_wait, NOT_WAITING)
        self.job_never_fits.append(never_fits(spec, self.n, self.g))
        reach = (
            0 if self.job_never_fits[-1] else spec.completions if spec.gang else spec.parallelism
        )
        self.job_reach_pods = np.append(self.job_reach_pods, reach)
        self.job_pod_gpus = np.append(self.job_pod_gpus, float(spec.gpus_per_pod))
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
        self.match_budgets()
        return job

    def job_index(self, key: str) -> int | None:
        for job, known in enumerate(self.job_keys):
            if known == key and self.job_active[job]:
                return job
        return None

    def remove_job(self, job: int) -> None:
        """The Job is gone: its pods stop where they are (their work goes with the Job)."""
        self.job_active[job] = False
        for slot in self.slots_of(job):
            lifecycle.end(self, int(slot), EndReason.DELETED, count=False)

    def set_budgets(self, budgets: tuple[DisruptionBudget, ...]) -> None:
        self.budgets = tuple(budgets)
        self.match_budgets()

    def match_budgets(self) -> None:
        """Which Jobs each PodDisruptionBudget covers (by their labels)."""
        self.budget_jobs = [
            [j for j, spec in enumerate(self.jobs) if b.matches(spec.labels)] for b in self.budgets
        ]

    # -- inputs from a shell --------------------------------------------------------------

    def take_decisions(self) -> list[Decision]:
        out, self.decisions = self.decisions, []
        return out

    def bind(self, job: int, sat: int, gpus: int, index: int | None = None) -> int | None:
        """A pod of `job` created and bound by someone else starts on `sat`; its pod id, or
        None when the satellite lacks the healthy GPUs or the Job has no unit left for it."""
        units = self.units_of(job)
        if index is not None:
            units = units[self.unit_index[units] == index]
        units = units[~self.unit_done[units] & ~self.unit_running[units]]
        if units.size == 0:
            return None
        # the unfinished unit with the most saved work (resumes the furthest)
        unit = int(units[np.argmax(self.unit_checkpoint[units])])
        healthy = self.free_gpu_slots(sat)
        if healthy.size < gpus or not self.ready[sat]:
            return None
        return lifecycle.start(self, unit, sat, healthy[:gpus], None)

    def restore_pod(
        self, unit: int, sat: int, gpus: NDArray[np.int64], pod: int, slot: int | None
    ) -> int:
        """A pod saved by `durable` starts again as it was (its own pod id and slot)."""
        return lifecycle.start(self, unit, sat, gpus, pod, slot=slot)

    def stop(self, pod: int) -> None:
        """Deletion requested (a user, a controller): write a checkpoint, then stop."""
        drains.stop(self, pod)

    def drop(self, pod: int) -> None:
        """The pod vanished without stopping (force-deleted): its work since the checkpoint
        is lost."""
        slot = self.pod_slot.get(pod)
        if slot is not None:
            lifecycle.end(self, slot, EndReason.DELETED)

    def inject_upset(self, sat: int, kind: UpsetKind, gpu: int | None = None) -> Notice:
        """An upset now, as if sampled (fault injection). Without a GPU: the first busy one."""
        return upsets.inject(self, sat, kind, gpu)

    # -- reading --------------------------------------------------------------------------

    def view(self, column: Column, allocated: NDArray[np.int64] | None = None) -> FleetView:
        """What the policy's plugins see of every satellite now (`allocated`: the GPUs of
        the pods a shell knows bound to each satellite, running or not)."""
        return fleet_view(self, column, allocated)

    def why_not(self, view: FleetView, pod: PodShape) -> tuple[NDArray[np.bool_], dict[str, int]]:
        """The satellites that can take a pod of `pod`'s shape now, and per reason how many
        the policy's filters reject (the first filter that rejects a satellite counts)."""
        passing, reasons = explain(self.plugins.filters, FleetNow(self.power, view), pod)
        return passing, dict(reasons)

    def drain_lead_seconds(self) -> NDArray[np.float64]:
        """Per satellite, how long before its runway ends a pod must be told to go."""
        return drains.drain_lead_seconds(self)

    def bound_gpu_seconds(self) -> NDArray[np.float64]:
        """Per satellite, the proven bound (energy and heat) of the steps so far."""
        return power.bound_gpu_seconds(self)

    def job_stats(self, job: int) -> JobStats:
        """One Job's report now: time to finish (or projected), GPU time, where it went."""
        return report.job_stats(self, job)

    def useful_gpu_seconds(self) -> float:
        """Work not lost: finished units plus progress kept by running or checkpointed pods."""
        return report.useful_gpu_seconds(self)

    def pending_pods(self) -> int:
        """Pods the Job controllers would have created that are not running."""
        return report.pending_pods(self)

    def pod_state(self, pod: int) -> SlotState:
        slot = self.pod_slot.get(pod)
        return SlotState.FREE if slot is None else SlotState(int(self.slot_state[slot]))

    def pod_sat(self, pod: int) -> int:
        slot = self.pod_slot.get(pod)
        return NO_POD if slot is None else int(self.slot_sat[slot])

    def pod_started(self, pod: int) -> PodStarted | None:
        """A live pod as its start decision (what a shell writes to create it again)."""
        slot = self.pod_slot.get(pod)
        if slot is None:
            return None
        unit = int(self.slot_unit[slot])
        return PodStarted(
            pod,
            int(self.slot_job[slot]),
            int(self.unit_index[unit]),
            int(self.unit_attempts[unit]) - 1,
            int(self.slot_sat[slot]),
            int(self.slot_gpus[slot]),
            float(self.slot_from[slot]),
            float(self.slot_started[slot]),
        )

    def live_pods(self) -> list[int]:
        return sorted(self.pod_slot)

    def snapshot(
        self, column: Column, simulated_time: Any, pods_by_phase: dict[str, int] | None = None
    ) -> FleetSnapshot:
        """The fleet now, for metrics (counters cumulative since the start)."""
        return report.snapshot(self, column, simulated_time, pods_by_phase)

    @property
    def goodput_ratio(self) -> float:
        bound = self.counters.bound_gpu_seconds
        return self.useful_gpu_seconds() / bound if bound > 0 else 0.0
