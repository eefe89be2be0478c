"""Filter FullSun: the satellite is in full sunlight (the reactive policy's eclipse taint)."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def full_sun(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    return fleet.view.illumination >= 1.0


FULL_SUN = Filter("FullSun", FilterReason.ECLIPSE, full_sun, node_level=True)
