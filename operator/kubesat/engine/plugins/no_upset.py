"""Filter: the satellite is not recovering from a radiation upset."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class NoUpset:
    name: ClassVar[str] = "NoUpset"
    reason: ClassVar[FilterReason] = FilterReason.UPSET
    node_level: ClassVar[bool] = True

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return ~fleet.view.upset
