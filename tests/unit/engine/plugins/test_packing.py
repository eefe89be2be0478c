import pytest

from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.plugins.view_scores import PACKING
from tests.unit.engine.plugins.cases import fleet


def test_busier_satellites_score_higher_half_a_point_when_full():
    now = fleet(free_gpus=[4, 2, 0])
    assert PACKING.points(now, PodShape(1), None) == pytest.approx([0.0, 0.25, 0.5])
