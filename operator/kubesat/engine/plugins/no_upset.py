"""Filter NoUpset: the satellite is not recovering from a radiation upset."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def no_upset(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    return ~fleet.view.upset


NO_UPSET = Filter("NoUpset", FilterReason.UPSET, no_upset, node_level=True)
