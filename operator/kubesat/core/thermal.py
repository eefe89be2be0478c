"""Satellite heat: one lumped thermal mass per satellite, heated by its electrical loads and
its environment, cooled only by radiation from its radiator.

In vacuum the only way out is radiation: a radiator of area A and emissivity eps at
temperature T rejects eps sigma A T^4 per side. Everything the bus and the GPUs draw ends up
as heat in the satellite (the solar array is a separate, thermally decoupled wing that
radiates its own heat). The environment adds absorbed sunlight on the sun-facing area,
Earth's infrared and its albedo on the radiator, with orbit-averaged view factors:

    C dT/dt = P_electrical + P_environment - eps sigma A_rad T^4

Stated assumptions (all user-changeable through `spec.thermal`):
- one temperature for the payload and its radiator (a pumped loop keeps them together);
- Earth's outgoing infrared 237 W/m^2 and albedo 0.30, orbit averages (Gilmore,
  Spacecraft Thermal Control Handbook Vol. I, 2nd ed., 2002, ch. 2: 237 +/- 21 W/m^2,
  0.30 +/- 0.05); solar constant 1361 W/m^2 (Kopp & Lean 2011, GRL 38, L01706);
- albedo reaches the radiator only while the satellite is sunlit, times the mean cosine
  of the solar zenith angle over a sunlit half orbit, 2/pi (overstates albedo for
  dawn-dusk orbits, the conservative side);
- the Earth view factor defaults to that of a plate whose normal is horizontal (radiators
  edge-on to the Earth and the Sun), per side, from the altitude (Howell, A Catalog of
  Radiation Heat Transfer Configuration Factors: plane element to sphere);
- radiators absorb infrared at their emissivity and sunlight at their absorptivity.

Time stepping: backward (implicit) Euler, solved exactly by Newton's method. It is stable
for any step, never overshoots the equilibrium, and its error per step is O(dt / tau)
with tau = C / (4 eps sigma A T^3) hours against 10-60 s steps. It also gives closed
forms for the heat a step may take without passing the maximum temperature (the
throttle) and the heat needed to stay above the minimum (the heater).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kubesat.core.orbits import EARTH_RADIUS_KM

STEFAN_BOLTZMANN_W_PER_M2_K4: Final = 5.670374419e-8  # CODATA 2018 (exact in SI)
SOLAR_CONSTANT_W_PER_M2: Final = 1361.0  # Kopp & Lean 2011, total solar irradiance at 1 AU
EARTH_IR_W_PER_M2: Final = 237.0  # Gilmore 2002, ch. 2: orbit-average outgoing longwave
EARTH_ALBEDO: Final = 0.30  # Gilmore 2002, ch. 2: orbit-average albedo
ALBEDO_SUNLIT_COSINE: Final = 2.0 / math.pi  # mean cos(solar zenith) over a sunlit half orbit
KELVIN_AT_ZERO_CELSIUS: Final = 273.15
NEWTON_TOLERANCE_K: Final = 1e-9
NEWTON_MAX_ITERATIONS: Final = 50

FloatArray = NDArray[np.float64]


def earth_view_factor_horizontal_plate(altitude_km: float) -> float:
    """View factor from one side of a plate with a horizontal normal to the Earth below.

    Plane element to sphere, element normal at 90 degrees to the direction of the sphere's
    centre (Howell's catalog): F = 1/2 - asin(sqrt(H^2 - 1) / H) / pi - sqrt(H^2 - 1) /
    (pi H^2), H = (R + h) / R. 0.5 on the ground, about 0.26 at 550 km.
    """
    if not altitude_km > 0:
        raise ValueError(f"altitude_km: must be > 0, got {altitude_km}")
    h = (EARTH_RADIUS_KM + altitude_km) / EARTH_RADIUS_KM
    root = math.sqrt(h * h - 1.0)
    return 0.5 - math.asin(root / h) / math.pi - root / (math.pi * h * h)


@dataclass(frozen=True)
class ThermalSystem:
    """Thermal hardware of one satellite model (all satellites of a constellation share it)."""

    heat_capacity_j_per_k: float  # of the lumped payload and radiator
    radiator_area_m2: float  # per side
    emissivity: float  # infrared, (0, 1]
    max_temperature_k: float  # GPUs are held off above it
    min_temperature_k: float  # the heater holds the satellite at it
    earth_view_factor: float  # per radiating side, orbit-averaged
    two_sided: bool = True  # both faces radiate (a deployed panel) or one (body-mounted)
    solar_absorptivity: float = 0.2  # of the radiator coating and the sun-facing area
    sunlit_area_m2: float = 0.0  # area facing the Sun, projected (0: radiators edge-on)
    earth_ir_w_per_m2: float = EARTH_IR_W_PER_M2
    albedo: float = EARTH_ALBEDO
    initial_temperature_k: float = 293.15

    def __post_init__(self) -> None:
        """Reject physically meaningless hardware, naming the field and value."""
        for name in ("heat_capacity_j_per_k", "radiator_area_m2", "max_temperature_k"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name}: must be > 0, got {value}")
        for name in ("emissivity",):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name}: must be in (0, 1], got {value}")
        for name in ("solar_absorptivity", "albedo", "earth_view_factor"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: must be within [0, 1], got {value}")
        for name in ("sunlit_area_m2", "earth_ir_w_per_m2"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name}: must be >= 0, got {value}")
        if not 0 < self.min_temperature_k < self.max_temperature_k:
            raise ValueError(
                f"min_temperature_k: must be > 0 and below max_temperature_k "
                f"{self.max_temperature_k:g}, got {self.min_temperature_k}"
            )
        if not self.min_temperature_k <= self.initial_temperature_k <= self.max_temperature_k:
            raise ValueError(
                f"initial_temperature_k: must be within [{self.min_temperature_k:g}, "
                f"{self.max_temperature_k:g}], got {self.initial_temperature_k}"
            )

    @property
    def radiating_area_m2(self) -> float:
        """Radiator area that sees space, both sides counted."""
        return self.radiator_area_m2 * (2 if self.two_sided else 1)

    @property
    def radiative_w_per_k4(self) -> float:
        """eps sigma A: rejection = this x T^4."""
        return self.emissivity * STEFAN_BOLTZMANN_W_PER_M2_K4 * self.radiating_area_m2

    @property
    def max_rejection_w(self) -> float:
        """What the radiator rejects at the maximum temperature."""
        return self.radiative_w_per_k4 * self.max_temperature_k**4

    @property
    def time_constant_seconds(self) -> float:
        """C / (4 eps sigma A T_max^3): how fast the satellite relaxes near its maximum."""
        return self.heat_capacity_j_per_k / (
            4.0 * self.radiative_w_per_k4 * self.max_temperature_k**3
        )

    def environment_w(self, illumination: ArrayLike) -> FloatArray:
        """Heat absorbed from the Sun, the Earth's infrared and its albedo (W)."""
        lit = np.asarray(illumination, dtype=np.float64)
        earth_area = self.radiating_area_m2 * self.earth_view_factor
        infrared = self.emissivity * self.earth_ir_w_per_m2 * earth_area
        sun = self.solar_absorptivity * SOLAR_CONSTANT_W_PER_M2 * self.sunlit_area_m2
        albedo = (
            self.solar_absorptivity
            * self.albedo
            * SOLAR_CONSTANT_W_PER_M2
            * earth_area
            * ALBEDO_SUNLIT_COSINE
        )
        return np.asarray(infrared + lit * (sun + albedo), dtype=np.float64)


def equilibrium_temperature_k(system: ThermalSystem, heat_w: ArrayLike) -> FloatArray:
    """Temperature at which the radiator rejects `heat_w` (all heat, environment included)."""
    heat = np.maximum(np.asarray(heat_w, dtype=np.float64), 0.0)
    return np.asarray((heat / system.radiative_w_per_k4) ** 0.25, dtype=np.float64)


def thermal_step(
    system: ThermalSystem, temperature_k: ArrayLike, heat_w: ArrayLike, dt_seconds: float
) -> FloatArray:
    """Temperature after one step of `dt_seconds` at constant heat input (W, environment
    included): backward Euler, C (T1 - T0) / dt = heat - eps sigma A T1^4.

    f(T) = C (T - T0) / dt + k T^4 - heat is increasing and convex for T > 0, so Newton's
    method from max(T0, T_eq), where f >= 0, falls monotonically onto the one root.
    """
    if not (dt_seconds > 0 and math.isfinite(dt_seconds)):
        raise ValueError(f"dt_seconds: must be > 0, got {dt_seconds}")
    t0 = np.asarray(temperature_k, dtype=np.float64)
    heat = np.asarray(heat_w, dtype=np.float64)
    k = system.radiative_w_per_k4
    rate = system.heat_capacity_j_per_k / dt_seconds
    t = np.maximum(t0, equilibrium_temperature_k(system, heat))
    for _ in range(NEWTON_MAX_ITERATIONS):
        f = rate * (t - t0) + k * t**4 - heat
        change = f / (rate + 4.0 * k * t**3)
        t = t - change
        if float(np.max(np.abs(change), initial=0.0)) < NEWTON_TOLERANCE_K:
            break
    return np.asarray(t, dtype=np.float64)


def heat_limit_w(system: ThermalSystem, temperature_k: ArrayLike, dt_seconds: float) -> FloatArray:
    """The most heat (W, environment included) a step may take and end at or below the
    maximum temperature: C (T_max - T0) / dt + eps sigma A T_max^4."""
    t0 = np.asarray(temperature_k, dtype=np.float64)
    return np.asarray(
        system.heat_capacity_j_per_k * (system.max_temperature_k - t0) / dt_seconds
        + system.max_rejection_w,
        dtype=np.float64,
    )


def heater_w(
    system: ThermalSystem, temperature_k: ArrayLike, heat_w: ArrayLike, dt_seconds: float
) -> FloatArray:
    """Heater power that keeps a step from ending below the minimum temperature (0 when the
    other heat suffices): C (T_min - T0) / dt + eps sigma A T_min^4 - heat, at least 0."""
    t0 = np.asarray(temperature_k, dtype=np.float64)
    need = (
        system.heat_capacity_j_per_k * (system.min_temperature_k - t0) / dt_seconds
        + system.radiative_w_per_k4 * system.min_temperature_k**4
        - np.asarray(heat_w, dtype=np.float64)
    )
    return np.asarray(np.maximum(need, 0.0), dtype=np.float64)


def seconds_to_max_temperature(
    system: ThermalSystem, temperature_k: ArrayLike, heat_w: ArrayLike
) -> FloatArray:
    """How long a constant heat input takes to bring the satellite to its maximum
    temperature: `inf` when its equilibrium lies at or below it, 0 when already there.

    Exact for the continuous model: with Q = k T_eq^4, dt = C dT / (k (T_eq^4 - T^4)), so
    t(T) = C / (2 k T_eq^3) (artanh(T / T_eq) + atan(T / T_eq)) + const. Broadcasts.
    """
    t0 = np.asarray(temperature_k, dtype=np.float64)
    heat = np.asarray(heat_w, dtype=np.float64)
    t_max = system.max_temperature_k
    t_eq = equilibrium_temperature_k(system, heat)
    hot = t_eq > t_max
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = system.heat_capacity_j_per_k / (2.0 * system.radiative_w_per_k4 * t_eq**3)
        x_max = np.where(hot, t_max / t_eq, 0.0)
        x0 = np.where(hot, np.minimum(t0, t_max) / t_eq, 0.0)
        seconds = scale * (np.arctanh(x_max) + np.arctan(x_max) - np.arctanh(x0) - np.arctan(x0))
    out = np.where(hot, np.maximum(seconds, 0.0), np.inf)
    out = np.where(t0 >= t_max, np.where(hot, 0.0, np.inf), out)
    return np.asarray(out, dtype=np.float64)


@dataclass
class HeatBound:
    """Upper bound on the GPU heat (J) any schedule can dissipate, accumulated per step.

    Summing the backward-Euler step over a run, C (T_K - T_0) = sum (Q_k - k T_{k+1}^4) dt.
    A schedule that never passes T_max (the throttle guarantees it whenever the bus and
    the environment alone fit under the radiator's rejection at T_max) therefore gives its
    GPUs at most

        C max(T_max - T_0, 0) + sum_k (k T_max^4 - bus - environment_k) dt

    heaters only add heat, so leaving them out keeps it an upper bound.
    """

    system: ThermalSystem
    start_j: FloatArray  # C (T_max - T_0): the thermal mass's headroom at the start
    rejection_j: FloatArray  # sum of (k T_max^4 - bus - environment) dt

    @classmethod
    def start(cls, system: ThermalSystem, temperature_k: ArrayLike) -> HeatBound:
        t0 = np.asarray(temperature_k, dtype=np.float64).reshape(-1)
        headroom = system.heat_capacity_j_per_k * np.maximum(system.max_temperature_k - t0, 0.0)
        return cls(system, headroom, np.zeros_like(headroom))

    def add(self, illumination: ArrayLike, bus_w: float, dt_seconds: float) -> None:
        """One step of `dt_seconds` with the bus's draw and the environment of `illumination`."""
        spare = self.system.max_rejection_w - bus_w - self.system.environment_w(illumination)
        self.rejection_j += spare * dt_seconds

    def gpu_joules(self) -> FloatArray:
        """The bound (J of GPU heat) per satellite over the steps added so far."""
        return np.asarray(np.maximum(self.start_j + self.rejection_j, 0.0), dtype=np.float64)
