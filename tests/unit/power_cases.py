"""Power systems with known behaviour, shared by the battery and policy tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from kubesat.core.policy import FleetView
from kubesat.core.power import PowerSystem

# A 1 kWh battery usable to 80% DoD, 95% each way, H100-class GPUs at 700 W, 300 W bus:
# 3 or 4 GPUs (2400 W, 3100 W with the bus) outdraw the 2000 W array even in full sun.
SMALL = PowerSystem(
    solar_array_w=2000.0,
    bus_power_w=300.0,
    gpu_power_w=700.0,
    gpus=4,
    battery_wh=1000.0,
    charge_efficiency=0.95,
    discharge_efficiency=0.95,
    depth_of_discharge=0.8,
)
# An 8-GPU satellite whose array covers the full load with margin to recharge.
FLEET = PowerSystem(
    solar_array_w=8000.0,
    bus_power_w=300.0,
    gpu_power_w=700.0,
    gpus=8,
    battery_wh=4000.0,
    charge_efficiency=0.95,
    discharge_efficiency=0.95,
    depth_of_discharge=0.8,
)


# 1 kWh at 50% depth of discharge: 500 Wh usable, 475 Wh delivered at 95% efficiency; a
# 3 kW array, a 100 W bus and four 700 W GPUs
HALF_DOD = replace(SMALL, solar_array_w=3000.0, bus_power_w=100.0, depth_of_discharge=0.5)


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
