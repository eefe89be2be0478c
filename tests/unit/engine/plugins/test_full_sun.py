from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.full_sun import FULL_SUN
from tests.unit.engine.plugins.cases import everyone, fleet


def test_penumbra_and_shadow_are_rejected_as_not_in_full_sunlight():
    now = fleet(illumination=[1.0, 0.4, 0.0])
    assert FULL_SUN.passes(now, PodShape(1), everyone(now)).tolist() == [True, False, False]
    assert str(FULL_SUN.reason) == "not in full sunlight"
    assert FULL_SUN.reason is FilterReason.ECLIPSE
