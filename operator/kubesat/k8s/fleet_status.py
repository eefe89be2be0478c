"""What the API shows of a constellation's satellites: Satellite objects and their status,
Nodes' conditions and taints, and leases; written only when something a reader would see
changed (a write schedule per satellite), through the operator's write queue.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView
from kubesat.core.timebase import iso_z
from kubesat.engine.fleet import FleetEngine
from kubesat.k8s.api import LAZY, NORMAL, Api, status_of
from kubesat.k8s.clock import SimClock
from kubesat.k8s.fleet_refs import SatelliteUids
from kubesat.k8s.nodes import NodeAgent, desired_state
from kubesat.k8s.satellites import PHASES, WriteSchedule, instant, satellite_manifest
from kubesat.spec import GROUP, VERSION, ConstellationSpec

logger = logging.getLogger("kubesat.status")


def bus_condition(brownout: bool, since: str) -> dict[str, str]:
    """The Satellite's `BusPowered` condition: False while the bus sits at the battery's
    hard reserve, unserved (a platform fault: the satellite would enter safe mode)."""
    if brownout:
        return {
            "type": "BusPowered",
            "status": "False",
            "reason": "BusBrownout",
            "message": "the battery reached its hard reserve: the bus is not fully powered",
            "lastTransitionTime": since,
        }
    return {
        "type": "BusPowered",
        "status": "True",
        "reason": "BusServed",
        "message": "the bus is served first, from sunlight or the battery",
        "lastTransitionTime": since,
    }


@dataclass(frozen=True)
class StatusConfig:
    """What the status writer reads and writes of one constellation (the runtime's values)."""

    namespace: str
    constellation: str  # its name
    uid: str  # its uid: the Satellites' owner
    from_tle: bool  # the orbits come from TLEs (the Satellites' manifests say so)
    satellites: SatelliteUids  # shared: names, and the uids the announcer recorded
    engine: FleetEngine  # read only: the state the objects show
    nodes: NodeAgent  # the Nodes and leases it writes
    api: Api
    spec: Callable[[], ConstellationSpec]  # the current spec (an update replaces it)
    clock: Callable[[], SimClock]  # the current clock (an update rebases it)
    status_coalesce_seconds: float  # wall seconds a Satellite status change waits
    status_refresh_seconds: float  # battery and position refreshed at least this often
    satellites_check_seconds: float  # wall seconds between checks for missing Satellites


class StatusWriter:
    """Keeps one constellation's Satellites, Nodes and leases true to its engine."""

    def __init__(self, config: StatusConfig) -> None:
        self.config = config
        n = len(config.satellites.names)
        self.node_schedule = WriteSchedule(n, 9, 0.0, math.inf)  # the columns of node_codes
        self.sat_schedule = WriteSchedule(
            n, 8, config.status_coalesce_seconds, config.status_refresh_seconds
        )
        self.eclipse_start = np.full(n, -1, np.int64)
        self.creating: set[str] = set()
        self.last_sat_check = -math.inf

    def sync_satellites(self, sats_index: Any, wall_s: float) -> None:
        """Create the Satellites that are missing (every few seconds)."""
        config = self.config
        if wall_s - self.last_sat_check < config.satellites_check_seconds:
            return
        self.last_sat_check = wall_s
        namespace, api = config.namespace, config.api
        key = (namespace, config.constellation)
        existing = {info.name for info in sats_index[key]} if key in sats_index else set()
        owner = {
            "metadata": {"name": config.constellation, "namespace": namespace, "uid": config.uid}
        }
        for i, name in enumerate(config.satellites.names):
            if name in existing or name in self.creating:
                continue
            body = satellite_manifest(owner, config.spec().satellites[i], name, i, config.from_tle)
            self.creating.add(name)

            def done(_: Any, error: BaseException | None, name: str = name) -> None:
                self.creating.discard(name)
                if error is not None and status_of(error) != 409:
                    logger.warning("creating Satellite %s/%s failed: %s", namespace, name, error)

            api.submit(
                ("satellite-create", namespace, name),
                "create",
                "satellites",
                functools.partial(
                    api.custom.create_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    namespace,
                    "satellites",
                    body,
                ),
                priority=NORMAL,
                on_done=done,
            )
            self.sat_schedule.forget(i)

    def node_codes(self, column: Any) -> NDArray[np.int64]:
        s = self.config.engine
        now = s.now
        down = s.down_until > now
        ready_code = np.where(down, 2, np.where(s.ready, 0, 1))
        sun = np.where(column.illumination >= 1.0, 0, 1)  # penumbra and umbra alike
        upset = s.upset
        until = np.where(upset, np.round(s.upset_until), 0).astype(np.int64)
        return np.stack(
            [
                ready_code,
                sun,
                s.powered,
                column.link,
                upset,
                np.where(upset, s.upset_kind, 0),
                s.healthy_gpus(),
                until,
                s.throttling,  # heat holds GPUs off (never without a thermal model)
            ],
            axis=1,
        ).astype(np.int64)

    def sync_nodes(self, column: Any, wall: Any, wall_s: float) -> None:
        config = self.config
        s, nodes, names = config.engine, config.nodes, config.satellites.names
        codes = self.node_codes(column)
        registered = nodes.registered
        todo = set(self.node_schedule.select(codes, wall_s, registered).tolist())
        for i in np.flatnonzero(registered):
            if nodes.written[i] is None or nodes.taints_written[i] is None:
                todo.add(int(i))
        missing = ~registered & ~nodes.registering & ~nodes.conflict
        for i in sorted(todo) + [int(i) for i in np.flatnonzero(missing)]:
            until = instant(config.clock().start_utc, float(s.upset_until[i]), 1.0)
            state = desired_state(
                satellite=names[i],
                policy=config.spec().policy,
                illumination=float(column.illumination[i]),
                link=bool(column.link[i]),
                powered=bool(s.powered[i]),
                down=bool(s.down_until[i] > s.now),
                upset=bool(s.upset_until[i] > s.now),
                upset_kind=int(s.upset_kind[i]),
                until=until,
                healthy_gpus=int(codes[i, 6]),
                **self.thermal_fields(i),
            )
            if registered[i]:
                nodes.write(i, state, wall)
                self.node_schedule.mark(i, codes[i], wall_s)
            else:
                uid = config.satellites.by_name.get(names[i], "")
                nodes.register(i, uid, state, wall)
                self.node_schedule.mark(i, codes[i], wall_s)
        nodes.renew_leases(wall, wall_s)

    def rewrite_nodes(self) -> None:
        """Every registered Node is written again at the next sync (a new policy may
        change its taints)."""
        self.node_schedule.written[:] = np.iinfo(np.int64).min

    def thermal_fields(self, i: int) -> dict[str, Any]:
        """The Node's thermal inputs of satellite i (none without a thermal model)."""
        s = self.config.engine
        if s.thermal is None:
            return {}
        return {
            "throttled_gpus": int(s.g - s.heat_limit_gpus[i]),
            "temperature_c": round(float(s.temperature_k[i]) - 273.15, 1),
        }

    def sat_codes(self, column: Any, view: FleetView) -> NDArray[np.int64]:
        s = self.config.engine
        down = s.down_until > s.now
        phase = np.select(
            [
                down,
                ~s.powered | ~s.ready,
                s.upset,
                column.illumination >= 1.0,
                column.illumination > 0.0,
            ],
            [4, 5, 3, 0, 1],
            default=2,
        )
        to_shadow, shadow_end = self.eclipse_steps(column)
        # What makes a write due: phase and eclipse times, SEFIs and latch-ups, GPUs. The
        # ground link and correctable upsets (tens a day per satellite) ride along with
        # those writes and the periodic refresh: the Node's GroundLink condition is the
        # timely signal, and the metrics count every upset.
        return np.column_stack(
            [
                phase,
                to_shadow,
                shadow_end,
                s.upsets_by_satellite[:, 1:],
                s.busy_gpus(),
                view.free_gpus,
                s.brownout,
            ]
        ).astype(np.int64)

    def step_time(self, step: int) -> str | None:
        clock, dt = self.config.clock(), self.config.engine.dt
        return iso_z(clock.at(step * dt)) if step >= 0 else None

    def eclipse_steps(self, column: Any) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Steps of the next (or current) eclipse's start and end; -1 when none is in sight.

        In shadow the forecast only says what is left, so the start seen on entry is kept.
        """
        s = self.config.engine
        step = s.dt
        finite = np.isfinite(column.seconds_to_shadow)
        ahead = np.where(finite, column.seconds_to_shadow, 0.0)
        start = np.where(finite, s.k + np.round(ahead / step), -1).astype(np.int64)
        inside = finite & (ahead <= 0)
        kept = inside & (self.eclipse_start >= 0) & (self.eclipse_start <= s.k)
        start = np.where(kept, self.eclipse_start, start)
        end = np.where(finite, s.k + np.round((ahead + column.shadow_seconds) / step), -1)
        self.eclipse_start = start
        return start, end.astype(np.int64)

    def sync_satellite_status(self, column: Any, view: FleetView, wall_s: float) -> None:
        config, s = self.config, self.config.engine
        names, namespace, api = config.satellites.names, config.namespace, config.api
        key_known = config.satellites.known()
        codes = self.sat_codes(column, view)
        now = config.clock().at(s.now)
        p = config.spec().power
        soc = s.soc / max(p.battery_wh, 1e-9)
        for i in self.sat_schedule.select(codes, wall_s, key_known):
            i = int(i)
            upsets = s.upsets_by_satellite[i]
            body = {
                "phase": PHASES[int(codes[i, 0])],
                "sunlit": bool(column.illumination[i] >= 1.0),
                "illuminatedFraction": round(float(column.illumination[i]), 4),
                "batteryPercent": round(100.0 * float(soc[i]), 1),
                "stateOfCharge": round(float(soc[i]), 4),
                "solarPowerW": round(float(column.illumination[i]) * p.solar_array_w, 1),
                "loadPowerW": round(float(s.load_w[i]), 1),
                "groundLink": bool(column.link[i]),
                "latitudeDeg": round(float(column.latitude_deg[i]), 3),
                "longitudeDeg": round(float(column.longitude_deg[i]), 3),
                "altitudeKm": round(float(column.altitude_km[i]), 2),
                "nextEclipseStart": self.step_time(int(codes[i, 1])),
                "nextEclipseEnd": self.step_time(int(codes[i, 2])),
                "nextContactStart": instant(now, float(column.seconds_to_contact[i]), s.dt)
                if column.seconds_to_contact[i] > 0
                else None,
                "upsets": {
                    "correctable": int(upsets[0]),
                    "sefi": int(upsets[1]),
                    "latchup": int(upsets[2]),
                },
                "gpusBusy": int(s.busy_gpus()[i]),
                "gpusAvailable": int(view.free_gpus[i]),
                "node": names[i],
                "simulatedTime": iso_z(now),
                "busBrownoutSeconds": round(float(s.brownout_seconds[i]), 1),
                "conditions": [bus_condition(bool(s.brownout[i]), iso_z(now))],
            }
            self.sat_schedule.mark(i, codes[i], wall_s)
            name = names[i]

            def done(_: Any, error: BaseException | None, i: int = i) -> None:
                if error is not None:
                    self.sat_schedule.forget(i)

            patch = {"status": body}
            api.submit(
                ("satellite-status", namespace, name),
                "patch",
                "satellites/status",
                functools.partial(
                    api.custom.patch_namespaced_custom_object_status,
                    GROUP,
                    VERSION,
                    namespace,
                    "satellites",
                    name,
                    patch,
                ),
                priority=LAZY,
                on_done=done,
            )
