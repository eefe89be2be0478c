"""Filter GroundLink: a link-bound pod (`kubesat.io/needs-ground-link`) goes only to a
satellite in contact with a ground station."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def in_contact(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    return fleet.view.link if pod.needs_link else ok


GROUND_LINK = Filter("GroundLink", FilterReason.NO_GROUND_LINK, in_contact)
