"""Filter Powered: the satellite's battery is above its floor (no low-voltage disconnect)."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def powered(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    return fleet.view.powered


POWERED = Filter("Powered", FilterReason.LOW_POWER, powered, node_level=True)
