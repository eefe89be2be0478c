"""What the API shows of a constellation's satellites: Satellite objects and their status,
Nodes' conditions and taints, and leases; written only when something a reader would see
changed (a write schedule per satellite), through the operator's write queue.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView
from kubesat.core.timebase import iso_z
from kubesat.k8s.api import LAZY, NORMAL, status_of
from kubesat.k8s.nodes import desired_state
from kubesat.k8s.satellites import PHASES, WriteSchedule, instant, satellite_manifest
from kubesat.spec import GROUP, VERSION

if TYPE_CHECKING:
    from kubesat.k8s.runtime import FleetRuntime

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


class StatusWriter:
    """Keeps one constellation's Satellites, Nodes and leases true to its engine."""

    def __init__(self, fleet: FleetRuntime) -> None:
        self.fleet = fleet
        n = fleet.n
        options = fleet.options
        self.node_schedule = WriteSchedule(n, 9, 0.0, math.inf)  # the columns of node_codes
        self.sat_schedule = WriteSchedule(
            n, 8, options.status_coalesce_seconds, options.status_refresh_seconds
        )
        self.eclipse_start = np.full(n, -1, np.int64)
        self.creating: set[str] = set()
        self.last_sat_check = -math.inf

    def sync_satellites(self, sats_index: Any, wall_s: float) -> None:
        """Create the Satellites that are missing (every few seconds)."""
        if wall_s - self.last_sat_check < self.fleet.options.satellites_check_seconds:
            return
        self.last_sat_check = wall_s
        key = (self.fleet.namespace, self.fleet.name)
        existing = {info.name for info in sats_index[key]} if key in sats_index else set()
        owner = {
            "metadata": {
                "name": self.fleet.name,
                "namespace": self.fleet.namespace,
                "uid": self.fleet.uid,
            }
        }
        for i, name in enumerate(self.fleet.names):
            if name in existing or name in self.creating:
                continue
            body = satellite_manifest(
                owner, self.fleet.spec.satellites[i], name, i, self.fleet.from_tle
            )
            self.creating.add(name)

            def done(_: Any, error: BaseException | None, name: str = name) -> None:
                self.creating.discard(name)
                if error is not None and status_of(error) != 409:
                    logger.warning(
                        "creating Satellite %s/%s failed: %s", self.fleet.namespace, name, error
                    )

            self.fleet.api.submit(
                ("satellite-create", self.fleet.namespace, name),
                "create",
                "satellites",
                functools.partial(
                    self.fleet.api.custom.create_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.fleet.namespace,
                    "satellites",
                    body,
                ),
                priority=NORMAL,
                on_done=done,
            )
            self.sat_schedule.forget(i)

    def node_codes(self, column: Any) -> NDArray[np.int64]:
        s = self.fleet.engine
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
        s = self.fleet.engine
        codes = self.node_codes(column)
        registered = self.fleet.nodes.registered
        todo = set(self.node_schedule.select(codes, wall_s, registered).tolist())
        for i in np.flatnonzero(registered):
            if self.fleet.nodes.written[i] is None or self.fleet.nodes.taints_written[i] is None:
                todo.add(int(i))
        missing = ~registered & ~self.fleet.nodes.registering & ~self.fleet.nodes.conflict
        for i in sorted(todo) + [int(i) for i in np.flatnonzero(missing)]:
            until = instant(self.fleet.clock.start_utc, float(s.upset_until[i]), 1.0)
            state = desired_state(
                satellite=self.fleet.names[i],
                policy=self.fleet.spec.policy,
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
                self.fleet.nodes.write(i, state, wall)
                self.node_schedule.mark(i, codes[i], wall_s)
            else:
                uid = self.fleet.sat_uids.get(self.fleet.names[i], "")
                self.fleet.nodes.register(i, uid, state, wall)
                self.node_schedule.mark(i, codes[i], wall_s)
        self.fleet.nodes.renew_leases(wall, wall_s)

    def thermal_fields(self, i: int) -> dict[str, Any]:
        """The Node's thermal inputs of satellite i (none without a thermal model)."""
        s = self.fleet.engine
        if s.thermal is None:
            return {}
        return {
            "throttled_gpus": int(s.g - s.heat_limit_gpus[i]),
            "temperature_c": round(float(s.temperature_k[i]) - 273.15, 1),
        }

    def sat_codes(self, column: Any, view: FleetView) -> NDArray[np.int64]:
        s = self.fleet.engine
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
        return iso_z(self.fleet.clock.at(step * self.fleet.engine.dt)) if step >= 0 else None

    def eclipse_steps(self, column: Any) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Steps of the next (or current) eclipse's start and end; -1 when none is in sight.

        In shadow the forecast only says what is left, so the start seen on entry is kept.
        """
        s = self.fleet.engine
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
        s = self.fleet.engine
        key_known = np.array([name in self.fleet.sat_uids for name in self.fleet.names], np.bool_)
        codes = self.sat_codes(column, view)
        now = self.fleet.clock.at(s.now)
        p = self.fleet.spec.power
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
                "node": self.fleet.names[i],
                "simulatedTime": iso_z(now),
                "busBrownoutSeconds": round(float(s.brownout_seconds[i]), 1),
                "conditions": [bus_condition(bool(s.brownout[i]), iso_z(now))],
            }
            self.sat_schedule.mark(i, codes[i], wall_s)
            name = self.fleet.names[i]

            def done(_: Any, error: BaseException | None, i: int = i) -> None:
                if error is not None:
                    self.sat_schedule.forget(i)

            patch = {"status": body}
            self.fleet.api.submit(
                ("satellite-status", self.fleet.namespace, name),
                "patch",
                "satellites/status",
                functools.partial(
                    self.fleet.api.custom.patch_namespaced_custom_object_status,
                    GROUP,
                    VERSION,
                    self.fleet.namespace,
                    "satellites",
                    name,
                    patch,
                ),
                priority=LAZY,
                on_done=done,
            )
