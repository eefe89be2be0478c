"""Battery model, runway, eclipse ride-through and the goodput energy bound.

References are independent: a scalar per-step model written in Wh with plain if/else,
hand-computed cases, and a greedy scheduler run through `soc_series` itself.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from kubesat.core.power import (
    PowerSystem,
    eclipse_ride_through_gpus,
    energy_bound_gpu_seconds,
    runway_seconds,
    soc_series,
)

# A 1 kWh battery usable to 80% DoD, 95% each way, H100-class GPUs at 700 W, 300 W bus.
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


def orbit_illumination(steps: int, dt: float, phases: np.ndarray) -> np.ndarray:
    """(N, T) sunlight of a ~95 min orbit with a ~35 min eclipse and partly lit edge steps."""
    t = np.arange(steps) * dt
    angle = 2 * np.pi * t[None, :] / 5700.0 + phases[:, None]
    return np.clip((np.cos(angle) + 0.55) / 0.08, 0.0, 1.0)


def reference_soc(system: PowerSystem, illum, active, dt, soc0):
    """Scalar per-step battery model in Wh, written independently of the vectorised one."""
    soc = [soc0]
    shortfall = []
    energy_wh = soc0 * system.battery_wh
    floor_wh = system.floor_soc * system.battery_wh
    for frac, gpus in zip(illum, active, strict=True):
        net_w = frac * system.solar_array_w - (system.bus_power_w + gpus * system.gpu_power_w)
        if net_w >= 0:
            energy_wh = min(
                energy_wh + net_w * dt / 3600 * system.charge_efficiency,
                max(system.battery_wh, energy_wh),
            )
            shortfall.append(0.0)
        else:
            need_wh = -net_w * dt / 3600 / system.discharge_efficiency
            have_wh = max(energy_wh - floor_wh, 0.0)
            if need_wh <= have_wh:
                energy_wh -= need_wh
                shortfall.append(0.0)
            else:
                energy_wh -= have_wh
                shortfall.append(-net_w - have_wh * system.discharge_efficiency * 3600 / dt)
        soc.append(energy_wh / system.battery_wh)
    return np.array(soc), np.array(shortfall)


def greedy_gpu_seconds(system: PowerSystem, illum: np.ndarray, dt: float, soc0: np.ndarray):
    """GPU-seconds of the schedule running, each step, the most GPUs with no shortfall."""
    soc = np.array(soc0, dtype=float)
    total = np.zeros(len(soc))
    for k in range(illum.shape[1]):
        chosen = np.zeros(len(soc), dtype=int)
        for gpus in range(system.gpus, 0, -1):
            trace = soc_series(system, illum[:, k : k + 1], np.full(len(soc), gpus), dt, soc)
            fits = (trace.shortfall_w[:, 0] <= 0) & (chosen == 0)
            chosen[fits] = gpus
        trace = soc_series(system, illum[:, k : k + 1], chosen, dt, soc)
        total += np.where(trace.shortfall_w[:, 0] <= 0, chosen, 0) * dt
        soc = trace.soc[:, -1]
    return total


def achieved_gpu_seconds(system, illum, active, dt, soc0):
    """GPU-seconds a schedule really powers under the soc model (steps with no shortfall)."""
    trace = soc_series(system, illum, active, dt, soc0)
    return (np.where(trace.shortfall_w <= 0, active, 0) * dt).sum(axis=1)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("solar_array_w", -1.0, "solar_array_w: must be >= 0, got -1.0"),
        ("bus_power_w", -5.0, "bus_power_w: must be >= 0, got -5.0"),
        ("gpu_power_w", float("nan"), "gpu_power_w: must be >= 0, got nan"),
        ("battery_wh", -5.0, "battery_wh: must be > 0, got -5.0"),
        ("battery_wh", 0.0, "battery_wh: must be > 0, got 0.0"),
        ("gpus", -1, "gpus: must be an integer >= 0, got -1"),
        ("gpus", 2.5, "gpus: must be an integer >= 0, got 2.5"),
        ("charge_efficiency", 0.0, "charge_efficiency: must be in (0, 1], got 0.0"),
        ("discharge_efficiency", 1.1, "discharge_efficiency: must be in (0, 1], got 1.1"),
        ("depth_of_discharge", 0.0, "depth_of_discharge: must be in (0, 1], got 0.0"),
    ],
)
def test_power_system_rejects_bad_fields(field: str, value: object, message: str) -> None:
    kwargs: dict[str, object] = {
        "solar_array_w": 1.0,
        "bus_power_w": 1.0,
        "gpu_power_w": 1.0,
        "gpus": 1,
        "battery_wh": 1.0,
    }
    kwargs[field] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        PowerSystem(**kwargs)  # type: ignore[arg-type]


def test_soc_series_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"illumination: must be within \[0, 1\], got 1.5"):
        soc_series(SMALL, [[1.5]], [1], 60.0, 1.0)
    with pytest.raises(ValueError, match=r"active_gpus: must be integers in \[0, 4\], got 5"):
        soc_series(SMALL, [[1.0]], [5], 60.0, 1.0)
    with pytest.raises(ValueError, match="dt_seconds: must be > 0, got 0"):
        soc_series(SMALL, [[1.0]], [1], 0, 1.0)
    with pytest.raises(ValueError, match=r"initial_soc: must be within \[0, 1\], got -0.1"):
        soc_series(SMALL, [[1.0]], [1], 60.0, -0.1)


# --------------------------------------------------------------------------- soc_series


def test_soc_series_matches_scalar_reference() -> None:
    rng = np.random.default_rng(3)
    illum = np.clip(rng.uniform(-0.6, 1.4, size=(5, 400)), 0, 1)
    active = rng.integers(0, SMALL.gpus + 1, size=(5, 400))
    soc0 = np.array([1.0, 0.5, 0.2, 0.1, 0.9])
    trace = soc_series(SMALL, illum, active, 60.0, soc0)
    assert trace.soc.shape == (5, 401)
    for n in range(5):
        soc, shortfall = reference_soc(SMALL, illum[n], active[n], 60.0, soc0[n])
        np.testing.assert_allclose(trace.soc[n], soc, atol=1e-12)
        np.testing.assert_allclose(trace.shortfall_w[n], shortfall, atol=1e-9)


def test_energy_balance_over_a_day_of_random_illumination() -> None:
    rng = np.random.default_rng(11)
    dt = 60.0
    illum = np.clip(rng.uniform(-0.5, 1.5, size=(6, 1440)), 0, 1)  # sun, shade, penumbra
    active = rng.integers(0, FLEET.gpus + 1, size=(6, 1440))
    soc0 = rng.uniform(0.1, 1.0, size=6)
    trace = soc_series(FLEET, illum, active, dt, soc0)

    solar_j = trace.solar_w.sum(axis=1) * dt
    served_j = (trace.load_w - trace.shortfall_w).sum(axis=1) * dt
    curtailed_j = trace.curtailed_w.sum(axis=1) * dt
    lost_j = trace.loss_w.sum(axis=1) * dt
    stored_j = (trace.soc[:, -1] - trace.soc[:, 0]) * FLEET.battery_wh * 3600
    np.testing.assert_allclose(served_j + curtailed_j + lost_j + stored_j, solar_j, rtol=1e-3)
    # and every piece is physical
    for name in ("curtailed_w", "shortfall_w", "loss_w"):
        assert getattr(trace, name).min() >= -1e-9, name
    assert trace.soc.min() >= min(soc0.min(), FLEET.floor_soc) - 1e-12
    assert trace.soc.max() <= 1 + 1e-12
    # the day exercised every regime
    assert (trace.curtailed_w > 0).any() and (trace.shortfall_w > 0).any()
    assert (trace.battery_w > 0).any() and (trace.battery_w < 0).any()


def test_discharge_to_floor_by_hand() -> None:
    """1 kWh at 80% DoD, 95% discharge: 760 Wh at the bus; bus + 1 GPU = 1000 W -> 2736 s."""
    trace = soc_series(SMALL, np.zeros((1, 50)), [1], 60.0, 1.0)
    # after 45 steps (2700 s): 2700 s x 1000 W / 0.95 drawn = 789.47 Wh
    assert trace.soc[0, 45] == pytest.approx(1 - 2700 * 1000 / 0.95 / 3.6e6, abs=1e-12)
    assert (trace.shortfall_w[0, :45] == 0).all()
    # step 45: 36 s of power left (10 Wh at the bus over 60 s = 600 W): 400 W short
    assert trace.shortfall_w[0, 45] == pytest.approx(400.0, abs=1e-6)
    assert trace.soc[0, 46] == pytest.approx(SMALL.floor_soc, abs=1e-12)
    assert trace.shortfall_w[0, 46:] == pytest.approx(1000.0)
    assert trace.loss_w[0, 0] == pytest.approx(1000 / 0.95 - 1000)


def test_charge_to_full_then_curtail_by_hand() -> None:
    """Full sun 2000 W, load 1000 W: 950 W stored; 500 Wh of room fills in 1894.7 s."""
    trace = soc_series(SMALL, np.ones((1, 40)), [1], 60.0, 0.5)
    assert trace.battery_w[0, 0] == pytest.approx(950.0)
    assert trace.soc[0, 31] == pytest.approx(0.5 + 31 * 60 * 950 / 3.6e6)
    full_step = 31  # 1860 s charged, the rest of the room fills within step 31
    assert trace.soc[0, full_step + 1] == pytest.approx(1.0)
    assert trace.curtailed_w[0, full_step] == pytest.approx(
        1000 - (1 - trace.soc[0, full_step]) * 3.6e6 / 60 / 0.95
    )
    assert trace.curtailed_w[0, full_step + 1 :] == pytest.approx(1000.0)
    assert (trace.shortfall_w == 0).all()


def test_battery_below_floor_only_charges() -> None:
    trace = soc_series(SMALL, [[0.0, 1.0]], [[0, 0]], 60.0, 0.1)
    assert trace.soc[0, 1] == pytest.approx(0.1)
    assert trace.shortfall_w[0, 0] == pytest.approx(300.0)
    assert trace.soc[0, 2] > 0.1


# --------------------------------------------------------------------------- runway


def test_runway_by_hand() -> None:
    """10 min of sun then eclipse, 2 GPUs + bus = 1600 W, 2000 W array, 90%/90%.

    Sun: 400 W surplus stores 360 W for 600 s = 216 kJ; with 0.3 x 1 kWh above the floor
    the eclipse draws 1600/0.9 W: (1.08 MJ + 216 kJ) / 1777.8 W = 729 s -> 1329 s.
    """
    system = PowerSystem(2000.0, 200.0, 700.0, 4, 1000.0, 0.9, 0.9, 0.5)
    illum = np.r_[np.ones(10), np.zeros(50)][None, :]
    runway = runway_seconds(system, [0.8], [2], illum, 60.0)
    assert runway[0] == pytest.approx(600 + (0.3 * 3.6e6 + 400 * 0.9 * 600) / (1600 / 0.9))
    assert runway[0] == pytest.approx(1329.0)


def test_runway_infinite_zero_and_vectorised() -> None:
    illum = np.array([np.ones(30), np.zeros(30), np.zeros(30)])
    runway = runway_seconds(SMALL, [0.5, 1.0, 0.2], [4, 0, 1], illum, 60.0)
    # full sun covers 4 GPUs? 2000 W < 3100 W: drains 1100/0.95 W from 0.3 kWh above floor
    assert runway[0] == pytest.approx(0.3 * 3.6e6 / (1100 / 0.95))
    # bus alone in the dark: 0.8 kWh x 0.95 / 300 W = 9120 s > 30 min horizon
    assert runway[1] == np.inf
    # already at the floor in the dark
    assert runway[2] == pytest.approx(0.0, abs=1e-9)


def test_runway_agrees_with_soc_series() -> None:
    rng = np.random.default_rng(5)
    illum = orbit_illumination(300, 30.0, rng.uniform(0, 2 * np.pi, 8))
    soc = rng.uniform(0.3, 1.0, 8)
    gpus = rng.integers(0, FLEET.gpus + 1, 8)
    runway = runway_seconds(FLEET, soc, gpus, illum, 30.0)
    trace = soc_series(FLEET, illum, gpus, 30.0, soc)
    for n in range(8):
        short = np.flatnonzero(trace.shortfall_w[n] > 1e-9)
        if short.size == 0:
            assert runway[n] == np.inf
        else:
            assert short[0] * 30.0 <= runway[n] < (short[0] + 1) * 30.0


# --------------------------------------------------------------------------- ride-through


def test_eclipse_ride_through_by_hand() -> None:
    """760 Wh at the bus: 35 min carries 1302.9 W -> 1 GPU; 20 min 2280 W -> 2 GPUs."""
    counts = eclipse_ride_through_gpus(SMALL, [1.0, 1.0, 0.5, 0.2], [2100, 1200, 1200, 60])
    assert counts.tolist() == [1, 2, 0, 0]
    exact_s = 760 * 3600 / (300 + 2 * 700)  # exactly two GPUs plus the bus
    assert eclipse_ride_through_gpus(SMALL, 1.0, exact_s) == 2
    assert eclipse_ride_through_gpus(SMALL, 1.0, exact_s + 1) == 1
    assert eclipse_ride_through_gpus(SMALL, 1.0, 0.0) == SMALL.gpus
    assert eclipse_ride_through_gpus(SMALL, 1.0, 60.0) == SMALL.gpus  # capped at gpus


def test_ride_through_count_survives_in_soc_series_and_one_more_does_not() -> None:
    eclipse_s, dt = 1800.0, 60.0
    soc = np.array([1.0, 0.9, 0.7, 0.5])
    counts = eclipse_ride_through_gpus(FLEET, soc, eclipse_s)
    dark = np.zeros((4, int(eclipse_s / dt)))
    ok = soc_series(FLEET, dark, counts, dt, soc)
    assert (ok.shortfall_w <= 1e-9).all()
    more = np.minimum(counts + 1, FLEET.gpus)
    over = soc_series(FLEET, dark, more, dt, soc)
    assert (over.shortfall_w.max(axis=1) > 0)[counts < FLEET.gpus].all()


# --------------------------------------------------------------------------- energy bound


def test_energy_bound_by_hand() -> None:
    dt = 60.0
    # all sun with the array covering every GPU: gpus x T x dt
    assert energy_bound_gpu_seconds(FLEET, np.ones((1, 10)), dt, 0.5)[0] == pytest.approx(4800)
    # dark hour from full: 760 Wh out, P/(P+bus) = 2800/3100 of it into GPUs, per 700 W
    bound = energy_bound_gpu_seconds(SMALL, np.zeros((1, 60)), dt, 1.0)[0]
    assert bound == pytest.approx(760 * 3600 * 2800 / 3100 / 700)
    # capacity-limited: a 10 kW array and a 100 Wh battery, already full, then dark.
    # direct 10 x 60 s x 2800 W; battery 0.9 x 80 Wh at ratio 2800/3100
    tiny = PowerSystem(10_000.0, 300.0, 700.0, 4, 100.0, 0.9, 0.9, 0.8)
    illum = np.r_[np.ones(10), np.zeros(10)][None, :]
    bound = energy_bound_gpu_seconds(tiny, illum, dt, 1.0)[0]
    assert bound == pytest.approx((600 * 2800 + 0.9 * 80 * 3600 * 2800 / 3100) / 700)
    assert greedy_gpu_seconds(tiny, illum, dt, np.array([1.0]))[0] <= bound


def test_energy_bound_at_least_greedy_and_tight_on_orbits() -> None:
    dt = 60.0
    rng = np.random.default_rng(2)
    illum = orbit_illumination(1440, dt, rng.uniform(0, 2 * np.pi, 4))
    soc0 = np.array([1.0, 0.6, 0.25, 0.2])
    bound = energy_bound_gpu_seconds(FLEET, illum, dt, soc0)
    greedy = greedy_gpu_seconds(FLEET, illum, dt, soc0)
    assert (bound >= greedy).all()
    assert (bound <= 1.05 * greedy).all(), bound / greedy  # measured ~1.3% above
    assert (bound <= FLEET.gpus * 1440 * dt).all()


@pytest.mark.parametrize("system", [SMALL, FLEET], ids=["small", "fleet"])
def test_energy_bound_holds_for_random_and_greedy_schedules(system: PowerSystem) -> None:
    dt = 60.0
    rng = np.random.default_rng(8)
    illum = np.clip(rng.uniform(-0.8, 1.5, size=(6, 240)), 0, 1)
    illum[:3] = orbit_illumination(240, dt, rng.uniform(0, 2 * np.pi, 3))
    soc0 = rng.uniform(0.0, 1.0, 6)
    bound = energy_bound_gpu_seconds(system, illum, dt, soc0)
    assert (bound >= greedy_gpu_seconds(system, illum, dt, soc0) - 1e-6).all()
    for _ in range(20):
        active = rng.integers(0, system.gpus + 1, size=illum.shape)
        assert (bound >= achieved_gpu_seconds(system, illum, active, dt, soc0) - 1e-6).all()


def test_energy_bound_edge_cases() -> None:
    no_gpus = PowerSystem(1000.0, 100.0, 700.0, 0, 100.0)
    assert energy_bound_gpu_seconds(no_gpus, np.ones((2, 5)), 60.0, 1.0).tolist() == [0, 0]
    free = PowerSystem(0.0, 100.0, 0.0, 2, 100.0)
    assert energy_bound_gpu_seconds(free, np.zeros((1, 5)), 60.0, 1.0)[0] == 600.0


def test_battery_step_matches_soc_series_step_by_step():
    """The simulator's one-step form and the series form are the same battery model."""
    from kubesat.core.power import battery_step

    system = PowerSystem(
        solar_array_w=3000.0,
        bus_power_w=200.0,
        gpu_power_w=700.0,
        gpus=4,
        battery_wh=1500.0,
        charge_efficiency=0.9,
        discharge_efficiency=0.93,
        depth_of_discharge=0.4,
    )
    rng = np.random.default_rng(3)
    illumination = np.clip(rng.normal(0.6, 0.5, (5, 400)), 0.0, 1.0)
    gpus = rng.integers(0, 5, (5, 400))
    trace = soc_series(system, illumination, gpus, 30.0, 0.8)
    stored = np.full(5, 0.8 * system.battery_wh)
    for k in range(400):
        load = system.bus_power_w + gpus[:, k] * system.gpu_power_w
        stored, short = battery_step(system, stored, illumination[:, k] * 3000.0, load, 30.0)
        np.testing.assert_allclose(stored / system.battery_wh, trace.soc[:, k + 1], atol=1e-12)
        np.testing.assert_allclose(short, trace.shortfall_w[:, k], atol=1e-9)
