"""The heat phase: one lumped temperature per satellite. GPUs the radiator cannot carry
are held off (their pods die), a heater holds the minimum temperature, and the
temperature follows the step's heat (spec.thermal)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from kubesat.core.thermal import heat_limit_w, heater_w, thermal_step
from kubesat.engine.environment import Column
from kubesat.engine.events import EndReason, Notice, NoticeKind
from kubesat.engine.lifecycle import end
from kubesat.engine.slot_state import FREE
from kubesat.engine.state import EPSILON, FleetState


def heat_limit(s: FleetState, other_w: NDArray[np.float64]) -> NDArray[np.int64]:
    """Per satellite, the most GPUs whose heat, with `other_w`, ends a step at or below
    the maximum temperature."""
    assert s.thermal is not None
    spare_w = heat_limit_w(s.thermal, s.temperature_k, s.dt) - other_w
    gpu_w = max(s.power.gpu_power_w, EPSILON)
    return np.clip(np.floor(spare_w / gpu_w + EPSILON), 0, s.g).astype(np.int64)


def hold_off_hot_gpus(s: FleetState, other_w: NDArray[np.float64]) -> None:
    """The payload's thermal protection: GPUs beyond what the radiator carries this step
    are switched off; their pods die (the ones with the least unsaved work first)."""
    allowed = heat_limit(s, other_w)
    busy = s.busy_gpus()
    for sat in np.flatnonzero(busy > allowed):
        slots = [int(slot) for slot in np.unique(s.gpu_owner[sat][s.gpu_owner[sat] >= 0])]
        slots.sort(key=lambda slot: (s.slot_since[slot], s.slot_pod[slot]))
        killed, lost_work, left = [], 0.0, int(busy[sat])
        for slot in slots:
            if left <= allowed[sat]:
                break
            if s.slot_state[slot] == FREE:
                continue  # a gang member stopped with another member
            ended = end(s, slot, EndReason.OVERHEATED)
            killed.append(ended.pod)
            lost_work += ended.lost_gpu_seconds
            left = int((s.gpu_owner[sat] >= 0).sum())
        s.decisions.append(
            Notice(
                NoticeKind.THERMAL_THROTTLING,
                int(sat),
                s.now,
                pods=tuple(killed),
                lost_gpu_seconds=lost_work,
            )
        )


def heater_draw(s: FleetState, other_w: NDArray[np.float64]) -> NDArray[np.float64]:
    """The heaters' draw this step (kept for the heat step), with the GPUs busy now."""
    assert s.thermal is not None
    s.heater_w = heater_w(
        s.thermal, s.temperature_k, other_w + s.busy_gpus() * s.power.gpu_power_w, s.dt
    )
    return s.heater_w


def heat_step(s: FleetState, column: Column, environment_w: NDArray[np.float64]) -> None:
    """The temperature after the step's heat; the GPUs the radiator carries next."""
    thermal, dt = s.thermal, s.dt
    assert thermal is not None and s.heat_bound is not None
    s.temperature_k = thermal_step(thermal, s.temperature_k, s.load_w + environment_w, dt)
    s.heat_rejected_j += thermal.radiative_w_per_k4 * s.temperature_k**4 * dt
    s.counters.heater_energy_j += float(s.heater_w.sum()) * dt
    s.heat_bound.add(column.illumination, s.power.bus_power_w, dt)
    bus = np.where(s.bus_off_until <= s.now + dt, s.power.bus_power_w, 0.0)
    s.heat_limit_gpus = heat_limit(s, bus + environment_w)
    throttling = s.heat_limit_gpus < s.g
    s.counters.throttled_gpu_seconds += float((s.g - s.heat_limit_gpus).sum()) * dt
    s.counters.thermal_throttles += int((throttling & ~s.throttling).sum())
    for sat in np.flatnonzero(throttling != s.throttling):
        hot = bool(throttling[sat])
        kind = NoticeKind.THERMAL_THROTTLING if hot else NoticeKind.THERMAL_RECOVERED
        s.decisions.append(Notice(kind, int(sat), s.now + dt))
    s.throttling = throttling
