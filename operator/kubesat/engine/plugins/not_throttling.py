"""Filter NotThrottling: the satellite's radiator carries every GPU (the reactive policy's
thermal taint: a throttling satellite takes no pod at all)."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def not_throttling(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    throttling = fleet.view.throttling
    return ok if throttling is None else ~throttling


NOT_THROTTLING = Filter(
    "NotThrottling", FilterReason.HEAT_THROTTLING, not_throttling, node_level=True
)
