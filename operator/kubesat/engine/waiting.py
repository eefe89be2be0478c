"""Why a Job waits: every second a Job has no pod computing or checkpointing is put down
to one reason, in the words of the filter that left its pods no satellite.

The reason of a step is the binding one: the filter (or cap) at which the satellites
that could take the Job's pod ran out. A pod larger than any satellite, or a gang
larger than the fleet holds, can never fit; its whole wait says so.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

import numpy as np

from kubesat.core.workloads import JobSpec
from kubesat.engine.job_stats import WAIT_NAMES
from kubesat.engine.plugins.framework import FilterReason, FleetNow, Mask, PodShape
from kubesat.engine.plugins.registry import Policy


class WaitReason(IntEnum):
    """Why a Job waited (columns of `JobClock.waiting`)."""

    NEVER_FITS = 0  # a pod larger than any satellite, a gang larger than the fleet
    CAPACITY = 1  # the GPUs it needs are held by other Jobs (or kept for a gang)
    LINKS = 2  # a gang's members fit, but no set of satellites links them
    POWER = 3  # power runway, eclipse, low battery or a node restarting
    CONTACT = 4  # a link-bound pod finds no satellite in (long enough) ground contact
    HEAT = 5  # the radiator holds GPUs off, or the thermal runway is too short
    RADIATION = 6  # satellites recovering from radiation upsets
    BACKOFF = 7  # the Job controller's delay after failed pods
    SCHEDULER = 8  # its pods are another scheduler's to place


NOT_WAITING: Final = -1
assert len(WAIT_NAMES) == len(WaitReason)

FILTER_WAITS: Final = {
    FilterReason.NOT_READY: WaitReason.POWER,
    FilterReason.LOW_POWER: WaitReason.POWER,
    FilterReason.UPSET: WaitReason.RADIATION,
    FilterReason.ECLIPSE: WaitReason.POWER,
    FilterReason.HEAT_THROTTLING: WaitReason.HEAT,
    FilterReason.INSUFFICIENT_GPU: WaitReason.CAPACITY,
    FilterReason.NO_GROUND_LINK: WaitReason.CONTACT,
    FilterReason.CONTACT_TOO_SHORT: WaitReason.CONTACT,
    FilterReason.POWER_RUNWAY: WaitReason.POWER,
    FilterReason.THERMAL_RUNWAY: WaitReason.HEAT,
}


def never_fits(spec: JobSpec, satellites: int, gpus_per_satellite: int) -> str | None:
    """Why `spec`'s pods can never run on this fleet (one line naming the numbers), or
    None when they can."""
    gpus = spec.gpus_per_pod
    if gpus > gpus_per_satellite:
        return f"pods need {gpus} nvidia.com/gpu; a satellite has {gpus_per_satellite}"
    room = satellites * (gpus_per_satellite // gpus)
    if spec.gang and spec.completions > room:
        return (
            f"a gang of {spec.completions} pods of {gpus} nvidia.com/gpu; "
            f"the fleet holds {room} such pods at once"
        )
    return None


def binding_reason(
    policy: Policy, fleet: FleetNow, pod: PodShape, allowed: Mask | None
) -> WaitReason:
    """Why no satellite takes (more) pods of `pod`'s shape now: the filter at which the
    candidates ran out, else the caps; else others took the room first."""
    passing = np.ones(fleet.view.ready.shape, np.bool_)
    for plugin in policy.filters:
        left = passing & plugin.passes(fleet, pod, passing)
        if not left.any():
            return FILTER_WAITS[plugin.reason]
        passing = left
    if allowed is not None:
        passing &= allowed
        if not passing.any():
            return WaitReason.CAPACITY  # kept for a waiting gang
    rows = np.flatnonzero(passing)
    for cap in policy.caps:
        if not cap.most_pods(fleet, pod, rows).any():
            return WaitReason.POWER if cap.reads_runway else WaitReason.CAPACITY
    return WaitReason.CAPACITY
