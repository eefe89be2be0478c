"""The power phase: every battery one step on; a shortfall sheds the GPUs (their pods
die) and the payload reboots once the battery recovers. The bus is served first."""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.power import bus_first_step
from kubesat.engine.environment import Column
from kubesat.engine.events import EndReason, Notice, NoticeKind
from kubesat.engine.heat import heat_step, heater_draw, hold_off_hot_gpus
from kubesat.engine.lifecycle import end_on_satellite
from kubesat.engine.state import EPSILON, FleetState

POWER_RECOVERY_FRACTION: Final = 0.05  # battery must climb 5% of capacity above its floor


def power_step(s: FleetState, column: Column) -> None:
    """Advance every battery one step; a shortfall sheds the GPUs (their pods die).
    With a thermal model, GPUs the radiator cannot carry are held off first (their
    pods die too), a heater on the bus holds the minimum temperature, and the
    temperature follows the heat of the step."""
    now, dt, p = s.now, s.dt, s.power
    solar = column.illumination * p.solar_array_w
    # the bus runs unless the satellite power-cycles (a latch-up); a payload that
    # reboots after a low-voltage disconnect leaves the bus on
    bus = np.where(s.bus_off_until <= now, p.bus_power_w, 0.0)
    environment_w = np.zeros(s.n)
    if s.thermal is not None:
        environment_w = s.thermal.environment_w(column.illumination)
        hold_off_hot_gpus(s, bus + environment_w)
        bus = bus + heater_draw(s, bus + environment_w)
    busy = s.busy_gpus()
    new, short, bus_short = bus_first_step(p, s.soc, solar, bus, busy * p.gpu_power_w, dt)
    lost = (short > EPSILON) & (busy > 0)
    for sat in np.flatnonzero(lost):
        killed, lost_work = end_on_satellite(s, int(sat), EndReason.POWER_LOST)
        s.decisions.append(
            Notice(
                NoticeKind.POWER_LOST,
                int(sat),
                now,
                pods=tuple(killed),
                lost_gpu_seconds=lost_work,
            )
        )
    if lost.any():
        # the GPUs were shed at the start of the step: only the bus drew power
        redo = bus_first_step(p, s.soc, solar, bus, 0.0, dt)
        new = np.where(lost, redo.stored_wh, new)
        bus_short = np.where(lost, redo.bus_unserved_w, bus_short)
    s.soc = new
    browned = bus_short > EPSILON
    for sat in np.flatnonzero(browned & ~s.brownout):
        s.counters.bus_brownouts += 1
        s.decisions.append(Notice(NoticeKind.BUS_BROWNOUT, int(sat), now))
    s.brownout = browned
    s.brownout_seconds += browned * dt
    s.counters.bus_brownout_seconds += float(browned.sum()) * dt
    s.load_w = np.where(lost, bus, bus + busy * p.gpu_power_w)
    s.solar_energy_j += solar * dt
    s.bound.add(column.illumination, dt)
    if s.thermal is not None:
        heat_step(s, column, environment_w)
    s.counters.bound_gpu_seconds = float(bound_gpu_seconds(s).sum())
    payload_restart(s, lost)


def payload_restart(s: FleetState, lost: NDArray[np.bool_]) -> None:
    """Low-voltage disconnect: the payload (the node) is off until the battery has
    recovered, then boots for payload_restart_seconds before it rejoins the cluster."""
    p, now, dt = s.power, s.now, s.dt
    floor = p.battery_wh * p.floor_soc
    restart = floor + POWER_RECOVERY_FRACTION * p.battery_wh
    s.restart_pending |= lost
    recovered = s.restart_pending & (s.soc >= restart)
    s.down_until = np.where(recovered, now + dt + s.config.payload_restart_seconds, s.down_until)
    s.restart_pending &= ~recovered
    s.powered = ~s.restart_pending
    for sat in np.flatnonzero(recovered):
        s.decisions.append(Notice(NoticeKind.POWER_RESTORED, int(sat), now + dt))


def bound_gpu_seconds(s: FleetState) -> NDArray[np.float64]:
    """Per satellite, the proven bound of the steps so far: the energy bound, and with
    a thermal model the lesser of it and the heat bound (both are upper bounds)."""
    energy = s.bound.gpu_seconds()
    if s.heat_bound is None or s.power.gpu_power_w <= 0:
        return energy
    heat = s.heat_bound.gpu_joules() / s.power.gpu_power_w
    return np.asarray(np.minimum(energy, heat), dtype=np.float64)
