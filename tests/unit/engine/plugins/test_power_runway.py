import numpy as np

from kubesat.engine.plugins.caps import POWER_RUNWAY_CAP
from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.power_runway import POWER_RUNWAY
from tests.unit.engine.plugins.cases import everyone, fleet

# satellite 0 sunlit with no shadow ahead; 1 in a 2000 s shadow with a full battery
SHADOW = {
    "illumination": [1.0, 0.0],
    "seconds_to_shadow": [np.inf, 0.0],
    "shadow_seconds": [0.0, 2000.0],
}


def test_the_runway_with_the_pods_gpus_must_cover_what_the_pod_needs():
    # satellite 1: 500 Wh above the floor, 475 Wh = 1 710 000 J delivered; the bus keeps
    # 100 W x 2000 s = 200 000 J: 1 GPU lasts 2157 s (rides through), 2 GPUs 1078.6 s
    now = fleet(**SHADOW)
    plugin = POWER_RUNWAY
    one = plugin.passes(now, PodShape(1, runway_seconds=1800.0), everyone(now))
    two = plugin.passes(now, PodShape(2, runway_seconds=1800.0), everyone(now))
    assert one.tolist() == [True, True]
    assert two.tolist() == [True, False]
    assert POWER_RUNWAY.reason is FilterReason.POWER_RUNWAY


def test_only_the_satellites_still_passing_are_asked():
    now = fleet(**SHADOW)
    ok = np.array([False, True])
    assert POWER_RUNWAY.passes(now, PodShape(2, runway_seconds=1800.0), ok).tolist() == [
        False,
        False,
    ]


def test_the_cap_is_the_pods_whose_gpus_keep_the_runway():
    # 1 GPU keeps 2157 s >= 1800 s; 2 GPUs do not: one 1-GPU pod on satellite 1
    now = fleet(**SHADOW)
    most = POWER_RUNWAY_CAP.most_pods(now, PodShape(1, runway_seconds=1800.0), np.array([0, 1]))
    assert most.tolist() == [4, 1]
