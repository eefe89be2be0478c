"""Filter NodeReady: the satellite's node is Ready (not power-cycling after a latch-up,
not rebooting its payload after a low-voltage disconnect)."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def node_ready(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    return fleet.view.ready


NODE_READY = Filter("NodeReady", FilterReason.NOT_READY, node_ready, node_level=True)
