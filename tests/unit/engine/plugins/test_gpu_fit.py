import numpy as np

from kubesat.engine.plugins.caps import GPU_FIT_CAP
from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.gpu_fit import GPU_FIT
from tests.unit.engine.plugins.cases import everyone, fleet


def test_a_satellite_without_the_free_gpus_is_rejected_as_kube_scheduler_says():
    now = fleet(free_gpus=[4, 1, 2])
    assert GPU_FIT.passes(now, PodShape(2), everyone(now)).tolist() == [True, False, True]
    assert str(GPU_FIT.reason) == "Insufficient nvidia.com/gpu"
    assert GPU_FIT.reason is FilterReason.INSUFFICIENT_GPU


def test_a_satellite_takes_as_many_pods_as_its_free_gpus_hold():
    now = fleet(free_gpus=[4, 1, 3])
    rows = np.array([0, 2])
    assert GPU_FIT_CAP.most_pods(now, PodShape(2), rows).tolist() == [2, 1]
