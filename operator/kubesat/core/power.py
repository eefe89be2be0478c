"""Satellite power: solar array, bus and GPU loads, and a battery with a depth-of-discharge floor.

One energy model serves the simulator (`soc_series`), the predictive policy (`runway_seconds`,
`eclipse_ride_through_gpus`) and the goodput denominator (`energy_bound_gpu_seconds`).
Power is constant within a time step: illumination[:, k] is the mean illuminated fraction
over [k*dt, (k+1)*dt). Energies are joules internally, Wh at the interface (`battery_wh`).

Conventions:
- solar power = illumination x `solar_array_w` (a sun-tracking array: no pointing loss).
- Load = bus + active GPUs x `gpu_power_w`. Solar feeds the load first; only the surplus
  charges the battery (storing surplus x `charge_efficiency`, capped at full); a deficit
  is drawn from the battery (drawing deficit / `discharge_efficiency` from storage) down
  to the floor state of charge 1 - `depth_of_discharge`. What the battery cannot serve is
  the shortfall.
- The bus has priority: a shortfall is taken from the GPUs first, so a shortfall up to the
  GPU load means "the GPUs must stop", and anything beyond it browns out the bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

SECONDS_PER_HOUR: Final = 3600.0
# Lithium-ion cell plus converter efficiency, each way (~90% round trip; e.g. NASA
# SmallSat State of the Art 2024, §3 Power: Li-ion round-trip 85-95%).
DEFAULT_CHARGE_EFFICIENCY: Final = 0.95
DEFAULT_DISCHARGE_EFFICIENCY: Final = 0.95
# Usable fraction of the battery; the same default as the Constellation spec. LEO
# batteries cycle ~15 times a day and deep cycles cost life (Tiansuan BUPT-1 telemetry,
# MobiCom '24: past 30% DoD ~25% of battery life lost), so sizing studies may lower it.
DEFAULT_DEPTH_OF_DISCHARGE: Final = 0.8

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PowerSystem:
    """Power hardware of one satellite model (all satellites of a constellation share it)."""

    solar_array_w: float  # array output in full sun, sun-tracking
    bus_power_w: float  # always-on platform load (avionics, comms, thermal)
    gpu_power_w: float  # per active GPU (an H100 SXM draws up to ~700 W)
    gpus: int  # GPUs on board
    battery_wh: float  # usable-to-empty capacity at 100% state of charge
    charge_efficiency: float = DEFAULT_CHARGE_EFFICIENCY  # (0, 1]: stored / bus-side input
    discharge_efficiency: float = DEFAULT_DISCHARGE_EFFICIENCY  # (0, 1]: bus output / drawn
    depth_of_discharge: float = DEFAULT_DEPTH_OF_DISCHARGE  # (0, 1]: floor SoC = 1 - this

    def __post_init__(self) -> None:
        """Reject physically meaningless hardware, naming the field and value."""
        for name in ("solar_array_w", "bus_power_w", "gpu_power_w"):
            value = getattr(self, name)
            if not value >= 0:  # also rejects NaN
                raise ValueError(f"{name}: must be >= 0, got {value}")
        if not self.battery_wh > 0 or not np.isfinite(self.battery_wh):
            raise ValueError(f"battery_wh: must be > 0, got {self.battery_wh}")
        is_integer = isinstance(self.gpus, int | np.integer) and not isinstance(self.gpus, bool)
        if not is_integer or self.gpus < 0:
            raise ValueError(f"gpus: must be an integer >= 0, got {self.gpus!r}")
        for name in ("charge_efficiency", "discharge_efficiency", "depth_of_discharge"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name}: must be in (0, 1], got {value}")

    @property
    def floor_soc(self) -> float:
        """Lowest state of charge the battery may be drawn down to."""
        return 1.0 - self.depth_of_discharge

    @property
    def battery_j(self) -> float:
        """Battery capacity in joules."""
        return self.battery_wh * SECONDS_PER_HOUR

    @property
    def max_load_w(self) -> float:
        """Bus plus every GPU busy."""
        return self.bus_power_w + self.gpus * self.gpu_power_w


@dataclass(frozen=True)
class PowerTrace:
    """Power flows of N satellites over T steps; every (N, T) array is a step mean in W.

    `soc` is (N, T+1): soc[:, 0] is the initial state and soc[:, k+1] the state at the end
    of step k, so it lines up with step boundaries rather than step means.
    Energy balance per step: solar = (load - shortfall) + curtailed + battery + loss.
    """

    soc: FloatArray  # (N, T+1) state of charge, 0..1
    solar_w: FloatArray  # array output
    load_w: FloatArray  # demanded: bus + active GPUs
    battery_w: FloatArray  # change of stored energy: + charging, - discharging
    loss_w: FloatArray  # charge and discharge conversion losses
    curtailed_w: FloatArray  # surplus solar that could not be stored (battery full)
    shortfall_w: FloatArray  # demanded load left unserved (GPUs first, then bus)

    @property
    def served_w(self) -> FloatArray:
        """Load actually powered."""
        return self.load_w - self.shortfall_w


def _unit_interval(name: str, values: ArrayLike) -> FloatArray:
    """Values as a float array, or ValueError if any lies outside [0, 1] (or is NaN)."""
    array = np.asarray(values, dtype=float)
    bad = ~((array >= 0) & (array <= 1))
    if np.any(bad):
        raise ValueError(f"{name}: must be within [0, 1], got {array[bad].flat[0]}")
    return array


def _positive_dt(dt_seconds: float) -> float:
    """The step length, or ValueError unless it is a positive finite number."""
    if not (dt_seconds > 0 and np.isfinite(dt_seconds)):
        raise ValueError(f"dt_seconds: must be > 0, got {dt_seconds}")
    return float(dt_seconds)


def _illumination(values: ArrayLike, name: str) -> FloatArray:
    """(N, T) illuminated fractions in [0, 1]."""
    array = _unit_interval(name, values)
    if array.ndim != 2:
        raise ValueError(f"{name}: must be 2-D (satellites, times), got shape {array.shape}")
    return array


def _gpu_counts(
    system: PowerSystem, name: str, values: ArrayLike, shape: tuple[int, ...]
) -> FloatArray:
    """GPU counts broadcast to `shape`, or ValueError unless integers in [0, system.gpus]."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 1 and len(shape) == 2:
        array = array[:, None]
    try:
        array = np.broadcast_to(array, shape)
    except ValueError:
        raise ValueError(f"{name}: shape {np.shape(values)} does not fit {shape}") from None
    bad = ~((array >= 0) & (array <= system.gpus) & (array == np.round(array)))
    if np.any(bad):
        raise ValueError(
            f"{name}: must be integers in [0, {system.gpus}], got {array[bad].flat[0]}"
        )
    return array


def _initial_soc(values: ArrayLike, satellites: int, name: str = "initial_soc") -> FloatArray:
    """Initial state of charge per satellite, (N,)."""
    array = _unit_interval(name, values)
    try:
        return np.broadcast_to(array, (satellites,)).astype(float)
    except ValueError:
        raise ValueError(
            f"{name}: shape {array.shape} does not fit {satellites} satellites"
        ) from None


def soc_series(
    system: PowerSystem,
    illumination: ArrayLike,
    active_gpus: ArrayLike,
    dt_seconds: float,
    initial_soc: ArrayLike,
) -> PowerTrace:
    """Battery state and power flows of N satellites over T steps of `dt_seconds`.

    `illumination` is (N, T) in [0, 1]; `active_gpus` (N, T) or (N,) integers;
    `initial_soc` (N,) or a scalar. Loops over time steps, numpy over satellites.
    """
    dt = _positive_dt(dt_seconds)
    illum = _illumination(illumination, "illumination")
    satellites, steps = illum.shape
    active = _gpu_counts(system, "active_gpus", active_gpus, illum.shape)
    soc0 = _initial_soc(initial_soc, satellites)

    solar_w = illum * system.solar_array_w
    load_w = system.bus_power_w + active * system.gpu_power_w
    net_w = solar_w - load_w
    surplus_w = np.maximum(net_w, 0.0)
    deficit_w = np.maximum(-net_w, 0.0)

    capacity_j = system.battery_j
    floor_j = system.floor_soc * capacity_j
    charge_eff, discharge_eff = system.charge_efficiency, system.discharge_efficiency
    stored_j = np.empty((satellites, steps + 1))
    stored_j[:, 0] = soc0 * capacity_j
    charge_in_w = np.empty_like(net_w)  # bus-side power into the charger
    drawn_w = np.empty_like(net_w)  # power drawn out of storage
    output_w = np.empty_like(net_w)  # bus-side power out of the discharger
    for k in range(steps):
        energy_j = stored_j[:, k]
        room_j = np.maximum(capacity_j - energy_j, 0.0)
        charge_j = np.minimum(surplus_w[:, k] * charge_eff * dt, room_j)
        available_j = np.maximum(energy_j - floor_j, 0.0)
        wanted_j = deficit_w[:, k] / discharge_eff * dt
        enough = wanted_j <= available_j
        draw_j = np.where(enough, wanted_j, available_j)
        charge_in_w[:, k] = charge_j / (charge_eff * dt)
        drawn_w[:, k] = draw_j / dt
        output_w[:, k] = np.where(enough, deficit_w[:, k], available_j * discharge_eff / dt)
        stored_j[:, k + 1] = energy_j + charge_j - draw_j

    return PowerTrace(
        soc=stored_j / capacity_j,
        solar_w=solar_w,
        load_w=load_w,
        battery_w=charge_in_w * charge_eff - drawn_w,
        loss_w=charge_in_w * (1.0 - charge_eff) + (drawn_w - output_w),
        curtailed_w=surplus_w - charge_in_w,
        shortfall_w=deficit_w - output_w,
    )


def battery_step(
    system: PowerSystem,
    stored_wh: FloatArray,
    solar_w: FloatArray,
    load_w: FloatArray,
    dt_seconds: float,
) -> tuple[FloatArray, FloatArray]:
    """One step of `soc_series` for callers that decide the load step by step.

    Returns the stored energy after the step (Wh) and the load left unserved (W): a
    deficit the battery cannot cover above its floor. Same model as `soc_series`.
    """
    dt = _positive_dt(dt_seconds)
    net_w = np.asarray(solar_w, dtype=float) - np.asarray(load_w, dtype=float)
    energy_j = np.asarray(stored_wh, dtype=float) * SECONDS_PER_HOUR
    capacity_j = system.battery_j
    floor_j = system.floor_soc * capacity_j
    room_j = np.maximum(capacity_j - energy_j, 0.0)
    charge_j = np.minimum(np.maximum(net_w, 0.0) * system.charge_efficiency * dt, room_j)
    deficit_w = np.maximum(-net_w, 0.0)
    available_j = np.maximum(energy_j - floor_j, 0.0)
    wanted_j = deficit_w / system.discharge_efficiency * dt
    draw_j = np.minimum(wanted_j, available_j)
    served_w = draw_j * system.discharge_efficiency / dt
    return (energy_j + charge_j - draw_j) / SECONDS_PER_HOUR, deficit_w - served_w


def runway_seconds(
    system: PowerSystem,
    soc: ArrayLike,
    gpus: ArrayLike,
    illumination_ahead: ArrayLike,
    dt_seconds: float,
) -> FloatArray:
    """Seconds from now until sunlight plus battery can no longer carry bus + `gpus` GPUs.

    `soc` (N,) now, `gpus` (N,) GPUs kept busy, `illumination_ahead` (N, H) forecast step
    means from now. The battery drains at (load - solar) / discharge_efficiency while
    the load exceeds the sunlight and recharges on surplus; the runway ends when it
    reaches the floor with a deficit. The crossing is exact within a step (power is
    constant there). np.inf if the battery never runs out within the H steps; 0 if it
    is already at the floor in deficit.
    """
    dt = _positive_dt(dt_seconds)
    illum = _illumination(illumination_ahead, "illumination_ahead")
    satellites, horizon = illum.shape
    energy_j = _initial_soc(soc, satellites, "soc") * system.battery_j
    load_w = system.bus_power_w + _gpu_counts(system, "gpus", gpus, (satellites,)) * (
        system.gpu_power_w
    )
    capacity_j = system.battery_j
    floor_j = system.floor_soc * capacity_j
    runway = np.full(satellites, np.inf)
    for k in range(horizon):
        net_w = illum[:, k] * system.solar_array_w - load_w
        drain_w = np.maximum(-net_w, 0.0) / system.discharge_efficiency
        available_j = np.maximum(energy_j - floor_j, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            empty_after_s = np.where(drain_w > 0, available_j / drain_w, np.inf)
        runs_out = (empty_after_s < dt) & np.isinf(runway)
        runway[runs_out] = k * dt + empty_after_s[runs_out]
        charge_j = np.maximum(net_w, 0.0) * system.charge_efficiency * dt
        energy_j = np.minimum(energy_j + charge_j, np.maximum(energy_j, capacity_j))
        energy_j = energy_j - np.minimum(drain_w * dt, available_j)
        if np.isfinite(runway).all():
            break
    return runway


def eclipse_ride_through_gpus(
    system: PowerSystem, soc: ArrayLike, eclipse_seconds: ArrayLike
) -> NDArray[np.int64]:
    """Most GPUs the battery alone can carry, with the bus, through an eclipse.

    n = floor((discharge_eff x (soc - floor) x capacity / eclipse - bus) / gpu_power),
    clipped to [0, gpus]; 0 also when the battery cannot carry even the bus; all GPUs for
    a zero-length eclipse. `soc` (N,), `eclipse_seconds` (N,) or scalar.
    """
    soc_arr = _unit_interval("soc", soc)
    eclipse_s = np.asarray(eclipse_seconds, dtype=float)
    if np.any(~(eclipse_s >= 0)):
        bad = eclipse_s[~(eclipse_s >= 0)].flat[0]
        raise ValueError(f"eclipse_seconds: must be >= 0, got {bad}")
    soc_arr, eclipse_s = np.broadcast_arrays(soc_arr, eclipse_s)
    deliverable_j = (
        np.maximum(soc_arr - system.floor_soc, 0.0) * system.battery_j * system.discharge_efficiency
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        budget_w = np.where(eclipse_s > 0, deliverable_j / eclipse_s, np.inf)
        spare_w = budget_w - system.bus_power_w
        if system.gpu_power_w > 0:
            # A relative 1e-9 absorbs float error in exact cases (budget == n GPUs).
            count = np.floor(spare_w / system.gpu_power_w * (1 + 1e-9) + 1e-9)
        else:
            count = np.full(spare_w.shape, float(system.gpus))
    count = np.where(spare_w >= -1e-9 * system.bus_power_w, count, 0.0)
    clipped = np.clip(np.nan_to_num(count, posinf=system.gpus), 0, system.gpus)
    return np.asarray(clipped, dtype=np.int64)


def energy_bound_gpu_seconds(
    system: PowerSystem,
    illumination: ArrayLike,
    dt_seconds: float,
    initial_soc: ArrayLike,
) -> FloatArray:
    """Upper bound on the GPU-seconds any schedule can power under `soc_series`, per satellite.

    The goodput denominator. Counted GPU-seconds are those with no shortfall. With
    s_k = solar_k - bus (W), P = gpus x gpu_power_w, ce, de the efficiencies, E0 the
    initial and E_floor, E_full the floor and full stored energy:

      direct  = Σ_k min(P, max(s_k, 0)) dt          sunlight straight into GPUs
      Q       = de [max(E0 - E_floor, 0) + Σ_runs min(ce Σ_run (s_k - P) dt, room)]
                battery output available: initial charge plus, for each run of steps
                with s_k >= P (GPUs all busy, the rest storable), what the battery can
                hold (room = E_full - min(E0, E_floor); E_full - E0 for a run at t = 0)
      battery = fractional knapsack of Q over steps with spare GPU capacity: a partly
                lit step (0 <= s_k < P) turns (P - s_k) dt of output into as much GPU
                energy; a deficit step (s_k < 0) turns (P - s_k) dt of output into P dt
                (the bus deficit rides along), i.e. at ratio P / (P - s_k)
      bound   = (direct + battery) / gpu_power_w       [GPU-seconds], <= gpus x T x dt

    Why it is an upper bound: GPU energy is at most direct sunlight plus battery output
    turned into GPU energy at those best ratios; diverting sunlight from GPUs into the
    battery never helps (it returns at most ce x de <= 1); capacity limits only what a
    run of full-sun steps can store, where no discharge can happen; time order (charge
    before use) and integer GPU counts are relaxed. It is tight where the battery sizes
    the eclipse: running every GPU flat out in sunlight and draining the battery at full
    GPU power in eclipse achieves it, less at most what the final sunlit arc stores but
    no later eclipse uses.
    """
    dt = _positive_dt(dt_seconds)
    illum = _illumination(illumination, "illumination")
    satellites, steps = illum.shape
    soc0 = _initial_soc(initial_soc, satellites)
    gpu_w = system.gpus * system.gpu_power_w
    if system.gpus == 0:
        return np.zeros(satellites)
    if system.gpu_power_w == 0:  # free GPUs: every GPU-second is within reach
        return np.full(satellites, system.gpus * steps * dt)

    spare_w = illum * system.solar_array_w - system.bus_power_w  # s_k
    direct_j = np.minimum(np.maximum(spare_w, 0.0), gpu_w).sum(axis=1) * dt

    capacity_j = system.battery_j
    floor_j = system.floor_soc * capacity_j
    energy0_j = soc0 * capacity_j
    full_sun = spare_w >= gpu_w
    storable_j = np.where(full_sun, spare_w - gpu_w, 0.0) * system.charge_efficiency * dt
    previous = np.zeros((satellites, 1), dtype=bool)
    starts = full_sun & ~np.concatenate([previous, full_sun[:, :-1]], axis=1)
    run_index = np.cumsum(starts, axis=1)  # 1, 2, ... for each run in a row
    flat_index = np.arange(satellites)[:, None] * (steps + 1) + run_index
    per_run_j = np.bincount(
        flat_index[full_sun], weights=storable_j[full_sun], minlength=satellites * (steps + 1)
    ).reshape(satellites, steps + 1)
    room_j = np.repeat((capacity_j - np.minimum(energy0_j, floor_j))[:, None], steps + 1, axis=1)
    room_j[:, 1] = np.where(full_sun[:, 0], capacity_j - energy0_j, room_j[:, 1])
    stored_j = np.minimum(per_run_j, room_j).sum(axis=1)
    budget_j = system.discharge_efficiency * (np.maximum(energy0_j - floor_j, 0.0) + stored_j)

    item_j = np.maximum(gpu_w - spare_w, 0.0) * dt  # battery output each step can absorb
    ratio = np.where(spare_w >= 0, 1.0, gpu_w / (gpu_w - np.minimum(spare_w, 0.0)))
    order = np.argsort(-ratio, axis=1, kind="stable")
    ratio = np.take_along_axis(ratio, order, axis=1)
    item_j = np.take_along_axis(item_j, order, axis=1)
    before_j = np.cumsum(item_j, axis=1) - item_j
    used_j = np.clip(budget_j[:, None] - before_j, 0.0, item_j)
    battery_j = (ratio * used_j).sum(axis=1)
    return np.asarray((direct_j + battery_j) / system.gpu_power_w, dtype=np.float64)
