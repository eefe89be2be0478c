from kubesat.engine.plugins.framework import FilterReason, PodShape
from kubesat.engine.plugins.ground_link import GROUND_LINK
from tests.unit.engine.plugins.cases import everyone, fleet


def test_a_link_bound_pod_needs_a_satellite_in_contact():
    now = fleet(link=[True, False])
    plugin = GROUND_LINK
    assert plugin.passes(now, PodShape(1, needs_link=True), everyone(now)).tolist() == [
        True,
        False,
    ]
    assert plugin.passes(now, PodShape(1), everyone(now)).tolist() == [True, True]
    assert GROUND_LINK.reason is FilterReason.NO_GROUND_LINK
