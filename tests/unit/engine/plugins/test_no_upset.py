from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.no_upset import NO_UPSET
from tests.unit.engine.plugins.cases import everyone, fleet


def test_an_upset_satellite_is_rejected_for_the_upset():
    now = fleet(upset=[False, True, False])
    assert NO_UPSET.passes(now, PodShape(1), everyone(now)).tolist() == [True, False, True]
    assert NO_UPSET.reason is FilterReason.UPSET
