import numpy as np

from kubesat.core.workloads import JobSpec
from kubesat.engine.plugins.hold_for_larger import HoldForLarger
from kubesat.engine.plugins.registry import policy_named
from tests.unit.engine.plugins.cases import fleet
from tests.unit.engine.plugins.engines import engine_with


def test_room_is_held_on_the_fullest_satellite_that_could_take_the_larger_pod():
    predictive = policy_named("predictive")
    filters, node_filters = predictive.filters, predictive.node_filters
    now = fleet(free_gpus=[2, 4, 4], busy_gpus=[2, 0, 0])
    free, busy = now.view.free_gpus, now.view.busy_gpus
    # one 4-GPU pod waits: satellite 1 (4 free, first of the fullest) is held for it
    held = HoldForLarger().held(filters, node_filters, now, free, busy, 1, {4: (1, 0.0)})
    assert held.tolist() == [0, 4, 0]
    # pods as large as those waiting are not held back
    assert (
        HoldForLarger().held(filters, node_filters, now, free, busy, 4, {4: (1, 0.0)}).tolist()
        == [0] * 3
    )


def test_draining_pods_and_unplaced_ones_are_waiting_for_room():
    train = JobSpec("train", 4, 1e6, managed=True)
    engine = engine_with("predictive", 1, train)
    pod = engine.bind(0, 0, 4)
    assert pod is not None
    engine.stop(pod)
    plugin = HoldForLarger()
    soon = plugin.draining(engine)
    assert soon == {4: (1, engine.required_runway(0))}
    plugin.unplaced(soon, 2, 3, 900.0)
    assert soon[2] == (3, 900.0)
    assert np.isfinite(soon[4][1])
