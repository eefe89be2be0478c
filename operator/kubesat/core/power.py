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
from typing import Final, NamedTuple

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
# Hard reserve below which the bus browns out: a stated assumption (safe-mode margin;
# lithium-ion cells are kept above ~10% state of charge to avoid damage).
DEFAULT_BUS_RESERVE_FRACTION: Final = 0.1

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
    # [0, floor SoC]: the hard reserve. The bus may draw below the payload's floor down to
    # it; reaching it browns the bus out (the satellite would enter safe mode). None: the
    # default (10%, or the floor if that is lower)
    bus_reserve_fraction: float | None = None

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
        reserve = self.bus_reserve_fraction
        if reserve is not None and not (reserve >= 0 and reserve + self.depth_of_discharge <= 1):
            raise ValueError(
                f"bus_reserve_fraction: must be >= 0 and at most the payload floor "
                f"1 - depth_of_discharge = {self.floor_soc:g}, got {reserve}"
            )

    @property
    def reserve_soc(self) -> float:
        """State of charge the bus may be drawn down to (the hard reserve)."""
        if self.bus_reserve_fraction is None:
            return min(DEFAULT_BUS_RESERVE_FRACTION, self.floor_soc)
        return self.bus_reserve_fraction

    @property
    def floor_soc(self) -> float:
        """Lowest state of charge the battery may be drawn down to."""
        return 1.0 - self.depth_of_discharge

    @property
    def usable_wh(self) -> float:
        """Stored energy between full and the payload's floor."""
        return self.battery_wh * self.depth_of_discharge

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


class BusFirstStep(NamedTuple):
    """One step of the battery with the bus served first."""

    stored_wh: FloatArray  # after the step
    payload_unserved_w: FloatArray  # payload load the battery could not carry above its floor
    bus_unserved_w: FloatArray  # bus load it could not carry above the hard reserve


def bus_first_step(
    system: PowerSystem,
    stored_wh: ArrayLike,
    solar_w: ArrayLike,
    bus_w: ArrayLike,
    payload_w: ArrayLike,
    dt_seconds: float,
) -> BusFirstStep:
    """Advance the batteries one step of `dt_seconds` at constant solar power and loads.

    The bus (the satellite itself) is served first, always: from sunlight, then from the
    battery down to the hard reserve (`bus_reserve_fraction`). The payload (the GPUs)
    gets what sunlight is left, then the battery down to its floor (1 - depth of
    discharge). A surplus charges the battery at `charge_efficiency`, capped at full;
    draws cost 1 / `discharge_efficiency`. Arguments broadcast (one entry per satellite).
    """
    dt = _positive_dt(dt_seconds)
    solar = np.asarray(solar_w, dtype=float)
    bus = np.asarray(bus_w, dtype=float)
    payload = np.asarray(payload_w, dtype=float)
    energy_j = np.asarray(stored_wh, dtype=float) * SECONDS_PER_HOUR
    capacity_j = system.battery_j
    de = system.discharge_efficiency
    # the bus first: sunlight, then the battery down to the hard reserve
    bus_from_sun = np.minimum(solar, bus)
    bus_deficit_w = bus - bus_from_sun
    bus_draw_j = np.minimum(
        bus_deficit_w / de * dt,
        np.maximum(energy_j - system.reserve_soc * capacity_j, 0.0),
    )
    energy_j = energy_j - bus_draw_j
    # then the payload: the sunlight left, then the battery down to its floor
    left_w = solar - bus_from_sun
    payload_deficit_w = np.maximum(payload - left_w, 0.0)
    payload_draw_j = np.minimum(
        payload_deficit_w / de * dt,
        np.maximum(energy_j - system.floor_soc * capacity_j, 0.0),
    )
    energy_j = energy_j - payload_draw_j
    surplus_w = np.maximum(left_w - payload, 0.0)
    charge_j = np.minimum(
        surplus_w * system.charge_efficiency * dt, np.maximum(capacity_j - energy_j, 0.0)
    )
    return BusFirstStep(
        (energy_j + charge_j) / SECONDS_PER_HOUR,
        payload_deficit_w - payload_draw_j * de / dt,
        bus_deficit_w - bus_draw_j * de / dt,
    )


def battery_step(
    system: PowerSystem,
    stored_wh: FloatArray,
    solar_w: FloatArray,
    load_w: FloatArray,
    dt_seconds: float,
) -> tuple[FloatArray, FloatArray]:
    """`bus_first_step` with the whole load on the payload side (no bus): the stored
    energy after the step (Wh) and the load left unserved above the floor (W)."""
    step = bus_first_step(system, stored_wh, solar_w, 0.0, load_w, dt_seconds)
    return step.stored_wh, step.payload_unserved_w


def bus_viability(system: PowerSystem, longest_eclipse_seconds: float) -> float:
    """Margin (Wh, stored) by which the bus alone rides through the longest eclipse above
    the payload's floor, from a full battery: usable energy less the bus's draw. Below 0
    the design cannot keep its own platform powered without eating into the reserve."""
    need_wh = (
        system.bus_power_w * longest_eclipse_seconds / SECONDS_PER_HOUR
    ) / system.discharge_efficiency
    return float(system.usable_wh - need_wh)


def energy_bound_gpu_seconds(
    system: PowerSystem,
    illumination: ArrayLike,
    dt_seconds: float,
    initial_soc: ArrayLike,
) -> FloatArray:
    """Upper bound on the GPU-seconds any schedule can power, per satellite.

    The goodput denominator, for any schedule of active GPUs stepped through the battery
    model above (`bus_first_step`) that keeps the bus above the payload's floor (draws
    below it are the reserve's, and reaching the reserve is a fault). Counted GPU-seconds
    are those with no shortfall. With s_k = solar_k - bus (W), P = gpus x gpu_power_w,
    ce, de the efficiencies, E0 the initial and E_floor, E_full the floor and full stored
    energy:

      direct  = Σ_k min(P, max(s_k, 0)) dt          sunlight straight into GPUs
      Q       = de [max(E0 - E_floor, 0) + Σ_runs min(ce Σ_run (s_k - P) dt, room)]
                battery output available: initial charge plus, for each run of steps
                with s_k >= P (GPUs all busy, the rest storable), what the battery can
                hold (room = E_full - min(E0, E_floor); E_full - E0 for a run at t = 0)
      bus     = Σ_k max(-s_k, 0) dt                 the bus's deficits, every step
      battery = min(max(Q - bus, 0), Σ_k (P - min(max(s_k, 0), P)) dt)
                what is left for GPUs, at most what they could take beyond sunlight
      direct' = direct - max(bus - Q, 0) / (ce de)
                a bus needing more than Q takes the rest from sunlight the GPUs would
                have used, stored and drawn again
      bound   = (direct' + battery) / gpu_power_w      [GPU-seconds], <= gpus x T x dt

    Why it is an upper bound: the bus is served first in every step, so its deficits
    come out of the battery whatever the GPUs do, and with the bus above the floor they
    come out of the output above it; GPU energy is then at most direct sunlight plus the
    rest of that output; diverting sunlight from GPUs into the battery never helps (it
    returns at most ce x de <= 1); capacity limits only what a run of full-sun steps can
    store, where no discharge can happen; time order (charge before use) and integer GPU
    counts are relaxed. Latch-up power cycles, which switch the bus off for minutes, are
    not credited (a few watt-hours a day at the examples' upset rates). It is tight where
    the battery sizes the eclipse: running every GPU flat out in sunlight and spending
    the battery beyond the bus's eclipse energy on GPUs achieves it, less at most what
    the final sunlit arc stores but no later eclipse uses.
    """
    dt = _positive_dt(dt_seconds)
    illum = _illumination(illumination)
    satellites, steps = illum.shape
    bound = EnergyBound.start(system, _initial_soc(initial_soc, satellites))
    for k in range(steps):
        bound.add(illum[:, k], dt)
    return bound.gpu_seconds()


@dataclass
class EnergyBound:
    """`energy_bound_gpu_seconds`, accumulated one step at a time over (N,) satellites.

    Every term of the bound is a sum over steps (or over runs of full-sun steps), so a
    running shell can report the proven bound of the steps so far, exactly the number the
    whole-run function gives.
    """

    system: PowerSystem
    energy0_j: FloatArray  # initial stored energy
    direct_j: FloatArray  # sunlight straight into GPUs
    bus_j: FloatArray  # the bus's deficits
    gpu_room_j: FloatArray  # what GPUs could take beyond sunlight
    stored_j: FloatArray  # closed runs' storage, capped by their room
    run_j: FloatArray  # the open run's storable energy
    run_room_j: FloatArray  # the open run's room
    in_run: NDArray[np.bool_]
    steps: int = 0
    seconds: float = 0.0

    @classmethod
    def start(cls, system: PowerSystem, initial_soc: ArrayLike) -> EnergyBound:
        soc0 = np.asarray(_unit_interval("initial_soc", initial_soc), dtype=float).reshape(-1)
        n = soc0.size
        zeros = np.zeros(n)
        return cls(
            system,
            soc0 * system.battery_j,
            zeros.copy(),
            zeros.copy(),
            zeros.copy(),
            zeros.copy(),
            zeros.copy(),
            zeros.copy(),
            np.zeros(n, np.bool_),
        )

    def add(self, illumination: ArrayLike, dt_seconds: float) -> None:
        """One step of sunlight (N,) of `dt_seconds`."""
        p = self.system
        dt = _positive_dt(dt_seconds)
        gpu_w = p.gpus * p.gpu_power_w
        spare_w = np.asarray(illumination, dtype=float) * p.solar_array_w - p.bus_power_w
        self.direct_j += np.minimum(np.maximum(spare_w, 0.0), gpu_w) * dt
        self.bus_j += np.maximum(-spare_w, 0.0) * dt
        self.gpu_room_j += (gpu_w - np.clip(spare_w, 0.0, gpu_w)) * dt
        full_sun = spare_w >= gpu_w
        ended = self.in_run & ~full_sun
        self.stored_j += np.where(ended, np.minimum(self.run_j, self.run_room_j), 0.0)
        self.run_j = np.where(ended, 0.0, self.run_j)
        starting = full_sun & ~self.in_run
        # a run at t = 0 can fill what the initial charge leaves; a later one, from the
        # floor (or from below it, if the battery started there)
        capacity_j = p.battery_j
        room_j = (
            capacity_j - self.energy0_j
            if self.steps == 0
            else capacity_j - np.minimum(self.energy0_j, p.floor_soc * capacity_j)
        )
        self.run_room_j = np.where(starting, room_j, self.run_room_j)
        self.run_j += np.where(full_sun, (spare_w - gpu_w) * p.charge_efficiency * dt, 0.0)
        self.in_run = full_sun
        self.steps += 1
        self.seconds += dt

    def gpu_seconds(self) -> FloatArray:
        """The bound (GPU-seconds) per satellite over the steps added so far."""
        p = self.system
        if p.gpus == 0:
            return np.zeros_like(self.direct_j)
        if p.gpu_power_w == 0:  # free GPUs: every GPU-second is within reach
            return np.full_like(self.direct_j, p.gpus * self.seconds)
        open_j = np.where(self.in_run, np.minimum(self.run_j, self.run_room_j), 0.0)
        floor_j = p.floor_soc * p.battery_j
        budget_j = p.discharge_efficiency * (
            np.maximum(self.energy0_j - floor_j, 0.0) + self.stored_j + open_j
        )
        # the bus is served first in every step: its deficits come out of the battery
        # output whatever the GPUs do
        battery_j = np.minimum(np.maximum(budget_j - self.bus_j, 0.0), self.gpu_room_j)
        # a bus that needs more than that output takes the rest from sunlight the GPUs
        # would have used, stored and drawn again (at ce x de)
        shortfall_j = np.maximum(self.bus_j - budget_j, 0.0)
        direct_j = np.maximum(
            self.direct_j - shortfall_j / (p.charge_efficiency * p.discharge_efficiency), 0.0
        )
        return np.asarray((direct_j + battery_j) / p.gpu_power_w, dtype=np.float64)
