"""Satellite power: solar array, bus and GPU loads, and a battery with a depth-of-discharge floor.

One energy model serves the fleet engine of the simulator and the operator (`battery_step`)
and the goodput denominator (`energy_bound_gpu_seconds`). Power is constant within a time
step: illumination[:, k] is the mean illuminated fraction over [k*dt, (k+1)*dt). Energies
are joules internally, Wh at the interface (`battery_wh`, stored energy in Wh).

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


def _illumination(values: ArrayLike) -> FloatArray:
    """(N, T) illuminated fractions in [0, 1]."""
    array = _unit_interval("illumination", values)
    if array.ndim != 2:
        raise ValueError(f"illumination: must be 2-D (satellites, times), got shape {array.shape}")
    return array


def _initial_soc(values: ArrayLike, satellites: int) -> FloatArray:
    """Initial state of charge per satellite, (N,)."""
    array = _unit_interval("initial_soc", values)
    try:
        return np.broadcast_to(array, (satellites,)).astype(float)
    except ValueError:
        raise ValueError(
            f"initial_soc: shape {array.shape} does not fit {satellites} satellites"
        ) from None


def battery_step(
    system: PowerSystem,
    stored_wh: FloatArray,
    solar_w: FloatArray,
    load_w: FloatArray,
    dt_seconds: float,
) -> tuple[FloatArray, FloatArray]:
    """Advance the batteries one step of `dt_seconds` at constant solar power and load.

    `stored_wh`, `solar_w` and `load_w` broadcast together (one entry per satellite).
    Solar feeds the load first; the surplus charges the battery at `charge_efficiency`,
    capped at full; a deficit is drawn at 1 / `discharge_efficiency` down to the floor.
    Returns the stored energy after the step (Wh) and the load left unserved (W): a
    deficit the battery cannot cover above its floor.
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


def energy_bound_gpu_seconds(
    system: PowerSystem,
    illumination: ArrayLike,
    dt_seconds: float,
    initial_soc: ArrayLike,
) -> FloatArray:
    """Upper bound on the GPU-seconds any schedule can power, per satellite.

    The goodput denominator, for any schedule of active GPUs stepped through the battery
    model above (`battery_step`). Counted GPU-seconds are those with no shortfall. With
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
    illum = _illumination(illumination)
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
