"""Filter: with the pod's GPUs added, the satellite stays below its maximum temperature
for the runway the pod needs (the thermal forecast; passes all without a thermal model)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import thermal_runway_seconds
from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class ThermalRunway:
    name: ClassVar[str] = "ThermalRunway"
    reason: ClassVar[FilterReason] = FilterReason.THERMAL_RUNWAY
    node_level: ClassVar[bool] = False

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        if fleet.view.thermal_seconds is None:
            return ok
        out = ok.copy()
        rows = np.flatnonzero(ok)
        loaded = fleet.view.busy_gpus[rows] + pod.gpus
        out[rows] = thermal_runway_seconds(fleet.view, loaded, rows) >= pod.runway_seconds
        return out
