"""Filter: the satellite's radiator carries every GPU (the reactive policy's thermal
taint: a throttling satellite takes no pod at all)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class NotThrottling:
    name: ClassVar[str] = "NotThrottling"
    reason: ClassVar[FilterReason] = FilterReason.HEAT_THROTTLING
    node_level: ClassVar[bool] = True

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        throttling = fleet.view.throttling
        return ok if throttling is None else ~throttling
