"""Score: pack GPUs onto busy satellites, keeping whole satellites free for large pods
(half a point for a full satellite)."""

from __future__ import annotations

from typing import ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FleetNow, PodShape, of_rows

WEIGHT: Final = 0.5


class Packing:
    name: ClassVar[str] = "Packing"

    def points(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64] | None
    ) -> NDArray[np.float64] | None:
        free = of_rows(fleet.view.free_gpus, rows)
        return np.asarray(WEIGHT * (1.0 - free / max(fleet.power.gpus, 1)), dtype=np.float64)
