import numpy as np

from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.thermal_runway import THERMAL_RUNWAY
from tests.unit.engine.plugins.cases import everyone, fleet

# seconds to the maximum temperature with 0..4 GPUs busy
THERMAL = np.array([[np.inf, np.inf, 5000.0, 900.0, 300.0], [np.inf, 600.0, 200.0, 50.0, 0.0]])


def test_the_pods_gpus_must_stay_below_the_maximum_temperature_as_long_as_it_needs():
    now = fleet(busy_gpus=[1, 0], thermal_seconds=THERMAL)
    pod = PodShape(1, runway_seconds=1800.0)
    # satellite 0 with 2 busy: 5000 s; satellite 1 with 1 busy: 600 s
    assert THERMAL_RUNWAY.passes(now, pod, everyone(now)).tolist() == [True, False]
    assert THERMAL_RUNWAY.reason is FilterReason.THERMAL_RUNWAY


def test_without_a_thermal_model_every_satellite_passes():
    now = fleet(busy_gpus=[1, 0])
    pod = PodShape(1, runway_seconds=1800.0)
    assert THERMAL_RUNWAY.passes(now, pod, everyone(now)).tolist() == [True, True]
