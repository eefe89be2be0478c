"""Drain (reactive): a satellite that leaves full sunlight or is upset keeps no pod."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.events import EvictionReason
from kubesat.engine.plugins.framework import FleetNow


class EclipseDrain:
    name: ClassVar[str] = "EclipseDrain"

    def keep(self, fleet: FleetNow, drain_lead_seconds: NDArray[np.float64]) -> NDArray[np.int64]:
        view = fleet.view
        drain = (view.illumination < 1.0) | view.upset
        return np.where(drain, 0, view.busy_gpus)

    def reasons(
        self,
        fleet: FleetNow,
        drain_lead_seconds: NDArray[np.float64],
        over: NDArray[np.int64],
        busy_after: NDArray[np.int64],
    ) -> list[EvictionReason]:
        upset = fleet.view.upset
        return [EvictionReason.UPSET if upset[sat] else EvictionReason.ECLIPSE for sat in over]
