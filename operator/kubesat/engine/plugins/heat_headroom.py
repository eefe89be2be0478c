"""Filter HeatHeadroom: a throttling satellite has the pod's GPUs left under its
radiator's limit.

The view's free GPUs already leave out the GPUs the radiator cannot carry; this filter
names heat as the reason where those held-off GPUs are what the pod lacks, before
`GpuFit` would call it plain insufficient GPUs."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def heat_headroom(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    throttling = fleet.view.throttling
    if throttling is None:
        return ok
    return ~(throttling & (fleet.view.free_gpus < pod.gpus))


HEAT_HEADROOM = Filter("HeatHeadroom", FilterReason.HEAT_THROTTLING, heat_headroom)
