"""Power systems with known behaviour, shared by the battery and policy tests."""

from __future__ import annotations

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
