"""Filter: the satellite's battery is above its floor (no low-voltage disconnect)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class Powered:
    name: ClassVar[str] = "Powered"
    reason: ClassVar[FilterReason] = FilterReason.LOW_POWER
    node_level: ClassVar[bool] = True

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return fleet.view.powered
