"""Filter and cap GpuFit: the satellite has the pod's GPUs free (kube-scheduler's
NodeResourcesFit for `nvidia.com/gpu`), and takes as many pods as its free GPUs hold."""

from __future__ import annotations

from kubesat.engine.plugins.framework import (
    Cap,
    Counts,
    Filter,
    FilterReason,
    FleetNow,
    Mask,
    PodShape,
    Rows,
)


def gpus_free(fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
    return fleet.view.free_gpus >= pod.gpus


def pods_in_free_gpus(fleet: FleetNow, pod: PodShape, rows: Rows) -> Counts:
    return fleet.view.free_gpus[rows] // pod.gpus


GPU_FIT = Filter("GpuFit", FilterReason.INSUFFICIENT_GPU, gpus_free)
GPU_FIT_CAP = Cap("GpuFit", pods_in_free_gpus)
