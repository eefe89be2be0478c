"""Score: two points off inside high radiation (the South Atlantic Anomaly: proton flux
above the constellation's threshold), where upsets are likeliest."""

from __future__ import annotations

from typing import ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FleetNow, PodShape, of_rows

WEIGHT: Final = -2.0


class RadiationScore:
    name: ClassVar[str] = "RadiationScore"

    def points(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64] | None
    ) -> NDArray[np.float64] | None:
        return np.asarray(WEIGHT * of_rows(fleet.view.high_radiation, rows), dtype=np.float64)
