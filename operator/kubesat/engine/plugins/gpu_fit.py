"""Filter GpuFit: the satellite has the pod's GPUs free (kube-scheduler's NodeResourcesFit
for `nvidia.com/gpu`)."""

from __future__ import annotations

from kubesat.engine.plugins.framework import Filter, FilterReason, FleetNow, Mask, PodShape


def gpus_free(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    return fleet.view.free_gpus >= pod.gpus


GPU_FIT = Filter("GpuFit", FilterReason.INSUFFICIENT_GPU, gpus_free)
