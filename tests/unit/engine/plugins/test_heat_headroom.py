from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.heat_headroom import HEAT_HEADROOM
from tests.unit.engine.plugins.cases import everyone, fleet


def test_heat_is_the_reason_where_the_radiator_holds_off_the_gpus_a_pod_needs():
    # 0: throttling, 1 GPU left under the radiator; 1: throttling with 3 left; 2: cool, full
    now = fleet(throttling=[True, True, False], free_gpus=[1, 3, 0])
    passes = HEAT_HEADROOM.passes(now, PodShape(2), everyone(now))
    assert passes.tolist() == [False, True, True]  # satellite 2 lacks GPUs, not headroom
    assert HEAT_HEADROOM.reason is FilterReason.HEAT_THROTTLING
    assert not HEAT_HEADROOM.node_level
