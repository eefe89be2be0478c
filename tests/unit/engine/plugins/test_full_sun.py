from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.full_sun import FullSun
from tests.unit.engine.plugins.cases import everyone, fleet


def test_penumbra_and_shadow_are_rejected_as_not_in_full_sunlight():
    now = fleet(illumination=[1.0, 0.4, 0.0])
    assert FullSun().passes(now, PodShape(1), everyone(now)).tolist() == [True, False, False]
    assert str(FullSun.reason) == "not in full sunlight"
    assert FullSun.reason is FilterReason.ECLIPSE
