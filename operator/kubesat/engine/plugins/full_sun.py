"""Filter: the satellite is in full sunlight (the reactive policy's eclipse taint)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class FullSun:
    name: ClassVar[str] = "FullSun"
    reason: ClassVar[FilterReason] = FilterReason.ECLIPSE
    node_level: ClassVar[bool] = True

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return fleet.view.illumination >= 1.0
