"""The engine's thermal state as plain JSON (part of `durable.to_state`): temperatures,
the heat bound's sums and the heat counters, exact, so a restarted operator continues
the same temperatures and the same bound."""

from __future__ import annotations

from typing import Any

import numpy as np

from kubesat.engine.fleet import FleetEngine


def heat_state(engine: FleetEngine) -> dict[str, Any] | None:
    """Per-satellite temperatures and heat sums (None without a thermal model)."""
    e = engine
    if e.thermal is None or e.heat_bound is None:
        return None
    c = e.counters
    return {
        "temperatureK": [float(v) for v in e.temperature_k],
        "heatBoundStartJ": [float(v) for v in e.heat_bound.start_j],
        "heatBoundRejectionJ": [float(v) for v in e.heat_bound.rejection_j],
        "heatRejectedJ": [float(v) for v in e.heat_rejected_j],
        "heatLimitGpus": [int(v) for v in e.heat_limit_gpus],
        "throttling": [bool(v) for v in e.throttling],
        "throttledGpuSeconds": c.throttled_gpu_seconds,
        "thermalThrottles": c.thermal_throttles,
        "heaterEnergyJ": c.heater_energy_j,
    }


def restore_heat_state(
    engine: FleetEngine, saved: dict[str, Any] | None, pairs: list[tuple[int, int]]
) -> None:
    """Take back `heat_state`; `pairs` maps saved satellite positions to the engine's."""
    e = engine
    if not saved or e.thermal is None or e.heat_bound is None:
        return
    targets: tuple[tuple[str, Any], ...] = (
        ("temperatureK", e.temperature_k),
        ("heatBoundStartJ", e.heat_bound.start_j),
        ("heatBoundRejectionJ", e.heat_bound.rejection_j),
        ("heatRejectedJ", e.heat_rejected_j),
        ("heatLimitGpus", e.heat_limit_gpus),
        ("throttling", e.throttling),
    )
    for key, target in targets:
        values = saved.get(key) or []
        for j, i in pairs:
            if j < len(values):
                target[i] = values[j]
    e.throttling = np.asarray(e.throttling, np.bool_)
    c = e.counters
    c.throttled_gpu_seconds = float(saved.get("throttledGpuSeconds", 0.0))
    c.thermal_throttles = int(saved.get("thermalThrottles", 0))
    c.heater_energy_j = float(saved.get("heaterEnergyJ", 0.0))
