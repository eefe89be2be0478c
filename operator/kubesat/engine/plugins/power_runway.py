"""Filter PowerRunway: the satellite's power runway (sunlight plus battery, the bus served
first) with the pod's GPUs added covers the runway the pod needs. The predictive policy's
forecast at work."""

from __future__ import annotations

import numpy as np

from kubesat.core.policy import runway_with
from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def power_runway_covers(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    out = ok.copy()
    rows = np.flatnonzero(ok)  # the runway only of the satellites the rest lets through
    loaded = fleet.view.busy_gpus[rows] + pod.gpus
    out[rows] = runway_with(fleet.power, fleet.view, loaded, rows) >= pod.runway_seconds
    return out


POWER_RUNWAY = Filter(
    "PowerRunway", FilterReason.POWER_RUNWAY, power_runway_covers, reads_runway=True
)
