"""Score: spread load like the default scheduler (kube-scheduler's LeastAllocated): the
share of the satellite's GPUs free."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FleetNow, PodShape, of_rows


class LeastAllocated:
    name: ClassVar[str] = "LeastAllocated"

    def points(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64] | None
    ) -> NDArray[np.float64] | None:
        free = of_rows(fleet.view.free_gpus, rows)
        return np.asarray(free / max(fleet.power.gpus, 1), dtype=np.float64)
