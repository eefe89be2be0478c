from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.plugins.view_scores import LINK_SCORE
from tests.unit.engine.plugins.cases import fleet


def test_half_a_point_in_ground_contact():
    now = fleet(link=[True, False])
    assert LINK_SCORE.points(now, PodShape(1), None).tolist() == [0.5, 0.0]
