"""Filter ThermalRunway: with the pod's GPUs added, the satellite stays below its maximum
temperature for the runway the pod needs (the thermal forecast; all pass without one)."""

from __future__ import annotations

import numpy as np

from kubesat.core.policy import thermal_runway_seconds
from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def stays_cool(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    if fleet.view.thermal_seconds is None:
        return ok
    out = ok.copy()
    rows = np.flatnonzero(ok)
    loaded = fleet.view.busy_gpus[rows] + pod.gpus
    out[rows] = thermal_runway_seconds(fleet.view, loaded, rows) >= pod.runway_seconds
    return out


THERMAL_RUNWAY = Filter("ThermalRunway", FilterReason.THERMAL_RUNWAY, stays_cool)
