"""Drain RunwayDrain (predictive): a satellite keeps the most GPUs whose runway still
covers a checkpoint write plus a margin (the drain lead); pods beyond it are evicted just
in time, a few at a time, so the battery is spent on work and not on idle margin. The
reason is heat (`thermal`) where the power runway alone would keep them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kubesat.core.policy import max_gpus_with_runway
from kubesat.engine.events import EvictionReason
from kubesat.engine.plugins.framework import Counts, FleetNow, Keep, Rows, Seconds


def gpus_with_runway(fleet: FleetNow, lead: Seconds) -> Counts:
    keep = max_gpus_with_runway(fleet.power, fleet.view, lead)
    return np.minimum(fleet.view.busy_gpus, np.maximum(keep, 0))


def runway_or_heat(
    fleet: FleetNow, lead: Seconds, over: Rows, busy_after: Counts
) -> list[EvictionReason]:
    if fleet.view.thermal_seconds is None:
        return [EvictionReason.RUNWAY] * len(over)
    power_only = FleetNow(fleet.power, replace(fleet.view, thermal_seconds=None))
    power_keep = gpus_with_runway(power_only, lead)
    heat, power = EvictionReason.THERMAL, EvictionReason.RUNWAY
    return [heat if busy_after[sat] <= power_keep[sat] else power for sat in over]


RUNWAY_DRAIN = Keep("RunwayDrain", gpus_with_runway, runway_or_heat, reads_runway=True)
