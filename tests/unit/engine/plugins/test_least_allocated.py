import numpy as np
import pytest

from kubesat.engine.plugins.framework import PodShape
from kubesat.engine.plugins.view_scores import LEAST_ALLOCATED
from tests.unit.engine.plugins.cases import fleet


def test_the_share_of_free_gpus_spreads_load():
    now = fleet(free_gpus=[4, 1, 0])
    assert LEAST_ALLOCATED.points(now, PodShape(1), None) == pytest.approx([1.0, 0.25, 0.0])
    rows = np.array([1])
    assert LEAST_ALLOCATED.points(now, PodShape(1), rows) == pytest.approx([0.25])
