"""Policies on hand-made cases whose right answer is known.

The analytic runway is also checked against the battery model itself: `battery_step`
stepped through the same sunlit-then-shadow forecast until it first leaves load unserved.
"""

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
from kubesat.core.power import PowerSystem, battery_step

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
# 1 kWh at 80% depth of discharge: 800 Wh usable, 760 Wh delivered; 3 or 4 GPUs (2400 W,
# 3100 W with the 300 W bus) outdraw the 2000 W array even in full sun.
SMALL = PowerSystem(
    solar_array_w=2000.0,
    bus_power_w=300.0,
    gpu_power_w=700.0,
    gpus=4,
    battery_wh=1000.0,
    charge_efficiency=0.95,
    discharge_efficiency=0.95,
    depth_of_discharge=0.8,
)
# An 8-GPU satellite whose array covers the full load with margin to recharge.
FLEET = PowerSystem(
    solar_array_w=8000.0,
    bus_power_w=300.0,
    gpu_power_w=700.0,
    gpus=8,
    battery_wh=4000.0,
    charge_efficiency=0.95,
    discharge_efficiency=0.95,
    depth_of_discharge=0.8,
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


def stepped_runway(power, soc_wh, gpus, seconds_to_shadow, shadow_seconds, dt):
    """Runway by stepping `battery_step` through full sun, then shadow, at a constant load.

    The time the battery first leaves part of the load unserved, np.inf if it never does
    within the forecast. Power is constant within a step, so in the step where the
    battery runs out it carried the deficit for dt x served / deficit: the crossing is
    exact. `seconds_to_shadow` and `shadow_seconds` must be whole numbers of steps.
    """
    soc_wh, gpus, to_shadow, shadow = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (soc_wh, gpus, seconds_to_shadow, shadow_seconds))
    )
    sun_steps, shadow_steps = np.rint(to_shadow / dt), np.rint(shadow / dt)
    assert np.allclose(sun_steps * dt, to_shadow) and np.allclose(shadow_steps * dt, shadow)
    stored_wh = soc_wh.copy()
    load_w = power.bus_power_w + gpus * power.gpu_power_w
    runway = np.full(stored_wh.shape, np.inf)
    for k in range(int((sun_steps + shadow_steps).max())):
        in_forecast = k < sun_steps + shadow_steps
        solar_w = np.where(k < sun_steps, power.solar_array_w, 0.0)
        deficit_w = np.maximum(load_w - solar_w, 0.0)
        stored_wh, short_w = battery_step(power, stored_wh, solar_w, load_w, dt)
        runs_out = in_forecast & (short_w > 1e-9) & np.isinf(runway)
        runway[runs_out] = k * dt + dt * (1 - short_w[runs_out] / deficit_w[runs_out])
    return runway


def test_runway_by_hand_charges_in_sun_then_drains_in_shadow():
    """10 min of sun then shadow, 2 GPUs + bus = 1600 W, 2000 W array, 90%/90%, 50% DoD.

    Sun: 400 W surplus stores 360 W for 600 s = 60 Wh; with 300 Wh above the floor the
    shadow draws 1600 / 0.9 W: (300 + 60) Wh x 3600 / 1777.8 W = 729 s -> 1329 s.
    """
    power = PowerSystem(2000.0, 200.0, 700.0, 4, 1000.0, 0.9, 0.9, 0.5)
    args = (power, np.array([800.0]), np.array([2.0]), np.array([600.0]), np.array([3000.0]))
    runway = runway_seconds(*args)
    assert runway[0] == pytest.approx(600 + (300 + 400 * 0.9 * 600 / 3600) * 3600 * 0.9 / 1600)
    assert runway[0] == pytest.approx(1329.0, abs=1e-6)
    assert stepped_runway(*args, dt=60.0)[0] == pytest.approx(1329.0, abs=1e-6)


def test_runway_infinite_zero_and_vectorised():
    runway = runway_seconds(
        SMALL,
        np.array([500.0, 1000.0, 200.0]),
        np.array([4.0, 0.0, 1.0]),
        np.array([np.inf, 0.0, 0.0]),
        np.array([0.0, 1800.0, 1800.0]),
    )
    # sun without end: 3100 W against 2000 W drains 300 Wh above the floor at 1100 / 0.95 W
    assert runway[0] == pytest.approx(300 * 3600 / (1100 / 0.95), abs=1e-6)
    # the bus alone in shadow: 760 Wh at 300 W last 9120 s, longer than the 1800 s shadow
    assert runway[1] == np.inf
    # already at the floor in shadow
    assert runway[2] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("power", [SMALL, FLEET], ids=["small", "fleet"])
def test_runway_agrees_with_stepping_the_battery_model(power):
    """Random states and forecasts: the analytic runway is where stepping runs short."""
    dt = 30.0
    rng = np.random.default_rng(5)
    n = 200
    floor_wh = power.battery_wh * power.floor_soc
    # at or above the floor: below it, `runway_seconds` counts sunlit charge from the floor
    # up, while the battery model first refills the gap below the floor (not compared)
    soc_wh = rng.uniform(floor_wh, power.battery_wh, n)
    gpus = rng.integers(0, power.gpus + 1, n).astype(np.float64)
    to_shadow = rng.integers(0, 121, n) * dt  # up to an hour of sun, often none
    to_shadow[rng.uniform(size=n) < 0.25] = 0.0
    shadow = rng.integers(0, 81, n) * dt  # up to 40 min of shadow
    runway = runway_seconds(power, soc_wh, gpus, to_shadow, shadow)
    stepped = stepped_runway(power, soc_wh, gpus, to_shadow, shadow, dt)
    np.testing.assert_array_equal(np.isinf(runway), np.isinf(stepped))
    finite = np.isfinite(runway)
    np.testing.assert_allclose(runway[finite], stepped[finite], rtol=0, atol=1e-6)  # seconds
    # both outcomes, and runs ending in sunlight as well as in shadow, were compared
    assert finite.any() and (~finite).any()
    assert (runway[finite] > to_shadow[finite]).any()
    if power is SMALL:
        assert (runway[finite] < to_shadow[finite]).any()


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


def test_max_gpus_riding_through_a_shadow_by_hand():
    """760 Wh delivered: 35 min carries 1302.9 W -> 1 GPU; 20 min 2280 W -> 2 GPUs."""
    v = view(
        illumination=[0.0, 0.0, 0.0, 0.0, 0.0],
        soc_wh=[1000.0, 1000.0, 500.0, 1000.0, 1000.0],
        seconds_to_shadow=[0.0, 0.0, 0.0, 0.0, 0.0],
        shadow_seconds=[2100.0, 1200.0, 1200.0, 0.0, 60.0],
    )
    # ride through (runway inf) is required; 500 Wh: 285 Wh / 20 min = 855 W, the bus only;
    # a zero-length shadow and a one-minute one carry every GPU
    assert max_gpus_with_runway(SMALL, v, np.inf).tolist() == [1, 2, 0, 4, 4]
    exact_s = 760 * 3600 / (300 + 2 * 700)  # exactly two GPUs plus the bus
    v = view(
        illumination=[0.0, 0.0],
        seconds_to_shadow=[0.0, 0.0],
        shadow_seconds=[exact_s - 1.0, exact_s + 1.0],
    )
    assert max_gpus_with_runway(SMALL, v, np.inf).tolist() == [2, 1]


@pytest.mark.parametrize("required_seconds", [np.inf, 900.0], ids=["ride-through", "900s"])
def test_max_gpus_with_runway_is_the_most_the_battery_model_carries(required_seconds):
    """The count keeps running that long when stepped through `battery_step`; one more not."""
    dt = 60.0
    soc_wh = np.array([4000.0, 3600.0, 2800.0, 2000.0, 1200.0, 1000.0, 1200.0, 2000.0])
    to_shadow = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 600.0, 300.0])
    shadow = np.array([3000.0, 3000.0, 1800.0, 1800.0, 1800.0, 1800.0, 3000.0, 2100.0])
    v = view(
        illumination=np.where(to_shadow > 0, 1.0, 0.0),
        soc_wh=soc_wh,
        seconds_to_shadow=to_shadow,
        shadow_seconds=shadow,
    )
    counts = max_gpus_with_runway(FLEET, v, required_seconds)
    assert (counts >= 0).all()  # every case carries at least the bus
    below_all = counts < FLEET.gpus
    assert below_all.sum() >= 3 and len(set(counts.tolist())) >= 3  # the test can bite
    kept = stepped_runway(FLEET, soc_wh, counts, to_shadow, shadow, dt)
    more = stepped_runway(FLEET, soc_wh, counts + 1, to_shadow, shadow, dt)
    assert (kept >= required_seconds).all(), kept
    assert (more[below_all] < required_seconds).all(), more


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
