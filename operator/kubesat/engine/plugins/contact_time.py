"""Filter ContactTime: a link-bound pod goes only where the contact left (when known)
covers its restore, the checkpoint written before loss of signal, and the margin."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def contact_long_enough(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    left = fleet.view.contact_left_seconds
    if not pod.needs_link or left is None:
        return ok
    return left >= pod.contact_seconds


CONTACT_TIME = Filter("ContactTime", FilterReason.CONTACT_TOO_SHORT, contact_long_enough)
