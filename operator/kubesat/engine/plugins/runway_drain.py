"""Drain (predictive): a satellite keeps the most GPUs whose runway still covers a
checkpoint write plus a margin (the drain lead); pods beyond it are evicted just in
time, a few at a time, so the battery is spent on work and not on idle margin. The
reason is heat (`thermal`) where the power runway alone would keep them."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import max_gpus_with_runway
from kubesat.engine.events import EvictionReason
from kubesat.engine.plugins.framework import FleetNow


class RunwayDrain:
    name: ClassVar[str] = "RunwayDrain"
    reads_runway: ClassVar[bool] = True

    def keep(self, fleet: FleetNow, drain_lead_seconds: NDArray[np.float64]) -> NDArray[np.int64]:
        keep = max_gpus_with_runway(fleet.power, fleet.view, drain_lead_seconds)
        return np.minimum(fleet.view.busy_gpus, np.maximum(keep, 0))

    def reasons(
        self,
        fleet: FleetNow,
        drain_lead_seconds: NDArray[np.float64],
        over: NDArray[np.int64],
        busy_after: NDArray[np.int64],
    ) -> list[EvictionReason]:
        if fleet.view.thermal_seconds is None:
            return [EvictionReason.RUNWAY] * len(over)
        power_only = FleetNow(fleet.power, replace(fleet.view, thermal_seconds=None))
        power_keep = self.keep(power_only, drain_lead_seconds)
        return [
            EvictionReason.THERMAL if busy_after[sat] <= power_keep[sat] else EvictionReason.RUNWAY
            for sat in over
        ]
