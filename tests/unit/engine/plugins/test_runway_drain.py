import numpy as np

from kubesat.engine.events import EvictionReason
from kubesat.engine.plugins.runway_drain import RUNWAY_DRAIN
from tests.unit.engine.plugins.cases import fleet

# satellite 0 in a 1500 s shadow with 200 Wh above the floor: 684 000 J delivered, the bus
# keeps 150 000 J; the GPUs get 534 000 J: 4 GPUs last 190.7 s, 3 GPUs 254.3 s, 2 381.4 s
SHADOW = {
    "illumination": [0.5, 1.0],
    "busy_gpus": [4, 4],
    "free_gpus": [0, 0],
    "soc_wh": [700.0, 1000.0],
    "seconds_to_shadow": [0.0, np.inf],
    "shadow_seconds": [1500.0, 0.0],
}


def test_a_satellite_keeps_the_most_gpus_whose_runway_covers_the_lead():
    plugin = RUNWAY_DRAIN
    now = fleet(**SHADOW)
    assert plugin.keep(now, np.full(2, 300.0)).tolist() == [2, 4]
    assert plugin.keep(now, np.full(2, 250.0)).tolist() == [3, 4]
    assert plugin.keep(now, np.full(2, 190.0)).tolist() == [4, 4]
    reasons = plugin.reasons(now, np.full(2, 300.0), np.array([0]), np.array([4, 4]))
    assert reasons == [EvictionReason.RUNWAY]


def test_the_reason_is_heat_where_the_power_runway_alone_would_keep_them():
    # satellite 1 has endless power but reaches its maximum temperature in 120 s with 4
    # GPUs busy, 400 s with 3
    thermal = np.array([[np.inf] * 5, [np.inf, np.inf, np.inf, 400.0, 120.0]])
    now = fleet(**SHADOW, thermal_seconds=thermal)
    lead = np.full(2, 300.0)
    plugin = RUNWAY_DRAIN
    assert plugin.keep(now, lead).tolist() == [2, 3]
    reasons = plugin.reasons(now, lead, np.array([0, 1]), np.array([4, 4]))
    assert reasons == [EvictionReason.RUNWAY, EvictionReason.THERMAL]
