"""Score: prefer full batteries (one point for a full one)."""

from __future__ import annotations

from typing import ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FleetNow, PodShape, of_rows

WEIGHT: Final = 1.0


class BatteryScore:
    name: ClassVar[str] = "BatteryScore"

    def points(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64] | None
    ) -> NDArray[np.float64] | None:
        part = of_rows(fleet.view.soc_wh, rows) / max(fleet.power.battery_wh, 1e-9)
        return np.asarray(WEIGHT * part, dtype=np.float64)
