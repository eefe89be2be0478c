import numpy as np

from kubesat.engine.plugins.framework import FilterReason, PodShape, Rejections, explain
from kubesat.engine.plugins.registry import policy_named
from tests.unit.engine.plugins.cases import fleet


def test_each_satellite_counts_for_the_first_filter_that_rejects_it():
    now = fleet(
        ready=[False, True, True, True],
        upset=[True, True, False, False],
        free_gpus=[0, 0, 1, 4],
    )
    passing, reasons = explain(policy_named("reactive").filters, now, PodShape(2))
    assert passing.tolist() == [False, False, False, True]
    assert reasons == {
        str(FilterReason.NOT_READY): 1,
        str(FilterReason.UPSET): 1,
        str(FilterReason.INSUFFICIENT_GPU): 1,
    }


def test_the_shells_own_checks_come_first_and_the_mask_is_the_policys():
    now = fleet(free_gpus=[0, 4, 4])
    first = (("node not registered", np.array([True, False, True])),)
    policy = policy_named("none")
    passing, reasons = explain(policy.filters, now, PodShape(2), first)
    assert passing.tolist() == [False, False, True]
    assert reasons == {"node not registered": 1, str(FilterReason.INSUFFICIENT_GPU): 1}
    assert policy.feasible(now, PodShape(2)).tolist() == [False, True, True]


def test_the_message_reads_as_kube_schedulers():
    reasons = {"Insufficient nvidia.com/gpu": 20, "node not ready": 4}
    message = Rejections(24, reasons).message()  # type: ignore[arg-type]
    assert message == "0/24 nodes are available: 20 Insufficient nvidia.com/gpu, 4 node not ready."
