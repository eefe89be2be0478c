import pytest

from kubesat.engine.plugins.contact_score import CONTACT_SCORE
from kubesat.engine.plugins.framework import PodShape
from tests.unit.engine.plugins.cases import fleet


def test_a_link_bound_pod_prefers_the_longest_contact_up_to_ten_points_at_six_hours():
    now = fleet(link=[True, True, False], contact_left_seconds=[10800.0, 30000.0, 0.0])
    points = CONTACT_SCORE.points(now, PodShape(1, needs_link=True), None)
    assert points == pytest.approx([5.0, 10.0, 0.0])
    assert CONTACT_SCORE.points(now, PodShape(1), None) is None  # no opinion
