from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.powered import POWERED
from tests.unit.engine.plugins.cases import everyone, fleet


def test_a_satellite_after_a_low_voltage_disconnect_is_rejected_for_low_power():
    now = fleet(powered=[False, True])
    assert POWERED.passes(now, PodShape(1), everyone(now)).tolist() == [False, True]
    assert str(POWERED.reason) == "low power"
    assert POWERED.reason is FilterReason.LOW_POWER
