from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.not_throttling import NOT_THROTTLING
from tests.unit.engine.plugins.cases import everyone, fleet


def test_a_throttling_satellite_is_rejected_for_heat():
    now = fleet(throttling=[True, False])
    assert NOT_THROTTLING.passes(now, PodShape(1), everyone(now)).tolist() == [False, True]
    assert NOT_THROTTLING.reason is FilterReason.HEAT_THROTTLING


def test_without_a_thermal_model_every_satellite_passes():
    now = fleet(ready=[True, True])
    assert NOT_THROTTLING.passes(now, PodShape(1), everyone(now)).tolist() == [True, True]
