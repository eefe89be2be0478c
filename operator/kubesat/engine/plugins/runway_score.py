"""Score: prefer long runways (power and heat, with the pod's GPUs added), up to four
points at six hours or more."""

from __future__ import annotations

from typing import ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import RUNWAY_SCORE_CAP_SECONDS, runway_with, thermal_runway_seconds
from kubesat.engine.plugins.framework import FleetNow, PodShape, of_rows

WEIGHT: Final = 4.0


class RunwayScore:
    name: ClassVar[str] = "RunwayScore"
    reads_runway: ClassVar[bool] = True

    def points(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64] | None
    ) -> NDArray[np.float64] | None:
        view = fleet.view
        loaded = of_rows(view.busy_gpus, rows) + pod.gpus
        runway = np.minimum(
            runway_with(fleet.power, view, loaded, rows),
            thermal_runway_seconds(view, loaded, rows),
        )
        part = np.minimum(runway, RUNWAY_SCORE_CAP_SECONDS) / RUNWAY_SCORE_CAP_SECONDS
        return np.asarray(WEIGHT * part, dtype=np.float64)
