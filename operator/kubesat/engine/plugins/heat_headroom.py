"""Filter: a throttling satellite has the pod's GPUs left under its radiator's limit.

The view's free GPUs already leave out the GPUs the radiator cannot carry; this filter
names heat as the reason where those held-off GPUs are what the pod lacks, before
`GpuFit` would call it plain insufficient GPUs."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class HeatHeadroom:
    name: ClassVar[str] = "HeatHeadroom"
    reason: ClassVar[FilterReason] = FilterReason.HEAT_THROTTLING
    node_level: ClassVar[bool] = False

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        throttling = fleet.view.throttling
        if throttling is None:
            return ok
        return ~(throttling & (fleet.view.free_gpus < pod.gpus))
