"""Drain EclipseDrain (reactive): a satellite that leaves full sunlight or is upset keeps
no pod."""

from __future__ import annotations

import numpy as np

from kubesat.engine.events import EvictionReason
from kubesat.engine.plugins.framework import Counts, FleetNow, Keep, Rows, Seconds


def nothing_out_of_sun(fleet: FleetNow, lead: Seconds) -> Counts:
    view = fleet.view
    drain = (view.illumination < 1.0) | view.upset
    return np.where(drain, 0, view.busy_gpus)


def eclipse_or_upset(
    fleet: FleetNow, lead: Seconds, over: Rows, busy_after: Counts
) -> list[EvictionReason]:
    upset = fleet.view.upset
    return [EvictionReason.UPSET if upset[sat] else EvictionReason.ECLIPSE for sat in over]


ECLIPSE_DRAIN = Keep("EclipseDrain", nothing_out_of_sun, eclipse_or_upset)
