import pytest

from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.plugins.view_scores import BATTERY_SCORE
from tests.unit.engine.plugins.cases import fleet


def test_one_point_for_a_full_battery():
    now = fleet(soc_wh=[1000.0, 250.0])
    assert BATTERY_SCORE.points(now, PodShape(1), None) == pytest.approx([1.0, 0.25])
