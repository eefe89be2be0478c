"""The engine's state as plain JSON, so that a restarted operator continues the same timeline.

Floats are kept exact (JSON round-trips them): a battery rounded to a milliwatt-hour can
flip a drain decision one step earlier or later, and the restored run would part from the
one it continues. Pods go back into the slots they held, so every later step is the same.

Satellites are matched by name and Jobs by key, so a state written before a Job was
deleted or a satellite renamed still restores what matches. Restore after adding the Jobs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.fleet import FleetEngine
from kubesat.engine.heat_state import heat_state, restore_heat_state
from kubesat.engine.link_state import downlink_state, restore_downlink_state
from kubesat.engine.slot_state import FREE, RUNNING
from kubesat.engine.state import STATE_VERSION


def _floats(values: NDArray[Any]) -> list[float]:
    return [float(v) for v in values]


def to_state(engine: FleetEngine) -> dict[str, Any]:
    """Everything the next step depends on, as JSON-ready values."""
    e = engine
    names = list(e.names)
    now = e.now

    def sparse(values: NDArray[np.float64]) -> dict[str, float]:
        return {names[i]: float(values[i]) for i in np.flatnonzero(values > now)}

    broken = {
        names[i]: {
            str(j): float(e.gpu_broken_until[i, j])
            for j in np.flatnonzero(e.gpu_broken_until[i] > now)
        }
        for i in np.flatnonzero((e.gpu_broken_until > now).any(axis=1))
    }
    jobs: dict[str, Any] = {}
    for job, key in enumerate(e.job_keys):
        if not e.job_active[job]:
            continue
        units = e.units_of(job)
        jobs[key] = {
            "checkpoint": _floats(e.unit_checkpoint[units]),
            "progress": _floats(e.unit_progress[units]),
            "done": [int(i) for i in np.flatnonzero(e.unit_done[units])],
            "attempts": [int(v) for v in e.unit_attempts[units]],
            "failures": int(e.job_failures[job]),
            "recentFailures": int(e.job_recent_failures[job]),
            "notBefore": float(e.job_not_before[job]),
            "failed": bool(e.job_failed[job]),
            "complete": bool(e.job_complete[job]),
            "clock": e.job_clock.to_state(job),
        }
    pods = []
    for slot in np.flatnonzero(e.slot_state != FREE):
        sat = int(e.slot_sat[slot])
        pod = int(e.slot_pod[slot])
        pods.append(
            {
                "pod": pod,
                "slot": int(slot),
                "ref": e.pod_refs.get(pod),
                "job": e.job_keys[int(e.slot_job[slot])],
                "unit": int(e.unit_index[e.slot_unit[slot]]),
                "satellite": names[sat],
                "gpus": [int(g) for g in np.flatnonzero(e.gpu_owner[sat] == slot)],
                "state": int(e.slot_state[slot]),
                "left": float(e.slot_left[slot]),
                "since": float(e.slot_since[slot]),
                "evicted": bool(e.slot_evicted[slot]),
                "started": float(e.slot_started[slot]),
                "from": float(e.slot_from[slot]),
            }
        )
    c = e.counters
    heat, downlink = heat_state(e), downlink_state(e)
    return {
        **({"thermal": heat} if heat is not None else {}),
        **({"downlink": downlink} if downlink is not None else {}),
        "version": STATE_VERSION,
        "step": e.k,
        "stepSeconds": e.dt,
        "satellites": names,
        "stateOfChargeWh": [float(v) for v in e.soc],
        "bound": {
            "steps": e.bound.steps,
            "seconds": e.bound.seconds,
            "directJ": _floats(e.bound.direct_j),
            "busJ": _floats(e.bound.bus_j),
            "gpuRoomJ": _floats(e.bound.gpu_room_j),
            "storedJ": _floats(e.bound.stored_j),
            "runJ": _floats(e.bound.run_j),
            "runRoomJ": _floats(e.bound.run_room_j),
            "inRun": [bool(v) for v in e.bound.in_run],
        },
        "solarEnergyJ": [float(v) for v in e.solar_energy_j],
        "brownoutSeconds": [float(v) for v in e.brownout_seconds],
        "brownout": [names[i] for i in np.flatnonzero(e.brownout)],
        "restartPending": [names[i] for i in np.flatnonzero(e.restart_pending)],
        "downUntil": sparse(e.down_until),
        "busOffUntil": sparse(e.bus_off_until),
        "upsetUntil": sparse(e.upset_until),
        "upsetKind": {names[i]: int(e.upset_kind[i]) for i in np.flatnonzero(e.upset)},
        "gpuBrokenUntil": broken,
        "upsets": {
            names[i]: [int(v) for v in e.upsets_by_satellite[i]]
            for i in np.flatnonzero(e.upsets_by_satellite.any(axis=1))
        },
        "jobs": jobs,
        "pods": pods,
        "nextPod": e.next_pod,
        "counters": {
            "lostGpuSeconds": c.lost_gpu_seconds,
            "boundGpuSeconds": c.bound_gpu_seconds,
            "evictions": dict(c.evictions),
            "refusedEvictions": c.refused_evictions,
            "failures": dict(c.failures),
            "upsets": dict(c.upsets),
            "jobsCompleted": c.jobs_completed,
            "jobsFailed": c.jobs_failed,
            "podsStarted": c.pods_started,
            "busBrownoutSeconds": c.bus_brownout_seconds,
            "busBrownouts": c.bus_brownouts,
        },
    }


def restore_state(engine: FleetEngine, state: dict[str, Any]) -> bool:
    """Take back a `to_state` into an engine whose Jobs are added. False if unusable."""
    e = engine
    if not state or state.get("version") != STATE_VERSION:
        return False
    if not math.isclose(float(state.get("stepSeconds", 0.0)), e.dt):
        return False
    names = list(state.get("satellites") or [])
    index = {name: i for i, name in enumerate(e.names)}
    pairs = [(j, index[name]) for j, name in enumerate(names) if name in index]
    e.k = int(state.get("step", 0))

    def take(key: str, target: NDArray[np.float64]) -> None:
        values = state.get(key) or []
        for j, i in pairs:
            if j < len(values):
                target[i] = float(values[j])

    take("stateOfChargeWh", e.soc)
    bound = state.get("bound") or {}
    for key, target in (
        ("directJ", e.bound.direct_j),
        ("busJ", e.bound.bus_j),
        ("gpuRoomJ", e.bound.gpu_room_j),
        ("storedJ", e.bound.stored_j),
        ("runJ", e.bound.run_j),
        ("runRoomJ", e.bound.run_room_j),
    ):
        values = bound.get(key) or []
        for j, i in pairs:
            if j < len(values):
                target[i] = float(values[j])
    in_run = bound.get("inRun") or []
    for j, i in pairs:
        if j < len(in_run):
            e.bound.in_run[i] = bool(in_run[j])
    e.bound.steps = int(bound.get("steps", 0))
    e.bound.seconds = float(bound.get("seconds", 0.0))
    take("solarEnergyJ", e.solar_energy_j)
    take("brownoutSeconds", e.brownout_seconds)
    for name in state.get("brownout") or []:
        if name in index:
            e.brownout[index[name]] = True
    for name in state.get("restartPending") or []:
        if name in index:
            e.restart_pending[index[name]] = True
    e.powered = ~e.restart_pending
    for key, target in (
        ("downUntil", e.down_until),
        ("busOffUntil", e.bus_off_until),
        ("upsetUntil", e.upset_until),
    ):
        for name, value in (state.get(key) or {}).items():
            if name in index:
                target[index[name]] = float(value)
    for name, kind in (state.get("upsetKind") or {}).items():
        if name in index:
            e.upset_kind[index[name]] = int(kind)
    for name, gpus in (state.get("gpuBrokenUntil") or {}).items():
        if name in index:
            for j, value in gpus.items():
                if int(j) < e.g:
                    e.gpu_broken_until[index[name], int(j)] = float(value)
    for name, counts in (state.get("upsets") or {}).items():
        if name in index:
            e.upsets_by_satellite[index[name], : len(counts)] = counts
    for key, saved in (state.get("jobs") or {}).items():
        job = e.job_index(key)
        if job is None:
            continue
        units = e.units_of(job)
        columns: tuple[tuple[list[Any], NDArray[Any]], ...] = (
            (saved.get("checkpoint") or [], e.unit_checkpoint),
            (saved.get("progress") or [], e.unit_progress),
            (saved.get("attempts") or [], e.unit_attempts),
        )
        for values, target in columns:
            count = min(len(values), units.size)
            target[units[:count]] = values[:count]
        for i in saved.get("done") or []:
            if i < units.size:
                e.unit_done[units[i]] = True
        e.job_failures[job] = int(saved.get("failures", 0))
        e.job_recent_failures[job] = int(saved.get("recentFailures", 0))
        e.job_not_before[job] = float(saved.get("notBefore", 0.0))
        e.job_failed[job] = bool(saved.get("failed", False))
        e.job_complete[job] = bool(saved.get("complete", False))
        if saved.get("clock"):
            e.job_clock.restore(job, saved["clock"])
    for saved in state.get("pods") or []:
        _restore_pod(e, saved, index)
    e.next_pod = max(e.next_pod, int(state.get("nextPod", 0)))
    counters = state.get("counters") or {}
    c = e.counters
    c.lost_gpu_seconds = float(counters.get("lostGpuSeconds", 0.0))
    c.bound_gpu_seconds = float(counters.get("boundGpuSeconds", 0.0))
    c.evictions = {str(k): int(v) for k, v in (counters.get("evictions") or {}).items()}
    c.refused_evictions = int(counters.get("refusedEvictions", 0))
    c.failures = {str(k): int(v) for k, v in (counters.get("failures") or {}).items()}
    c.upsets = {str(k): int(v) for k, v in (counters.get("upsets") or {}).items()}
    c.jobs_completed = int(counters.get("jobsCompleted", 0))
    c.jobs_failed = int(counters.get("jobsFailed", 0))
    c.pods_started = int(counters.get("podsStarted", 0))
    c.bus_brownout_seconds = float(counters.get("busBrownoutSeconds", 0.0))
    c.bus_brownouts = int(counters.get("busBrownouts", 0))
    restore_heat_state(e, state.get("thermal"), pairs)
    restore_downlink_state(e, state.get("downlink"))
    e.decisions.clear()
    return True


def _restore_pod(e: FleetEngine, saved: dict[str, Any], index: dict[str, int]) -> None:
    job = e.job_index(str(saved.get("job")))
    sat = index.get(str(saved.get("satellite")))
    if job is None or sat is None:
        return
    units = e.units_of(job)
    units = units[e.unit_index[units] == int(saved.get("unit", -1))]
    gpus = np.array([g for g in saved.get("gpus") or [] if 0 <= g < e.g], np.int64)
    if units.size == 0 or gpus.size == 0 or (e.gpu_owner[sat, gpus] >= 0).any():
        return
    unit = int(units[0])
    progress = float(e.unit_progress[unit])
    attempts = int(e.unit_attempts[unit])
    pod = int(saved["pod"])
    e.restore_pod(unit, sat, gpus, pod, saved.get("slot"))
    e.counters.pods_started -= 1
    e.unit_attempts[unit] = attempts
    slot = e.pod_slot[pod]
    e.unit_progress[unit] = progress
    e.slot_state[slot] = int(saved.get("state", RUNNING))
    e.slot_left[slot] = float(saved.get("left", 0.0))
    e.slot_since[slot] = float(saved.get("since", 0.0))
    e.slot_evicted[slot] = bool(saved.get("evicted", False))
    e.slot_started[slot] = float(saved.get("started", e.now))
    e.slot_from[slot] = float(saved.get("from", e.unit_checkpoint[unit]))
    if saved.get("ref"):
        e.pod_refs[pod] = str(saved["ref"])
