"""Filter and cap PowerRunway: the satellite's power runway (sunlight plus battery, the bus
served first) with the pod's GPUs added covers the runway the pod needs; and no more pods
than keep that runway (and stay below the maximum temperature as long). The predictive
policy's forecast at work."""

from __future__ import annotations

import numpy as np

from kubesat.core.policy import max_gpus_with_runway, runway_with
from kubesat.engine.plugins.framework import (
    Cap,
    Counts,
    Filter,
    FilterReason,
    FleetNow,
    Mask,
    PodShape,
    Rows,
)


def power_runway_covers(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    out = ok.copy()
    rows = np.flatnonzero(ok)  # the runway only of the satellites the rest lets through
    loaded = fleet.view.busy_gpus[rows] + pod.gpus
    out[rows] = runway_with(fleet.power, fleet.view, loaded, rows) >= pod.runway_seconds
    return out


def pods_within_runway(fleet: FleetNow, pod: PodShape, rows: Rows) -> Counts:
    most = max_gpus_with_runway(fleet.power, fleet.view, pod.runway_seconds, rows)
    return np.asarray(np.maximum(most - fleet.view.busy_gpus[rows], 0) // pod.gpus, np.int64)


POWER_RUNWAY = Filter(
    "PowerRunway", FilterReason.POWER_RUNWAY, power_runway_covers, reads_runway=True
)
POWER_RUNWAY_CAP = Cap("PowerRunway", pods_within_runway, reads_runway=True)
