"""Policies on hand-made cases whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from kubesat.core.policy import (
    FleetView,
    feasible,
    gpus_to_keep,
    max_gpus_with_runway,
    runway_seconds,
    score,
)
from kubesat.core.power import PowerSystem

# 1 kWh at 50% depth of discharge: 500 Wh usable, 475 Wh delivered at 95% efficiency
POWER = PowerSystem(
    solar_array_w=3000.0,
    bus_power_w=100.0,
    gpu_power_w=700.0,
    gpus=4,
    battery_wh=1000.0,
    charge_efficiency=0.95,
    discharge_efficiency=0.95,
    depth_of_discharge=0.5,
)


def view(**overrides) -> FleetView:
    n = len(next(iter(overrides.values()))) if overrides else 1
    base = {
        "illumination": np.ones(n),
        "soc_wh": np.full(n, 1000.0),
        "busy_gpus": np.zeros(n, np.int64),
        "free_gpus": np.full(n, 4, np.int64),
        "link": np.zeros(n, bool),
        "high_radiation": np.zeros(n, bool),
        "seconds_to_shadow": np.full(n, np.inf),
        "shadow_seconds": np.zeros(n),
        "powered": np.ones(n, bool),
        "ready": np.ones(n, bool),
        "upset": np.zeros(n, bool),
    }
    base.update({k: np.asarray(v) for k, v in overrides.items()})
    return FleetView(**base)


def test_runway_in_shadow_is_usable_energy_over_load():
    # in shadow now for 2000 s: 475 Wh / (100 + 2 x 700) W = 1140 s
    runway = runway_seconds(
        POWER, np.array([1000.0]), np.array([2]), np.array([0.0]), np.array([2000.0])
    )
    assert runway[0] == pytest.approx(475.0 * 3600 / 1500.0)


def test_runway_rides_through_short_shadow_and_counts_sunlit_time():
    # 1 GPU: 800 W load, 475 Wh last 2137 s > 1800 s shadow: rides through
    assert np.isinf(
        runway_seconds(
            POWER, np.array([1000.0]), np.array([1]), np.array([600.0]), np.array([1800.0])
        )
    )[0]
    # 4 GPUs: 2900 W < 3000 W of sun (battery full stays full), then 475 Wh / 2900 W = 590 s
    runway = runway_seconds(
        POWER, np.array([1000.0]), np.array([4]), np.array([600.0]), np.array([1800.0])
    )
    assert runway[0] == pytest.approx(600.0 + 475.0 * 3600 / 2900.0)


def test_runway_drains_in_sun_when_load_exceeds_the_array():
    weak = PowerSystem(1000.0, 100.0, 700.0, 4, 1000.0, 0.95, 0.95, 0.5)
    # 4 GPUs draw 2900 W against 1000 W of sun: 475 Wh at 1900 W = 900 s, before any shadow
    runway = runway_seconds(
        weak, np.array([1000.0]), np.array([4]), np.array([5000.0]), np.array([1000.0])
    )
    assert runway[0] == pytest.approx(475.0 * 3600 / 1900.0)


def test_max_gpus_with_runway_picks_the_largest_count_that_fits():
    v = view(seconds_to_shadow=[0.0], shadow_seconds=[2000.0], illumination=[0.0])
    # runway(n) = 475 Wh / (100 + 700 n) W: n=0 inf... n=1: 2137 s, n=2: 1140 s, n=3: 777 s
    assert max_gpus_with_runway(POWER, v, 1000.0)[0] == 2
    assert max_gpus_with_runway(POWER, v, 2000.0)[0] == 1
    assert max_gpus_with_runway(POWER, v, 1e9)[0] == 1  # 1 GPU rides through: inf


def test_filters_differ_by_policy():
    # satellite 0 sunlit with a long runway; 1 in shadow; 2 sunlit but eclipse soon, low battery
    v = view(
        illumination=[1.0, 0.0, 1.0],
        soc_wh=[1000.0, 1000.0, 520.0],
        seconds_to_shadow=[np.inf, 0.0, 300.0],
        shadow_seconds=[0.0, 2000.0, 2100.0],
    )
    need = 1800.0
    assert feasible("none", POWER, v, 1, False, need).tolist() == [True, True, True]
    assert feasible("reactive", POWER, v, 1, False, need).tolist() == [True, False, True]
    assert feasible("predictive", POWER, v, 1, False, need).tolist() == [True, True, False]
    # satellite 1: in shadow, but 1 GPU rides through the remaining 2000 s: predictive allows
    assert feasible("predictive", POWER, v, 2, False, need).tolist() == [True, False, False]


def test_link_bound_pods_need_a_link_and_predictive_scores_runway_first():
    v = view(
        link=[False, True],
        busy_gpus=[0, 3],
        free_gpus=[4, 1],
        seconds_to_shadow=[np.inf, 100.0],
        shadow_seconds=[0.0, 2000.0],
    )
    assert feasible("predictive", POWER, v, 1, True, 0.0).tolist() == [False, True]
    s = score("predictive", POWER, v, 1)
    assert s[0] > s[1]  # infinite runway beats a ground link with an eclipse coming


def test_drains_differ_by_policy():
    v = view(
        illumination=[0.5, 1.0],
        busy_gpus=[4, 4],
        free_gpus=[0, 0],
        soc_wh=[700.0, 1000.0],
        seconds_to_shadow=[0.0, np.inf],
        shadow_seconds=[1500.0, 0.0],
    )
    assert gpus_to_keep("none", POWER, v, 100.0).tolist() == [4, 4]
    assert gpus_to_keep("reactive", POWER, v, 100.0).tolist() == [0, 4]
    # 200 Wh above the floor, 190 Wh delivered: 4 GPUs last 236 s, 3 GPUs 311 s;
    # keep the most GPUs whose runway still covers a 300 s lead
    assert gpus_to_keep("predictive", POWER, v, 300.0).tolist() == [3, 4]
