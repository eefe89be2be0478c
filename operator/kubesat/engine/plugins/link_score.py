"""Score: half a point for a satellite in ground contact (results and checkpoints can go
down)."""

from __future__ import annotations

from typing import ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FleetNow, PodShape, of_rows

WEIGHT: Final = 0.5


class LinkScore:
    name: ClassVar[str] = "LinkScore"

    def points(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64] | None
    ) -> NDArray[np.float64] | None:
        return np.asarray(WEIGHT * of_rows(fleet.view.link, rows), dtype=np.float64)
