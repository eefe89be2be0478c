"""Filter and cap: the satellite has the pod's GPUs free (kube-scheduler's
NodeResourcesFit for `nvidia.com/gpu`), and takes as many pods as its free GPUs hold."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import FilterReason, FleetNow, PodShape


class GpuFit:
    name: ClassVar[str] = "GpuFit"
    reason: ClassVar[FilterReason] = FilterReason.INSUFFICIENT_GPU
    node_level: ClassVar[bool] = False

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        return fleet.view.free_gpus >= pod.gpus

    def most_pods(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        return fleet.view.free_gpus[rows] // pod.gpus
