import numpy as np

from kubesat.core.workloads import JobSpec
from kubesat.engine.events import EvictionReason
from kubesat.engine.plugins.framework import FleetNow
from kubesat.engine.plugins.link_drain import LINK_DRAIN
from tests.unit.engine.plugins.cases import POWER, view
from tests.unit.engine.plugins.engines import engine_with


def test_a_link_bound_pod_leaves_when_the_contact_left_is_within_its_write_and_margin():
    serving = JobSpec(
        "serve",
        1,
        1e6,
        checkpoint_write_seconds=30.0,
        parallelism=2,
        completions=2,
        needs_ground_link=True,
        managed=True,
    )
    engine = engine_with("predictive", 2, serving, margin_seconds=60.0)
    first = engine.bind(0, 0, 1)
    second = engine.bind(0, 1, 1)
    assert first is not None and second is not None
    # the lead is the write, the margin and a step: 30 + 60 + 10 = 100 s
    now = FleetNow(POWER, view(link=[True, True], contact_left_seconds=[99.0, 100.0]))
    evictions = LINK_DRAIN.evictions(engine, now)
    assert evictions == [(engine.pod_slot[first], EvictionReason.LINK, 99.0)]


def test_pods_that_need_no_link_stay():
    engine = engine_with("predictive", 1, JobSpec("train", 1, 1e6, managed=True))
    assert engine.bind(0, 0, 1) is not None
    now = FleetNow(POWER, view(link=[False], contact_left_seconds=np.zeros(1)))
    assert LINK_DRAIN.evictions(engine, now) == []
