"""The lumped thermal model against answers known in closed form.

- A plate in vacuum with no environment settles where its radiation balances its power:
  P = eps sigma A T^4 (459.3 W/m^2 per side at 300 K with eps = 1).
- Cooling after a small drop in heat (an eclipse) follows the linearised exponential
  T - T_eq = (T0 - T_eq) exp(-t / tau), tau = C / (4 eps sigma A T_eq^3).
- Cooling with no heat at all follows T0 (1 + 3 k T0^3 t / C)^(-1/3) exactly.
- The Earth view factor of a plate with a horizontal normal, against a numerical
  integration of the cosine-weighted hemisphere.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from kubesat.core.orbits import EARTH_RADIUS_KM
from kubesat.core.thermal import (
    STEFAN_BOLTZMANN_W_PER_M2_K4,
    HeatBound,
    ThermalSystem,
    earth_view_factor_horizontal_plate,
    equilibrium_temperature_k,
    heat_limit_w,
    heater_w,
    seconds_to_max_temperature,
    thermal_step,
)

# a 2 m^2 one-sided plate, emissivity 0.9, 100 kJ/K, nothing from the environment
PLATE = ThermalSystem(
    heat_capacity_j_per_k=100_000.0,
    radiator_area_m2=2.0,
    emissivity=0.9,
    max_temperature_k=350.0,
    min_temperature_k=200.0,
    earth_view_factor=0.0,
    two_sided=False,
    initial_temperature_k=300.0,
)
POWER_W = 1000.0
# (1000 W / (0.9 x 5.670374419e-8 W/m^2/K^4 x 2 m^2)) ** 0.25, by hand
PLATE_EQUILIBRIUM_K = 314.6146


def run(system: ThermalSystem, t0: float, heat_w: float, dt: float, steps: int) -> np.ndarray:
    temps = [t0]
    for _ in range(steps):
        temps.append(float(thermal_step(system, temps[-1], heat_w, dt)))
    return np.array(temps)


def test_sigma_t4_at_300_kelvin_is_459_watts_per_square_metre() -> None:
    per_side_w = STEFAN_BOLTZMANN_W_PER_M2_K4 * 300.0**4
    assert per_side_w == pytest.approx(459.3, abs=0.05)


def test_plate_settles_at_the_radiative_balance() -> None:
    assert float(equilibrium_temperature_k(PLATE, POWER_W)) == pytest.approx(
        PLATE_EQUILIBRIUM_K, abs=1e-3
    )
    # from cold and from hot, 60 s steps for 20 time constants
    steps = round(20 * PLATE.heat_capacity_j_per_k / (4 * PLATE.radiative_w_per_k4 * 315**3) / 60)
    for start in (250.0, 340.0):
        temps = run(PLATE, start, POWER_W, 60.0, steps)
        assert temps[-1] == pytest.approx(PLATE_EQUILIBRIUM_K, abs=1e-3)
        # implicit steps approach the balance monotonically, never overshooting it
        moves = np.diff(temps)
        assert (moves >= -1e-12).all() if start < PLATE_EQUILIBRIUM_K else (moves <= 1e-12).all()


def test_two_sided_radiator_needs_half_the_area() -> None:
    two_sided = replace(PLATE, radiator_area_m2=1.0, two_sided=True)
    assert float(equilibrium_temperature_k(two_sided, POWER_W)) == pytest.approx(
        PLATE_EQUILIBRIUM_K, abs=1e-3
    )


def test_stable_for_any_step() -> None:
    """One step of 100 days lands just short of the equilibrium, not beyond it (the
    backward-Euler residual C (T1 - T0) / dt is 0.7 W, 0.06 K)."""
    t1 = float(thermal_step(PLATE, 250.0, POWER_W, 86_400.0 * 100))
    assert t1 == pytest.approx(PLATE_EQUILIBRIUM_K, abs=0.1)
    assert t1 < PLATE_EQUILIBRIUM_K


def test_eclipse_cooling_follows_the_linearised_exponential() -> None:
    """Equilibrium in sunlight at 1000 W, then 2% less heat in eclipse."""
    eclipse_w = 0.98 * POWER_W
    t_eq = float(equilibrium_temperature_k(PLATE, eclipse_w))
    tau = PLATE.heat_capacity_j_per_k / (4 * PLATE.radiative_w_per_k4 * t_eq**3)
    dt = 10.0
    steps = round(3 * tau / dt)
    temps = run(PLATE, PLATE_EQUILIBRIUM_K, eclipse_w, dt, steps)
    t = np.arange(steps + 1) * dt
    analytic = t_eq + (PLATE_EQUILIBRIUM_K - t_eq) * np.exp(-t / tau)
    drop = PLATE_EQUILIBRIUM_K - t_eq  # about 1.6 K
    assert drop == pytest.approx(1.59, abs=0.01)
    # the linearisation errs by O(drop^2 / T) ~ 0.01 K, the step by O(dt / tau) x drop
    assert np.max(np.abs(temps - analytic)) < 0.01 * drop + 0.02


def test_cooling_without_heat_matches_the_exact_solution() -> None:
    t0 = 320.0
    k, c = PLATE.radiative_w_per_k4, PLATE.heat_capacity_j_per_k
    dt = 10.0
    steps = 3600
    temps = run(PLATE, t0, 0.0, dt, steps)
    t = np.arange(steps + 1) * dt
    exact = t0 * (1 + 3 * k * t0**3 * t / c) ** (-1 / 3)
    assert np.max(np.abs(temps - exact)) < 0.05  # K, over 10 h and 120 K of cooling
    assert temps[-1] < 210.0


def test_heat_limit_ends_a_step_at_the_maximum() -> None:
    for t0 in (300.0, 349.0, 350.0):
        limit = float(heat_limit_w(PLATE, t0, 30.0))
        assert float(thermal_step(PLATE, t0, limit, 30.0)) == pytest.approx(350.0, abs=1e-6)
    # at the maximum the limit is what the radiator rejects there
    assert float(heat_limit_w(PLATE, 350.0, 30.0)) == pytest.approx(PLATE.max_rejection_w)


def test_heater_holds_the_minimum() -> None:
    need = float(heater_w(PLATE, 200.0, 50.0, 30.0))
    assert need == pytest.approx(PLATE.radiative_w_per_k4 * 200.0**4 - 50.0)
    assert float(thermal_step(PLATE, 200.0, 50.0 + need, 30.0)) == pytest.approx(200.0, abs=1e-6)
    assert float(heater_w(PLATE, 300.0, 50.0, 30.0)) == 0.0


def test_time_to_the_maximum_matches_stepping() -> None:
    heat = 2000.0  # equilibrium near 374 K, above the 350 K maximum
    predicted = float(seconds_to_max_temperature(PLATE, 300.0, heat))
    temps = run(PLATE, 300.0, heat, 1.0, 20_000)
    crossed = float(np.argmax(temps >= 350.0))
    assert predicted == pytest.approx(crossed, rel=2e-3)
    assert float(seconds_to_max_temperature(PLATE, 300.0, POWER_W)) == math.inf
    assert float(seconds_to_max_temperature(PLATE, 350.0, heat)) == 0.0


def test_horizontal_plate_view_factor_against_numerical_integration() -> None:
    rng = np.random.default_rng(7)
    samples = 2_000_000
    for altitude in (550.0, 2000.0):
        # cosine-weighted directions about the plate normal +x: the fraction that hits
        # the Earth (centre straight down, -z) is the view factor
        u1, u2 = rng.random(samples), rng.random(samples)
        r, phi = np.sqrt(u1), 2 * np.pi * u2
        dz = r * np.sin(phi)
        cos_limit = math.sqrt(1 - (EARTH_RADIUS_KM / (EARTH_RADIUS_KM + altitude)) ** 2)
        numeric = float(np.mean(-dz >= cos_limit))
        assert earth_view_factor_horizontal_plate(altitude) == pytest.approx(numeric, abs=2e-3)
    assert earth_view_factor_horizontal_plate(1e-6) == pytest.approx(0.5, abs=1e-3)
    assert earth_view_factor_horizontal_plate(550.0) == pytest.approx(0.258, abs=1e-3)


def test_heat_bound_holds_and_a_throttled_run_reaches_it() -> None:
    """GPUs given the most heat each step allows (the throttle) dissipate the bound."""
    system = replace(PLATE, earth_view_factor=0.25, two_sided=True, sunlit_area_m2=0.5)
    bus_w, dt = 100.0, 30.0
    illumination = np.tile(np.r_[np.ones(120), np.zeros(70)], 6)
    bound = HeatBound.start(system, np.array([300.0]))
    t, gpu_j = 300.0, 0.0
    for lit in illumination:
        other = bus_w + float(system.environment_w(lit))
        gpu_w = max(float(heat_limit_w(system, t, dt)) - other, 0.0)
        gpu_j += gpu_w * dt
        t = float(thermal_step(system, t, other + gpu_w, dt))
        assert t <= system.max_temperature_k + 1e-6
        bound.add(np.array([lit]), bus_w, dt)
    assert gpu_j == pytest.approx(float(bound.gpu_joules()[0]), rel=1e-9)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("radiator_area_m2", 0.0, "radiator_area_m2: must be > 0, got 0.0"),
        ("emissivity", 1.5, "emissivity: must be in (0, 1], got 1.5"),
        ("earth_view_factor", -0.1, "earth_view_factor: must be within [0, 1], got -0.1"),
        ("min_temperature_k", 400.0, "min_temperature_k: must be > 0 and below"),
        ("initial_temperature_k", 360.0, "initial_temperature_k: must be within [200, 350]"),
    ],
)
def test_rejects_meaningless_hardware(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=re_escape(message)):
        replace(PLATE, **{field: value})


def re_escape(text: str) -> str:
    import re

    return re.escape(text)
