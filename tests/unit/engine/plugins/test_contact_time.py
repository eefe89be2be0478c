from kubesat.engine.plugins.contact_time import CONTACT_TIME
from kubesat.engine.plugins.framework import FilterReason, PodShape
from tests.unit.engine.plugins.cases import everyone, fleet


def test_a_link_bound_pod_needs_the_contact_left_to_cover_its_restore_and_write():
    now = fleet(link=[True, True], contact_left_seconds=[600.0, 100.0])
    pod = PodShape(1, needs_link=True, contact_seconds=240.0)
    assert CONTACT_TIME.passes(now, pod, everyone(now)).tolist() == [True, False]
    assert CONTACT_TIME.reason is FilterReason.CONTACT_TOO_SHORT
    # a pod that needs no link, or contacts not forecast: no opinion
    assert CONTACT_TIME.passes(now, PodShape(1), everyone(now)).tolist() == [True, True]
    unknown = fleet(link=[True, True])
    assert CONTACT_TIME.passes(unknown, pod, everyone(unknown)).tolist() == [True, True]
