"""The report: what the fleet and each Job did, read from the state (the Job report, the
snapshot that metrics and the simulator's tables are made of)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kubesat.core.links import link_state
from kubesat.engine.environment import Column
from kubesat.engine.job_stats import WAIT_NAMES, JobStats, projected_finish_seconds
from kubesat.engine.slot_state import FREE
from kubesat.engine.state import EPSILON, FleetState
from kubesat.telemetry import FleetSnapshot


def job_stats(s: FleetState, job: int) -> JobStats:
    """One Job's report now: time to finish (or projected), GPU time, where it went."""
    spec, clock = s.jobs[job], s.job_clock
    units = s.units_of(job)
    useful = float(s.unit_progress[units].sum())
    total = float(s.work[job]) * units.size
    finished = bool(s.job_complete[job] or s.job_failed[job])
    end = float(clock.finished_at[job]) if finished else s.now
    elapsed = max(end - float(clock.arrived_at[job]), 0.0)
    live = s.slots_of(job)
    live = live[np.argsort(s.unit_index[s.slot_unit[live]], kind="stable")]
    step = s.gang_steps.get(job)
    seconds = clock.seconds[job]
    return JobStats(
        name=f"{spec.namespace}/{spec.name}",
        gang=spec.gang,
        members=spec.members,
        gpus_per_pod=spec.gpus_per_pod,
        finished=bool(s.job_complete[job]),
        failed=bool(s.job_failed[job]),
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
        satellites=tuple(int(sat) for sat in s.slot_sat[live]),
        step_seconds=None if step is None else step.seconds,
        waiting={
            name: float(seconds)
            for name, seconds in zip(WAIT_NAMES, clock.waiting[job], strict=True)
            if seconds > 0
        },
        achievable_gpu_seconds=min(float(clock.reach_gpu_seconds[job]), total),
        never_fits=s.job_never_fits[job],
    )


def useful_gpu_seconds(s: FleetState) -> float:
    """Work not lost: finished units plus progress kept by running or checkpointed pods."""
    return float(s.unit_progress.sum())


def pending_pods(s: FleetState) -> int:
    """Pods the Job controllers would have created that are not running."""
    pending = 0
    for job, spec in enumerate(s.jobs):
        if not s.job_active[job] or s.job_failed[job]:
            continue
        span = s.job_units[job]
        waiting = int((~s.unit_done[span] & ~s.unit_running[span]).sum())
        pending += min(waiting, max(spec.parallelism - int(s.job_running[job]), 0))
    return pending


def snapshot(
    s: FleetState,
    column: Column,
    simulated_time: Any,
    pods_by_phase: dict[str, int] | None = None,
) -> FleetSnapshot:
    """The fleet now, for metrics (counters cumulative since the start)."""
    c = s.counters
    active = s.slot_state != FREE
    phases = pods_by_phase or {
        "Running": int(active.sum()),
        "Pending": pending_pods(s),
        "Succeeded": int(s.unit_done.sum()),
        "Failed": int(sum(c.failures.values()) + sum(c.evictions.values())),
    }
    # the step keeps the links only while a gang runs: between gangs, work them out here
    links, settings, pairs = s.links, s.config.links, s.config.link_pairs
    position_km = column.position_km
    if links is None and settings is not None and pairs is not None and position_km is not None:
        links = link_state(position_km, pairs, settings)
    links_up = int(links.up.sum()) if links is not None else None if settings is None else 0
    thermal = s.thermal is not None
    return FleetSnapshot(
        constellation=s.constellation,
        simulated_time=simulated_time,
        satellites=s.names,
        planes=s.planes,
        gpus_per_satellite=s.power.gpus,
        illumination=column.illumination,
        state_of_charge=s.soc / max(s.power.battery_wh, EPSILON),
        solar_power_w=column.illumination * s.power.solar_array_w,
        load_power_w=s.load_w.copy(),
        ground_link=column.link.copy(),
        latitude_deg=column.latitude_deg,
        longitude_deg=column.longitude_deg,
        altitude_km=column.altitude_km,
        seconds_to_eclipse=column.seconds_to_shadow,
        gpus_busy=s.busy_gpus(),
        power_available=s.powered.copy(),
        ready=s.ready,
        upsets_total=s.upsets_by_satellite.copy(),
        solar_energy_j_total=s.solar_energy_j.copy(),
        evictions_total=dict(c.evictions),
        pod_failures_total=dict(c.failures),
        pods_by_phase=phases,
        completed_gpu_seconds=useful_gpu_seconds(s),
        lost_gpu_seconds=c.lost_gpu_seconds,
        energy_bound_gpu_seconds=c.bound_gpu_seconds,
        jobs_completed=c.jobs_completed,
        policy=s.policy,
        bus_brownout_seconds_total=s.brownout_seconds.copy(),
        temperature_k=s.temperature_k.copy() if thermal else None,
        throttled_gpus=(s.g - s.heat_limit_gpus) if thermal else None,
        heat_rejected_j_total=s.heat_rejected_j.copy() if thermal else None,
        downlink_backlog_bytes=(
            s.downlink_backlog_bytes.copy()
            if any(spec.downlink_bytes > 0 for spec in s.jobs)
            else None
        ),
        jobs=tuple(job_stats(s, job) for job in range(len(s.jobs))),
        links_up=links_up,
    )
