import numpy as np
import pytest

from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.plugins.view_scores import RUNWAY_SCORE
from tests.unit.engine.plugins.cases import fleet


def test_four_points_for_six_hours_of_runway_or_more():
    # satellite 1: in a 2000 s shadow, 1 GPU rides through (inf); 2 GPUs last 1078.6 s
    now = fleet(
        illumination=[1.0, 0.0],
        seconds_to_shadow=[np.inf, 0.0],
        shadow_seconds=[0.0, 2000.0],
        busy_gpus=[0, 1],
    )
    points = RUNWAY_SCORE.points(now, PodShape(1), None)
    assert points[0] == pytest.approx(4.0)
    runway_s = 1_510_000.0 / 1400.0  # (1 710 000 J - the bus's 200 000 J) / 2 GPUs
    assert points[1] == pytest.approx(4.0 * runway_s / (6 * 3600.0))
