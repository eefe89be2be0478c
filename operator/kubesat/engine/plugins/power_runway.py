"""Filter and cap: the satellite's power runway (sunlight plus battery, the bus served
first) with the pod's GPUs added covers the runway the pod needs; and no more pods than
keep that runway. The predictive policy's forecast at work."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import max_gpus_with_runway, runway_with
from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class PowerRunway:
    name: ClassVar[str] = "PowerRunway"
    reason: ClassVar[FilterReason] = FilterReason.POWER_RUNWAY
    node_level: ClassVar[bool] = False
    reads_runway: ClassVar[bool] = True

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        out = ok.copy()
        rows = np.flatnonzero(ok)  # the runway only of the satellites the rest lets through
        loaded = fleet.view.busy_gpus[rows] + pod.gpus
        out[rows] = runway_with(fleet.power, fleet.view, loaded, rows) >= pod.runway_seconds
        return out

    def most_pods(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """The heat forecast bounds it too (`max_gpus_with_runway` reads both)."""
        most = max_gpus_with_runway(fleet.power, fleet.view, pod.runway_seconds, rows)
        return np.asarray(np.maximum(most - fleet.view.busy_gpus[rows], 0) // pod.gpus, np.int64)
