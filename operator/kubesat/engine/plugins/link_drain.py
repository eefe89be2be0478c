"""Drain LinkDrain: link-bound pods leave (checkpointed) before loss of signal, when the
contact left is within their checkpoint write, the margin and one step of reaction."""

from __future__ import annotations

import numpy as np

from kubesat.engine.events import EvictionReason
from kubesat.engine.plugins.framework import FleetNow, PodDrain
from kubesat.engine.plugins.slots import FleetSlots


def before_loss_of_signal(
    s: FleetSlots, fleet: FleetNow
) -> list[tuple[int, EvictionReason, float]]:
    left_seconds = fleet.view.contact_left_seconds
    if left_seconds is None or not s.pod_slot:
        return []
    link_jobs = np.array([spec.needs_ground_link for spec in s.jobs], np.bool_)
    if not link_jobs.any():
        return []
    live = s.live_slots() & (s.slot_job >= 0)
    live &= link_jobs[np.maximum(s.slot_job, 0)]
    out = []
    for slot in np.flatnonzero(live):
        left = float(left_seconds[int(s.slot_sat[slot])])
        lead = float(s.write[s.slot_job[slot]]) + s.config.margin_seconds + s.dt
        if left < lead:
            out.append((int(slot), EvictionReason.LINK, left))
    return out


LINK_DRAIN = PodDrain("LinkDrain", before_loss_of_signal)
