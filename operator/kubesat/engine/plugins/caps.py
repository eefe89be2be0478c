"""Caps: how many pods of a shape a satellite that passes the filters takes.

- GpuFit: as many as its free GPUs hold.
- PowerRunway (predictive): no more than keep the runway the pod needs, power and heat
  (`max_gpus_with_runway` reads both forecasts).
"""

from __future__ import annotations

import numpy as np

from kubesat.core.policy import max_gpus_with_runway
from kubesat.engine.plugins.framework import Cap, Counts, FleetNow, PodShape, Rows


def pods_in_free_gpus(fleet: FleetNow, pod: PodShape, rows: Rows) -> Counts:
    return fleet.view.free_gpus[rows] // pod.gpus


def pods_within_runway(fleet: FleetNow, pod: PodShape, rows: Rows) -> Counts:
    most = max_gpus_with_runway(fleet.power, fleet.view, pod.runway_seconds, rows)
    return np.asarray(np.maximum(most - fleet.view.busy_gpus[rows], 0) // pod.gpus, np.int64)


GPU_FIT_CAP = Cap("GpuFit", pods_in_free_gpus)
POWER_RUNWAY_CAP = Cap("PowerRunway", pods_within_runway, reads_runway=True)
