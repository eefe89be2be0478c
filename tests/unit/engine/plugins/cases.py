"""A small fleet with known numbers for the plugin tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from kubesat.core.policy import FleetView
from kubesat.core.power import PowerSystem
from kubesat.engine.plugins.framework import FleetNow

# 1 kWh at 50% depth of discharge: 500 Wh usable, 475 Wh delivered at 95% efficiency
POWER = PowerSystem(
    solar_array_w=3000.0,
    bus_power_w=100.0,
    gpu_power_w=700.0,
    gpus=4,
    battery_wh=1000.0,
    charge_efficiency=0.95,
    discharge_efficiency=0.95,
    depth_of_discharge=0.5,
)


def view(**overrides: Any) -> FleetView:
    """Satellites in full sun with a full battery and 4 free GPUs, but for `overrides`."""
    n = len(next(iter(overrides.values()))) if overrides else 1
    base: dict[str, Any] = {
        "illumination": np.ones(n),
        "soc_wh": np.full(n, 1000.0),
        "busy_gpus": np.zeros(n, np.int64),
        "free_gpus": np.full(n, 4, np.int64),
        "link": np.zeros(n, bool),
        "high_radiation": np.zeros(n, bool),
        "seconds_to_shadow": np.full(n, np.inf),
        "shadow_seconds": np.zeros(n),
        "powered": np.ones(n, bool),
        "ready": np.ones(n, bool),
        "upset": np.zeros(n, bool),
    }
    base.update({k: v if v is None else np.asarray(v) for k, v in overrides.items()})
    return FleetView(**base)


def fleet(**overrides: Any) -> FleetNow:
    return FleetNow(POWER, view(**overrides))


def everyone(now: FleetNow) -> np.ndarray:
    return np.ones(now.view.ready.shape, bool)
