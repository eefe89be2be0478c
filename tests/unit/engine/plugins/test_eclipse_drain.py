import numpy as np

from kubesat.engine.events import EvictionReason
from kubesat.engine.plugins.eclipse_drain import ECLIPSE_DRAIN
from tests.unit.engine.plugins.cases import fleet


def test_a_satellite_out_of_full_sun_or_upset_keeps_nothing_and_says_which():
    now = fleet(illumination=[0.5, 1.0, 1.0], upset=[False, True, False], busy_gpus=[4, 2, 3])
    lead = np.full(3, 100.0)
    plugin = ECLIPSE_DRAIN
    assert plugin.keep(now, lead).tolist() == [0, 0, 3]
    reasons = plugin.reasons(now, lead, np.array([0, 1]), np.array([4, 2, 3]))
    assert reasons == [EvictionReason.ECLIPSE, EvictionReason.UPSET]
