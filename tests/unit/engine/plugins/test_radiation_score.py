from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.plugins.view_scores import RADIATION_SCORE
from tests.unit.engine.plugins.cases import fleet


def test_two_points_off_in_high_radiation():
    now = fleet(high_radiation=[True, False])
    assert RADIATION_SCORE.points(now, PodShape(1), None).tolist() == [-2.0, 0.0]
