"""Battery model and the goodput energy bound.

References are independent: a scalar per-step model written in Wh with plain if/else,
hand-computed cases, and a greedy scheduler stepped through `battery_step` itself.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from kubesat.core.power import PowerSystem, battery_step, energy_bound_gpu_seconds

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
# Unequal efficiencies and a shallow floor, so a swapped term shows.
LOSSY = PowerSystem(
    solar_array_w=3000.0,
    bus_power_w=200.0,
    gpu_power_w=700.0,
    gpus=4,
    battery_wh=1500.0,
    charge_efficiency=0.9,
    discharge_efficiency=0.93,
    depth_of_discharge=0.4,
)
# "No shortfall" within a nanowatt: the served load is computed through 1 / de x de.
NO_SHORTFALL_W = 1e-9


def orbit_illumination(steps: int, dt: float, phases: np.ndarray) -> np.ndarray:
    """(N, T) sunlight of a ~95 min orbit with a ~35 min eclipse and partly lit edge steps."""
    t = np.arange(steps) * dt
    angle = 2 * np.pi * t[None, :] / 5700.0 + phases[:, None]
    return np.clip((np.cos(angle) + 0.55) / 0.08, 0.0, 1.0)


def simulate(system: PowerSystem, illum, active, dt: float, soc0):
    """Stored energy (N, T+1) in Wh and shortfall (N, T) in W from stepping `battery_step`.

    `illum` is (N, T); `active` GPUs (N, T) or (N,); `soc0` (N,) or a scalar.
    """
    illum = np.asarray(illum, dtype=float)
    satellites, steps = illum.shape
    active = np.broadcast_to(np.asarray(active, dtype=float).reshape(satellites, -1), illum.shape)
    stored_wh = np.empty((satellites, steps + 1))
    stored_wh[:, 0] = np.broadcast_to(np.asarray(soc0, dtype=float), (satellites,))
    stored_wh[:, 0] *= system.battery_wh
    shortfall_w = np.empty((satellites, steps))
    for k in range(steps):
        stored_wh[:, k + 1], shortfall_w[:, k] = battery_step(
            system,
            stored_wh[:, k],
            illum[:, k] * system.solar_array_w,
            system.bus_power_w + active[:, k] * system.gpu_power_w,
            dt,
        )
    return stored_wh, shortfall_w


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
    stored_wh = np.array(soc0, dtype=float) * system.battery_wh
    total = np.zeros(len(stored_wh))
    for k in range(illum.shape[1]):
        solar_w = illum[:, k] * system.solar_array_w
        chosen = np.zeros(len(stored_wh), dtype=int)
        for gpus in range(system.gpus, 0, -1):
            load_w = system.bus_power_w + gpus * system.gpu_power_w
            _, short_w = battery_step(system, stored_wh, solar_w, np.full_like(solar_w, load_w), dt)
            fits = (short_w <= NO_SHORTFALL_W) & (chosen == 0)
            chosen[fits] = gpus
        load_w = system.bus_power_w + chosen * system.gpu_power_w
        stored_wh, short_w = battery_step(system, stored_wh, solar_w, load_w, dt)
        total += np.where(short_w <= NO_SHORTFALL_W, chosen, 0) * dt
    return total


def achieved_gpu_seconds(system, illum, active, dt, soc0):
    """GPU-seconds a schedule really powers under the battery model (steps with no shortfall)."""
    _, shortfall_w = simulate(system, illum, active, dt, soc0)
    return (np.where(shortfall_w <= NO_SHORTFALL_W, active, 0) * dt).sum(axis=1)


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


def test_bad_inputs_are_rejected_naming_the_value() -> None:
    with pytest.raises(ValueError, match=r"illumination: must be within \[0, 1\], got 1.5"):
        energy_bound_gpu_seconds(SMALL, [[1.5]], 60.0, 1.0)
    with pytest.raises(ValueError, match=r"illumination: must be 2-D .* got shape \(3,\)"):
        energy_bound_gpu_seconds(SMALL, [1.0, 1.0, 1.0], 60.0, 1.0)
    with pytest.raises(ValueError, match=re.escape("dt_seconds: must be > 0, got 0")):
        energy_bound_gpu_seconds(SMALL, [[1.0]], 0, 1.0)
    with pytest.raises(ValueError, match=r"initial_soc: must be within \[0, 1\], got -0.1"):
        energy_bound_gpu_seconds(SMALL, [[1.0]], 60.0, -0.1)
    with pytest.raises(ValueError, match=r"initial_soc: shape \(3,\) does not fit 2 satellites"):
        energy_bound_gpu_seconds(SMALL, [[1.0], [1.0]], 60.0, [1.0, 1.0, 1.0])
    one = np.array([500.0])
    with pytest.raises(ValueError, match=re.escape("dt_seconds: must be > 0, got -60.0")):
        battery_step(SMALL, one, one, one, -60.0)
    with pytest.raises(ValueError, match="dt_seconds: must be > 0, got inf"):
        battery_step(SMALL, one, one, one, float("inf"))


# --------------------------------------------------------------------------- battery model


@pytest.mark.parametrize(
    ("system", "dt"), [(SMALL, 60.0), (LOSSY, 30.0)], ids=["small-60s", "lossy-30s"]
)
def test_battery_step_matches_scalar_reference(system: PowerSystem, dt: float) -> None:
    rng = np.random.default_rng(3)
    illum = np.clip(rng.uniform(-0.6, 1.4, size=(5, 400)), 0, 1)
    active = rng.integers(0, system.gpus + 1, size=(5, 400))
    soc0 = np.array([1.0, 0.5, 0.2, 0.1, 0.9])
    stored_wh, shortfall_w = simulate(system, illum, active, dt, soc0)
    assert stored_wh.shape == (5, 401)
    assert (shortfall_w > 0).any() and (shortfall_w == 0).any()  # both regimes compared
    for n in range(5):
        soc, shortfall = reference_soc(system, illum[n], active[n], dt, soc0[n])
        np.testing.assert_allclose(stored_wh[n], soc * system.battery_wh, rtol=0, atol=1e-9)
        np.testing.assert_allclose(shortfall_w[n], shortfall, rtol=0, atol=1e-9)


def test_energy_is_conserved_step_by_step_over_a_day() -> None:
    """Each step: solar = served load + stored energy change + conversion loss + curtailment.

    A surplus stores charge_efficiency x surplus unless the battery fills (the rest is
    curtailed); a deficit draws exactly served / discharge_efficiency from storage, and
    is left short only once the battery is at (or below) its floor.
    """
    rng = np.random.default_rng(11)
    dt = 60.0
    illum = np.clip(rng.uniform(-0.5, 1.5, size=(6, 1440)), 0, 1)  # sun, shade, penumbra
    active = rng.integers(0, FLEET.gpus + 1, size=(6, 1440))
    soc0 = rng.uniform(0.1, 1.0, size=6)
    stored_wh, shortfall_w = simulate(FLEET, illum, active, dt, soc0)

    tolerance_j = 1e-6
    solar_w = illum * FLEET.solar_array_w
    load_w = FLEET.bus_power_w + active * FLEET.gpu_power_w
    net_w = solar_w - load_w
    after_j = stored_wh[:, 1:] * 3600
    change_j = np.diff(stored_wh, axis=1) * 3600
    full_j, floor_j = FLEET.battery_j, FLEET.floor_soc * FLEET.battery_j

    surplus = net_w >= 0
    storable_j = FLEET.charge_efficiency * net_w * dt
    assert (shortfall_w[surplus] == 0).all()
    assert (change_j[surplus] >= -tolerance_j).all()
    assert (change_j[surplus] <= storable_j[surplus] + tolerance_j).all()
    curtailed = surplus & (change_j < storable_j - tolerance_j)
    np.testing.assert_allclose(after_j[curtailed], full_j, rtol=0, atol=tolerance_j)

    deficit = ~surplus
    from_battery_j = (-net_w - shortfall_w) * dt  # the part of the deficit that was served
    np.testing.assert_allclose(
        -change_j[deficit],
        from_battery_j[deficit] / FLEET.discharge_efficiency,
        rtol=0,
        atol=tolerance_j,
    )
    short = shortfall_w > NO_SHORTFALL_W
    assert (shortfall_w >= -NO_SHORTFALL_W).all()
    assert (shortfall_w[deficit] <= -net_w[deficit] + NO_SHORTFALL_W).all()
    assert (after_j[short] <= floor_j + tolerance_j).all()

    served_j = (load_w - shortfall_w) * dt
    lost_or_curtailed_j = solar_w * dt - served_j - change_j
    assert lost_or_curtailed_j.min() >= -tolerance_j
    # the stored energy stays between the lower of start and floor, and full
    assert (stored_wh * 3600 >= np.minimum(soc0 * full_j, floor_j)[:, None] - tolerance_j).all()
    assert (stored_wh * 3600 <= full_j + tolerance_j).all()
    # the day exercised every regime
    assert curtailed.any() and short.any()
    assert (change_j > 0).any() and (change_j < 0).any()


def test_discharge_to_floor_by_hand() -> None:
    """1 kWh at 80% DoD, 95% discharge: 760 Wh at the bus; bus + 1 GPU = 1000 W -> 2736 s."""
    stored_wh, shortfall_w = simulate(SMALL, np.zeros((1, 50)), [1], 60.0, 1.0)
    # after 45 steps (2700 s): 2700 s x 1000 W / 0.95 drawn = 789.47 Wh
    assert stored_wh[0, 45] == pytest.approx(1000 - 2700 * 1000 / 0.95 / 3600, abs=1e-9)
    assert shortfall_w[0, :45] == pytest.approx(0.0, abs=1e-9)
    # step 45: 36 s of power left (10 Wh at the bus over 60 s = 600 W): 400 W short
    assert shortfall_w[0, 45] == pytest.approx(400.0, abs=1e-6)
    assert stored_wh[0, 46] == pytest.approx(200.0, abs=1e-9)  # the floor
    assert shortfall_w[0, 46:] == pytest.approx(1000.0, abs=1e-9)
    assert stored_wh[0, 46:] == pytest.approx(200.0, abs=1e-9)
    # discharge loss: 1000 W at the bus draws 1000 / 0.95 W from storage
    drawn_w = (stored_wh[0, 0] - stored_wh[0, 1]) * 3600 / 60
    assert drawn_w - 1000 == pytest.approx(1000 / 0.95 - 1000, abs=1e-6)


def test_charge_to_full_then_curtail_by_hand() -> None:
    """Full sun 2000 W, load 1000 W: 950 W stored; 500 Wh of room fills in 1894.7 s."""
    stored_wh, shortfall_w = simulate(SMALL, np.ones((1, 40)), [1], 60.0, 0.5)
    stored_rate_w = np.diff(stored_wh[0]) * 3600 / 60
    curtailed_w = 1000 - stored_rate_w / 0.95  # surplus the charger did not take
    assert stored_rate_w[0] == pytest.approx(950.0, abs=1e-9)
    assert stored_wh[0, 31] == pytest.approx(500 + 31 * 60 * 950 / 3600, abs=1e-9)
    full_step = 31  # 1860 s charged, the rest of the room (9.17 Wh) fills within step 31
    assert stored_wh[0, full_step + 1] == pytest.approx(1000.0, abs=1e-9)
    room_wh = 500 - 31 * 60 * 950 / 3600
    assert curtailed_w[full_step] == pytest.approx(1000 - room_wh * 3600 / 60 / 0.95, abs=1e-6)
    assert curtailed_w[full_step + 1 :] == pytest.approx(1000.0, abs=1e-9)
    assert (shortfall_w == 0).all()


def test_battery_below_floor_only_charges() -> None:
    """Below the 200 Wh floor the battery serves nothing, but it still stores surplus."""
    stored_wh, shortfall_w = simulate(SMALL, [[0.0, 1.0]], [[0, 0]], 60.0, 0.1)
    assert stored_wh[0, 1] == pytest.approx(100.0, abs=1e-9)
    assert shortfall_w[0, 0] == pytest.approx(300.0, abs=1e-9)  # the bus, unserved
    # then 1700 W of surplus for 60 s at 95%
    assert stored_wh[0, 2] == pytest.approx(100 + 1700 * 0.95 * 60 / 3600, abs=1e-9)
    assert shortfall_w[0, 1] == 0


# --------------------------------------------------------------------------- energy bound


def test_energy_bound_by_hand() -> None:
    dt = 60.0
    # all sun with the array covering every GPU: gpus x T x dt
    bound = energy_bound_gpu_seconds(FLEET, np.ones((1, 10)), dt, 0.5)[0]
    assert bound == pytest.approx(4800, abs=1e-6)
    # dark hour from full: 760 Wh out, P/(P+bus) = 2800/3100 of it into GPUs, per 700 W
    bound = energy_bound_gpu_seconds(SMALL, np.zeros((1, 60)), dt, 1.0)[0]
    assert bound == pytest.approx(760 * 3600 * 2800 / 3100 / 700, abs=1e-6)
    # capacity-limited: a 10 kW array and a 100 Wh battery, already full, then dark.
    # direct 10 x 60 s x 2800 W; battery 0.9 x 80 Wh at ratio 2800/3100
    tiny = PowerSystem(10_000.0, 300.0, 700.0, 4, 100.0, 0.9, 0.9, 0.8)
    illum = np.r_[np.ones(10), np.zeros(10)][None, :]
    bound = energy_bound_gpu_seconds(tiny, illum, dt, 1.0)[0]
    assert bound == pytest.approx((600 * 2800 + 0.9 * 80 * 3600 * 2800 / 3100) / 700, abs=1e-6)
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
