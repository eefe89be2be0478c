from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.plugins.link_score import LinkScore
from tests.unit.engine.plugins.cases import fleet


def test_half_a_point_in_ground_contact():
    now = fleet(link=[True, False])
    assert LinkScore().points(now, PodShape(1), None).tolist() == [0.5, 0.0]
