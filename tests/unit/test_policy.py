"""Policies on hand-made cases whose right answer is known.

The runway leaves the bus (served first, always) the stored energy it needs for the whole
coming shadow, bus x shadow / discharge efficiency: the GPUs may spend only the energy
above the floor beyond that. The analytic runway is also checked against the battery
model itself: `bus_first_step` stepped through the same sunlit-then-shadow forecast with
the bus every step and the GPUs until the energy above the floor no longer covers the
bus's energy for the rest of the shadow.
"""

from __future__ import annotations

import numpy as np
import pytest

from kubesat.core.policy import (
    FleetView,
    max_gpus_with_runway,
    runway_seconds,
    runway_table,
    runway_with,
)
from kubesat.core.power import SECONDS_PER_HOUR, PowerSystem, bus_first_step
from kubesat.engine.plugins.framework import FleetNow, PodShape
from kubesat.engine.plugins.registry import policy_named
from tests.unit.power_cases import FLEET, SMALL, view
from tests.unit.power_cases import HALF_DOD as POWER


def feasible(policy, power, view, gpus, needs_link, need, contact=0.0):
    """The policy's filters, as the engine runs them."""
    pod = PodShape(gpus, needs_link, need, contact)
    return policy_named(policy).feasible(FleetNow(power, view), pod)


def score(policy, power, view, gpus, needs_link=False, rows=None):
    """The policy's scores added, as the engine runs them."""
    return policy_named(policy).score(FleetNow(power, view), PodShape(gpus, needs_link), rows)


def gpus_to_keep(policy, power, view, lead):
    """The policy's keep plugin (all busy GPUs stay without one)."""
    keep = policy_named(policy).keep
    return view.busy_gpus.copy() if keep is None else keep.keep(FleetNow(power, view), lead)


def stepped_runway(power, soc_wh, gpus, seconds_to_shadow, shadow_seconds, dt):
    """Runway by stepping `bus_first_step` through full sun, then shadow: the bus every
    step, `gpus` GPUs until their runway ends; np.inf if it does not within the forecast.

    The runway of n > 0 GPUs ends the first time they draw on the battery while the energy
    above the floor no longer covers the bus's energy for the rest of the shadow (bus x
    remaining shadow / discharge efficiency), or the battery leaves them unserved. With no
    GPU it ends when the bus, drawing on the battery, takes it below the payload's floor
    (the bus alone may go on to the reserve). Power is constant within a step, so the
    moment is found by bisection on the step length: `bus_first_step` over part of the
    step from its start, to far below a microsecond. Asserts the bus is served in every
    step until the runway ends. `seconds_to_shadow` and `shadow_seconds` must be whole
    numbers of steps.
    """
    soc_wh, gpus, to_shadow, shadow = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (soc_wh, gpus, seconds_to_shadow, shadow_seconds))
    )
    sun_steps, shadow_steps = np.rint(to_shadow / dt), np.rint(shadow / dt)
    assert np.allclose(sun_steps * dt, to_shadow) and np.allclose(shadow_steps * dt, shadow)
    end_s = to_shadow + shadow
    floor_j = power.floor_soc * power.battery_j
    bus_w, payload_w = power.bus_power_w, gpus * power.gpu_power_w

    def margin_j(stored_wh, t):
        """Stored energy above the floor less the bus's for the rest of the shadow (J)."""
        rest_of_shadow_s = np.clip(end_s - np.maximum(t, to_shadow), 0.0, shadow)
        keep_j = np.where(gpus > 0, bus_w * rest_of_shadow_s / power.discharge_efficiency, 0.0)
        return stored_wh * SECONDS_PER_HOUR - floor_j - keep_j

    def ended(step, t):
        return (margin_j(step.stored_wh, t) < 0.0) | (step.payload_unserved_w > 1e-9)

    stored_wh = soc_wh.copy()
    runway = np.full(stored_wh.shape, np.inf)
    for k in range(int((sun_steps + shadow_steps).max())):
        t = k * dt
        live = np.isinf(runway) & (k < sun_steps + shadow_steps)
        solar_w = np.where(k < sun_steps, power.solar_array_w, 0.0)
        # the load the runway is about draws on the battery: the GPUs beyond the sunlight
        # the bus leaves them, or (no GPU) the bus beyond the sunlight
        draws = np.where(gpus > 0, payload_w > np.maximum(solar_w - bus_w, 0.0), bus_w > solar_w)
        at_start = live & draws & (margin_j(stored_wh, t) <= 0.0)
        runway[at_start] = t
        step = bus_first_step(power, stored_wh, solar_w, bus_w, payload_w, dt)
        within = live & ~at_start & draws & ended(step, t + dt)
        for i in np.flatnonzero(within):
            lo, hi = 0.0, dt  # not ended after lo seconds of the step, ended after hi
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                part = bus_first_step(power, stored_wh[i], solar_w[i], bus_w, payload_w[i], mid)
                lo, hi = (lo, mid) if ended(part, t + mid)[i] else (mid, hi)
            runway[i] = t + hi
        carried = live & ~at_start & ~within
        assert (step.bus_unserved_w[carried] <= 1e-9).all(), "the bus browned out"
        stored_wh = step.stored_wh
    return runway


def test_runway_by_hand_charges_in_sun_then_drains_in_shadow():
    """10 min of sun then 50 min of shadow, 2 GPUs + bus = 1600 W, 2000 W array, 90%/90%,
    50% DoD.

    Sun: the 400 W surplus stores 360 W for 600 s = 60 Wh, so 300 + 60 = 360 Wh are above
    the floor at entry, 360 x 0.9 x 3600 = 1 166 400 J delivered. The bus needs 200 W x
    3000 s = 600 000 J of them for the whole shadow; the GPUs get the other 566 400 J at
    1400 W: 404.571 s -> 1004.571 s.
    """
    power = PowerSystem(2000.0, 200.0, 700.0, 4, 1000.0, 0.9, 0.9, 0.5)
    args = (power, np.array([800.0]), np.array([2.0]), np.array([600.0]), np.array([3000.0]))
    runway = runway_seconds(*args)
    at_entry_wh = 300 + 400 * 0.9 * 600 / 3600
    assert runway[0] == pytest.approx(600 + (at_entry_wh * 0.9 * 3600 - 200 * 3000) / 1400)
    assert runway[0] == pytest.approx(1004.571429, abs=1e-6)
    assert stepped_runway(*args, dt=60.0)[0] == pytest.approx(runway[0], abs=1e-6)


def test_runway_infinite_zero_and_vectorised():
    runway = runway_seconds(
        SMALL,
        np.array([500.0, 1000.0, 200.0]),
        np.array([4.0, 0.0, 1.0]),
        np.array([np.inf, 0.0, 0.0]),
        np.array([0.0, 1800.0, 1800.0]),
    )
    # sun without end (no shadow, nothing kept for the bus): 3100 W against 2000 W drains
    # the 300 Wh above the floor at 1100 / 0.95 W
    assert runway[0] == pytest.approx(300 * 3600 / (1100 / 0.95), abs=1e-6)
    # the bus alone in shadow: 760 Wh at 300 W last 9120 s, longer than the 1800 s shadow
    assert runway[1] == np.inf
    # already at the floor in shadow
    assert runway[2] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("power", [SMALL, FLEET], ids=["small", "fleet"])
def test_runway_agrees_with_stepping_the_battery_model(power):
    """Random states and forecasts: the analytic runway is where stepping ends it.

    Power is constant within a step, so the energy above the floor less the bus's need is
    linear in time between steps: the stepped runway is exact (bisection), and the two
    agree to a microsecond.
    """
    dt = 30.0
    rng = np.random.default_rng(5)
    n = 200
    # from the bus's hard reserve up: below the payload's floor too (sunlight refills it)
    soc_wh = rng.uniform(power.reserve_soc * power.battery_wh, power.battery_wh, n)
    gpus = rng.integers(0, power.gpus + 1, n).astype(np.float64)
    to_shadow = rng.integers(0, 121, n) * dt  # up to an hour of sun, often none
    to_shadow[rng.uniform(size=n) < 0.25] = 0.0
    shadow = rng.integers(0, 81, n) * dt  # up to 40 min of shadow
    runway = runway_seconds(power, soc_wh, gpus, to_shadow, shadow)
    stepped = stepped_runway(power, soc_wh, gpus, to_shadow, shadow, dt)
    np.testing.assert_array_equal(np.isinf(runway), np.isinf(stepped))
    finite = np.isfinite(runway)
    np.testing.assert_allclose(runway[finite], stepped[finite], rtol=0, atol=1e-6)  # seconds
    # both outcomes, runs ending in sunlight as well as in shadow (GPUs and the bus alone),
    # with energy left above the floor for the bus, were compared
    assert finite.any() and (~finite).any()
    floor_wh = power.floor_soc * power.battery_wh
    in_shadow = finite & (runway > to_shadow)
    assert (in_shadow & (gpus > 0) & (shadow > 0) & (soc_wh > floor_wh)).sum() >= 10
    if power is SMALL:
        assert (runway[finite] < to_shadow[finite]).any()
        assert (in_shadow & (gpus == 0)).any()


def test_runway_in_shadow_is_usable_energy_less_the_bus_over_the_gpus():
    # in shadow now for 2000 s: 500 Wh above the floor deliver 475 Wh = 1 710 000 J; the
    # bus takes 100 W x 2000 s = 200 000 J, 2 GPUs the rest: 1 510 000 J / 1400 W = 1078.6 s
    runway = runway_seconds(
        POWER, np.array([1000.0]), np.array([2]), np.array([0.0]), np.array([2000.0])
    )
    assert runway[0] == pytest.approx((475.0 * 3600 - 100.0 * 2000) / 1400.0)
    assert runway[0] == pytest.approx(1078.571429, abs=1e-6)


def test_runway_rides_through_short_shadow_and_counts_sunlit_time():
    # the array carries the load in sun (the full battery stays full); the 30 min shadow
    # then leaves the GPUs 475 Wh x 3600 - 100 W x 1800 s = 1 530 000 J
    gpu_j = 475.0 * 3600 - 100.0 * 1800
    # 1 GPU: 1 530 000 J / 700 W = 2185.7 s > 1800 s: rides through
    assert np.isinf(
        runway_seconds(
            POWER, np.array([1000.0]), np.array([1]), np.array([600.0]), np.array([1800.0])
        )
    )[0]
    # 4 GPUs: 2900 W < 3000 W of sun, then 1 530 000 J / 2800 W = 546.4 s into the shadow
    runway = runway_seconds(
        POWER, np.array([1000.0]), np.array([4]), np.array([600.0]), np.array([1800.0])
    )
    assert runway[0] == pytest.approx(600.0 + gpu_j / 2800.0)
    assert runway[0] == pytest.approx(1146.428571, abs=1e-6)


def test_runway_drains_in_sun_when_load_exceeds_the_array():
    weak = PowerSystem(1000.0, 100.0, 700.0, 4, 1000.0, 0.95, 0.95, 0.5)
    # 4 GPUs draw 2900 W against 1000 W of sun, a 1900 W deficit, before any shadow; of the
    # 475 Wh = 1 710 000 J delivered above the floor the bus keeps 100 W x 1000 s for the
    # shadow to come: 1 610 000 J / 1900 W = 847.4 s, not the 900 s that spend it all
    runway = runway_seconds(
        weak, np.array([1000.0]), np.array([4]), np.array([5000.0]), np.array([1000.0])
    )
    assert runway[0] == pytest.approx((475.0 * 3600 - 100.0 * 1000) / 1900.0)
    assert runway[0] == pytest.approx(847.368421, abs=1e-6)
    stepped = stepped_runway(weak, np.array([1000.0]), np.array([4.0]), 5000.0, 1000.0, 100.0)
    assert stepped[0] == pytest.approx(runway[0], abs=1e-6)


def test_max_gpus_with_runway_picks_the_largest_count_that_fits():
    v = view(seconds_to_shadow=[0.0], shadow_seconds=[2000.0], illumination=[0.0])
    # 475 Wh delivered = 1 710 000 J, less the bus's 100 W x 2000 s, leaves the GPUs
    # 1 510 000 J: runway(n) = 1 510 000 J / (700 n W), n=1: 2157 s (> 2000 s: inf),
    # n=2: 1078.6 s, n=3: 719.0 s, n=4: 539.3 s
    assert max_gpus_with_runway(POWER, v, 1000.0)[0] == 2
    # a battery that did not keep the bus its energy would give 2 GPUs 1140 s
    assert max_gpus_with_runway(POWER, v, 1100.0)[0] == 1
    assert max_gpus_with_runway(POWER, v, 700.0)[0] == 3
    assert max_gpus_with_runway(POWER, v, 2000.0)[0] == 1
    assert max_gpus_with_runway(POWER, v, 1e9)[0] == 1  # 1 GPU rides through: inf


def test_max_gpus_riding_through_a_shadow_by_hand():
    """760 Wh delivered: 35 min carries 1302.9 W -> 1 GPU; 20 min 2280 W -> 2 GPUs.

    Riding through needs the bus and the GPUs carried to sunrise together, so keeping the
    bus its share first changes no count here.
    """
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
    """The count keeps running that long when stepped through `bus_first_step` with the
    bus's energy kept; one more not."""
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
    # satellite 2, 1 GPU: 300 s of sun store 2200 W x 0.95 x 300 s = 174.2 Wh, 194.2 Wh above
    # the floor at entry = 664 050 J delivered; the bus keeps 100 W x 2100 s = 210 000 J:
    # 454 050 J / 700 W = 648.6 s, a runway of 948.6 s < 1800 s
    assert feasible("none", POWER, v, 1, False, need).tolist() == [True, True, True]
    assert feasible("reactive", POWER, v, 1, False, need).tolist() == [True, False, True]
    assert feasible("predictive", POWER, v, 1, False, need).tolist() == [True, True, False]
    # satellite 1: in shadow, but 1 GPU rides through the remaining 2000 s (1 710 000 J -
    # 200 000 J for the bus = 1 510 000 J, 2157 s at 700 W): predictive allows; 2 GPUs
    # would last 1078.6 s
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
    # 200 Wh above the floor, 190 Wh = 684 000 J delivered; the bus keeps 100 W x 1500 s =
    # 150 000 J for the shadow, the GPUs get 534 000 J: 4 GPUs last 190.7 s, 3 GPUs
    # 254.3 s, 2 GPUs 381.4 s. Keep the most GPUs whose runway still covers the lead
    assert gpus_to_keep("predictive", POWER, v, 300.0).tolist() == [2, 4]
    assert gpus_to_keep("predictive", POWER, v, 250.0).tolist() == [3, 4]
    assert gpus_to_keep("predictive", POWER, v, 190.0).tolist() == [4, 4]


def random_view(rng: np.random.Generator, n: int, thermal: bool) -> FleetView:
    """Satellites in every state: some full, some in shadow, none forecast, with heat."""
    busy = rng.integers(0, POWER.gpus + 1, n)
    return view(
        illumination=rng.choice([0.0, 0.5, 1.0], n),
        soc_wh=rng.uniform(0.0, 1000.0, n),
        busy_gpus=busy,
        free_gpus=POWER.gpus - busy - rng.integers(0, 2, n) * (busy < POWER.gpus),
        link=rng.random(n) < 0.5,
        high_radiation=rng.random(n) < 0.2,
        seconds_to_shadow=np.where(rng.random(n) < 0.1, np.inf, rng.uniform(0, 4000, n)),
        shadow_seconds=rng.uniform(0, 2200, n),
        upset=rng.random(n) < 0.1,
        **({"thermal_seconds": rng.uniform(0, 9000, (n, POWER.gpus + 1))} if thermal else {}),
    )


@pytest.mark.parametrize("thermal", [False, True])
def test_a_runway_table_gives_the_same_decisions_bit_for_bit(thermal: bool) -> None:
    """The table the engine computes once per step changes no number the policy returns:
    each column is `runway_seconds` of that count, and the filter, score, runway cap and
    drain read from it exactly what they compute without it (counts beyond it too)."""
    rng = np.random.default_rng(7)
    plain = random_view(rng, 500, thermal)
    table = runway_table(
        POWER, plain.soc_wh, plain.seconds_to_shadow, plain.shadow_seconds, POWER.gpus + 1
    )
    tabled = FleetView(**{**plain.__dict__, "runway_by_gpus": table})
    for gpus in range(table.shape[1]):
        direct = runway_seconds(
            POWER, plain.soc_wh, float(gpus), plain.seconds_to_shadow, plain.shadow_seconds
        )
        np.testing.assert_array_equal(table[:, gpus], direct)
    loaded = plain.busy_gpus + 3  # past the table for the fuller satellites
    assert (loaded >= table.shape[1]).any() and (loaded < table.shape[1]).any()
    np.testing.assert_array_equal(
        runway_with(POWER, tabled, loaded), runway_with(POWER, plain, loaded)
    )
    for gpus in (1, 2, 4):
        for need in (0.0, 600.0, 3000.0):
            np.testing.assert_array_equal(
                feasible("predictive", POWER, tabled, gpus, False, need),
                feasible("predictive", POWER, plain, gpus, False, need),
            )
            np.testing.assert_array_equal(
                max_gpus_with_runway(POWER, tabled, need),
                max_gpus_with_runway(POWER, plain, need),
            )
        np.testing.assert_array_equal(
            score("predictive", POWER, tabled, gpus), score("predictive", POWER, plain, gpus)
        )
    lead = rng.uniform(100.0, 900.0, 500)
    np.testing.assert_array_equal(
        gpus_to_keep("predictive", POWER, tabled, lead),
        gpus_to_keep("predictive", POWER, plain, lead),
    )


@pytest.mark.parametrize("bus_power_w", [0.0, 180.0])
def test_runway_table_columns_are_runway_seconds_bit_for_bit(bus_power_w: float) -> None:
    """Counts that charge in the sun and counts that drain, no shadow forecast, in shadow
    now, an empty battery: each column equals `runway_seconds` of its count exactly."""
    rng = np.random.default_rng(11)
    power = PowerSystem(
        solar_array_w=4000.0, bus_power_w=bus_power_w, gpu_power_w=700.0, gpus=8,
        battery_wh=3000.0, charge_efficiency=0.93, discharge_efficiency=0.9,
    )  # fmt: skip
    n = 4000
    soc = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0.0, power.battery_wh, n))
    tau = rng.choice([np.inf, 0.0, 1.0], n, p=[0.15, 0.15, 0.7]) * rng.uniform(0.0, 6000.0, n)
    tau = np.where(np.isnan(tau), np.inf, tau)
    shadow = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0.0, 2400.0, n))
    table = runway_table(power, soc, tau, shadow, 16)
    net_sun_w = power.solar_array_w - power.bus_power_w - np.arange(17) * power.gpu_power_w
    assert (net_sun_w >= 0).any() and (net_sun_w < 0).any()
    for gpus in range(17):
        np.testing.assert_array_equal(
            table[:, gpus], runway_seconds(power, soc, float(gpus), tau, shadow)
        )


@pytest.mark.parametrize("with_table", [True, False], ids=["table", "computed"])
def test_score_and_runway_cap_of_some_rows_are_those_of_the_whole_fleet(with_table: bool) -> None:
    """The placement asks only about the satellites its filter lets through: the same
    numbers as for the whole fleet, bit for bit, whether the runway is looked up or not."""
    rng = np.random.default_rng(5)
    n = 3000
    busy = rng.integers(0, FLEET.gpus + 1, n)
    tau = np.where(rng.random(n) < 0.2, np.inf, rng.uniform(0.0, 5000.0, n))
    soc = rng.uniform(0.0, FLEET.battery_wh, n)
    shadow = np.where(np.isinf(tau), 0.0, rng.uniform(0.0, 2400.0, n))
    v = view(
        soc_wh=soc,
        busy_gpus=busy,
        free_gpus=FLEET.gpus - busy,
        seconds_to_shadow=tau,
        shadow_seconds=shadow,
        link=rng.random(n) < 0.3,
        high_radiation=rng.random(n) < 0.1,
        contact_left_seconds=np.where(rng.random(n) < 0.3, rng.uniform(0.0, 600.0, n), 0.0),
    )
    if with_table:
        table = runway_table(FLEET, soc, tau, shadow, FLEET.gpus)
        v = FleetView(**{**v.__dict__, "runway_by_gpus": table})
    rows = np.flatnonzero(rng.random(n) < 0.25)
    for gpus in (1, 2):
        for needs_link in (False, True):
            every = score("predictive", FLEET, v, gpus, needs_link)
            some = score("predictive", FLEET, v, gpus, needs_link, rows)
            np.testing.assert_array_equal(some, every[rows])
    lead = rng.uniform(60.0, 3000.0, n)
    for required in (900.0, lead):
        every_cap = max_gpus_with_runway(FLEET, v, required)
        assert len(set(every_cap[rows].tolist())) >= 3  # the test can bite
        np.testing.assert_array_equal(
            max_gpus_with_runway(FLEET, v, required, rows), every_cap[rows]
        )
