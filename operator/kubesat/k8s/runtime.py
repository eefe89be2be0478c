"""One running Constellation: its clock, physics, nodes, pods and drains, ticked together.

The loop (run by the Constellation's Kopf daemon) follows the simulated clock on the
step grid: it admits the pods newly bound to its nodes, advances the fleet state to the
current step (`FleetState.advance`: upsets, power, pod progress; a restarted operator
catches up the steps it missed from the state it persisted), applies injected upsets,
writes what changed (pod status, node conditions and taints, Satellite status, leases),
drains what the policy wants off, lets kubesat-scheduler place pending pods, publishes a
`FleetSnapshot` for the metrics and, every few seconds, persists its durable state (the
Constellation's `status.state` and the Jobs' progress annotations).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView
from kubesat.core.timebase import iso_z
from kubesat.k8s.api import LAZY, NORMAL, Api, status_of
from kubesat.k8s.clock import SimClock, wall_now
from kubesat.k8s.fleet import FleetState, Notice
from kubesat.k8s.jobs import JobBook
from kubesat.k8s.nodes import NodeAgent, desired_state, node_labels
from kubesat.k8s.objects import PodInfo
from kubesat.k8s.physics import Environment, flux_model_for
from kubesat.k8s.pods import PodRuntime
from kubesat.k8s.rescheduling import Drainer
from kubesat.k8s.satellites import (
    INJECT_ANNOTATION,
    PHASES,
    WriteSchedule,
    instant,
    parse_injection,
    reference,
    satellite_manifest,
    satellite_names,
)
from kubesat.spec import GROUP, VERSION, ConstellationSpec

logger = logging.getLogger("kubesat.runtime")


@dataclass(frozen=True)
class Options:
    """Tunables of the operator (command-line flags of `kubesat operator`)."""

    lease_renew_seconds: float = 15.0  # a kubelet renews every 10 s; the node-lifecycle
    lease_duration_seconds: int = 40  # controller's grace period is 50 s (1.32+)
    persist_seconds: float = 5.0  # wall seconds between writes of durable state
    status_coalesce_seconds: float = 1.0  # wall seconds a Satellite status change waits
    status_refresh_seconds: float = 60.0  # battery and position refreshed at least this often
    satellites_check_seconds: float = 5.0  # wall seconds between checks for missing Satellites
    snapshot_seconds: float = 0.5  # wall seconds between FleetSnapshots for the metrics
    max_catch_up_seconds: float = 6 * 3600.0  # simulated; beyond it the timeline pauses
    max_tick_wall_seconds: float = 1.0  # the loop wakes at least this often


class FleetRuntime:
    """The live state of one Constellation and its loop."""

    def __init__(
        self, memo: Any, body: dict[str, Any], spec: ConstellationSpec, options: Options
    ) -> None:
        meta = body["metadata"]
        self.memo = memo
        self.api: Api = memo.api
        self.book: JobBook = memo.jobs
        self.options = options
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.key = (self.namespace, self.name)
        self.body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Constellation",
            "metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid},
        }
        self.from_tle = bool((body.get("spec") or {}).get("orbits", {}).get("tle"))
        self.spec = spec
        self.names = satellite_names(self.name, spec.satellites)
        self.n = len(self.names)
        self.planes = np.array([s.plane for s in spec.satellites], np.int64)
        self.state = FleetState(spec, self.names)
        self.env: Environment | None = None
        self.clock = SimClock.starting(
            spec.clock.start_utc, spec.clock.speedup, spec.clock.step_seconds
        )
        self.labels = [
            node_labels(self.namespace, self.name, n, int(p))
            for n, p in zip(self.names, self.planes, strict=True)
        ]
        self.nodes = NodeAgent(
            self.api,
            self.names,
            self.labels,
            spec.power.gpus,
            options.lease_renew_seconds,
            options.lease_duration_seconds,
            self._node_conflict,
        )
        self.node_schedule = WriteSchedule(self.n, 8, 0.0, math.inf)
        self.sat_schedule = WriteSchedule(
            self.n, 7, options.status_coalesce_seconds, options.status_refresh_seconds
        )
        self.pods = PodRuntime(self.api, self.state, self.names, self.event)
        self.drainer = Drainer(self)
        self.sat_uids: dict[str, str] = {}
        self.creating: set[str] = set()
        self.applied_injections: set[tuple[str, str]] = set()
        self.injected: set[int] = set()  # satellites recovering from an injected upset
        self.eclipse_start = np.full(self.n, -1, np.int64)
        self.schedulable = False
        self.stopping = False
        self.prepared = False
        self.last_persist = -math.inf
        self.last_sat_check = -math.inf
        self.last_snapshot = -math.inf
        self.ready_announced = False
        self.task_done = asyncio.Event()
        self.changes_seen = 0
        self.generation: int | None = None

    # -- helpers used by the scheduler and the drainer --------------------------------

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.memo.events(obj, type_, reason, message)

    def satellite_ref(self, i: int) -> dict[str, Any]:
        return reference(self.namespace, self.names[i], self.sat_uids.get(self.names[i]))

    def view(self, allocated: NDArray[np.int64] | None = None) -> FleetView:
        assert self.state.column is not None
        return self.state.view(self.state.column, allocated)

    def placement_mask(self, pod: PodInfo) -> NDArray[np.bool_]:
        """Satellites whose taints the pod tolerates and whose labels its nodeSelector wants."""
        ok = np.ones(self.n, np.bool_)
        for i in range(self.n):
            written = self.nodes.written[i]
            taints = written.taints if written is not None else ()
            for key, value, effect in taints:
                if effect in ("NoSchedule", "NoExecute") and not any(
                    t.tolerates(key, value, effect) for t in pod.tolerations
                ):
                    ok[i] = False
                    break
            if ok[i] and pod.node_selector:
                labels = self.labels[i]
                ok[i] = all(labels.get(k) == v for k, v in pod.node_selector)
        return ok

    def _node_conflict(self, i: int, message: str) -> None:
        logger.warning(message)
        self.event(self.satellite_ref(i), "Warning", "NodeConflict", message)

    # -- start and restore ------------------------------------------------------------

    async def prepare(self, status: dict[str, Any]) -> None:
        """Build the environment (AP8 grid, first chunks) and take back the durable state."""
        flux = await asyncio.to_thread(flux_model_for, self.spec)
        self.env = Environment(self.spec, flux)
        state = dict(status.get("state") or {})
        clock = SimClock.resumed(
            status.get("clock"),
            state.get("clockStart"),
            self.spec.clock.start_utc,
            self.spec.clock.speedup,
            self.spec.clock.step_seconds,
        )
        restored = self.state.restore_state(state) if state.get("clockStart") else False
        if not restored:
            clock = SimClock.starting(
                self.spec.clock.start_utc, self.spec.clock.speedup, self.spec.clock.step_seconds
            )
            self.state.k = max(clock.step_index(), 0)
        else:
            behind = (clock.step_index() - self.state.k) * self.state.step_seconds
            if behind > self.options.max_catch_up_seconds:
                self.event(
                    self.body,
                    "Warning",
                    "ClockPaused",
                    f"the operator was away for {behind:.0f} simulated seconds, more "
                    f"than {self.options.max_catch_up_seconds:.0f}: the timeline "
                    "resumes where it stopped",
                )
                clock = clock.paused_at(self.state.now)
            elif behind < 0:
                self.state.k = max(clock.step_index(), 0)
        self.clock = clock
        await asyncio.to_thread(self.env.ensure, self.state.k)
        self.state.column = self.env.column(self.state.k)
        self.nodes.stagger(time.monotonic())
        self.prepared = True
        logger.info(
            "constellation %s/%s: %d satellites, %s at %s (step %d), speedup %g",
            self.namespace,
            self.name,
            self.n,
            "resumed" if restored else "started",
            iso_z(self.clock.at(self.state.now)),
            self.state.k,
            self.clock.speedup,
        )

    def update_spec(self, spec: ConstellationSpec) -> bool:
        """Apply a new spec in place when the satellites stay the same; False otherwise."""
        if satellite_names(self.name, spec.satellites) != self.names:
            return False
        if spec.clock.step_seconds != self.spec.clock.step_seconds:
            return False
        if spec.clock.start_utc != self.spec.clock.start_utc:
            return False
        self.spec = spec
        self.state.spec = spec
        self.state.power = spec.power
        if self.env is not None:
            self.env.spec = spec
        if not math.isclose(spec.clock.speedup, self.clock.speedup):
            self.clock = self.clock.rebased(spec.clock.speedup, spec.clock.step_seconds)
        self.node_schedule.written[:] = np.iinfo(np.int64).min  # policy may change taints
        return True

    # -- the loop ---------------------------------------------------------------------

    async def run(self, stopped: Any, indexes: dict[str, Any]) -> None:
        pods_index = indexes["satellite_pods"]
        jobs_index = indexes["gpu_jobs"]
        sats_index = indexes["fleet_satellites"]
        try:
            self.schedulable = True
            while not stopped and not self.stopping:
                await self.tick(pods_index, jobs_index, sats_index)
                delay = self._sleep_seconds()
                await asyncio.sleep(delay)
        finally:
            self.schedulable = False
            try:
                # shielded: a cancelled daemon still leaves its last state behind
                await asyncio.shield(self.persist(final=True))
            except Exception as error:
                logger.warning(
                    "final persist of %s/%s failed: %s", self.namespace, self.name, error
                )
            self.task_done.set()

    def _sleep_seconds(self) -> float:
        next_offset = (self.state.k + 1) * self.state.step_seconds
        wait = (self.clock.wall_at(next_offset) - wall_now()).total_seconds()
        return min(max(wait, 0.005), self.options.max_tick_wall_seconds)

    async def tick(self, pods_index: Any, jobs_index: Any, sats_index: Any) -> None:
        assert self.env is not None
        started = time.perf_counter()
        wall = wall_now()
        wall_s = time.monotonic()
        ready = self.state.ready
        self.pods.adopt(pods_index, jobs_index, self.book, ready, wall)
        target = max(self.clock.step_index(wall), self.state.k)
        if self.env.needs(target):
            await asyncio.to_thread(self.env.ensure, target)
        if target - self.state.k > 360:  # a long catch-up: off the event loop
            self.schedulable = False
            notices = await asyncio.to_thread(self.state.advance, self.env, target)
            self.schedulable = True
        else:
            notices = self.state.advance(self.env, target)
        notices.extend(self._injections(sats_index))
        self._announce(notices)
        self.pods.write(wall)
        column = self.state.column
        assert column is not None
        view = self.view(self.pods.allocated(pods_index))
        self.drainer.run(view)
        self._sync_satellites(sats_index, wall_s)
        self._sync_nodes(column, wall, wall_s)
        self._sync_satellite_status(column, view, wall_s)
        scheduler = getattr(self.memo, "scheduler", None)
        if scheduler is not None:
            await scheduler.maybe_run(self.memo.fleets, pods_index, jobs_index)
        if wall_s - self.last_snapshot >= self.options.snapshot_seconds:
            self.last_snapshot = wall_s
            self._snapshot(pods_index)
        self.book.drop_missing(set(jobs_index))
        if wall_s - self.last_persist >= self.options.persist_seconds:
            self.last_persist = wall_s
            await self.persist()
        elif self.state.changes != self.changes_seen:
            self.persist_jobs()  # a pod started or ended: its Job's units changed
        self.changes_seen = self.state.changes
        metrics = getattr(self.memo, "metrics", None)
        if metrics is not None:
            metrics.observe_reconcile("tick", time.perf_counter() - started)

    # -- injected upsets ---------------------------------------------------------------

    def _injections(self, sats_index: Any) -> list[Notice]:
        key = (self.namespace, self.name)
        if key not in sats_index:
            return []
        notices = []
        index = {n: i for i, n in enumerate(self.names)}
        for info in list(sats_index[key]):
            self.sat_uids[info.name] = info.uid
            if not info.inject or info.name not in index:
                continue
            mark = (info.uid, info.resource_version)
            if mark in self.applied_injections:
                continue
            self.applied_injections.add(mark)
            i = index[info.name]
            try:
                kind, gpu = parse_injection(info.inject, self.spec.power.gpus)
            except ValueError as error:
                self.event(self.satellite_ref(i), "Warning", "InvalidInjection", str(error))
            else:
                if gpu is None:
                    owners = self.state.gpu_owner[i]
                    gpu = next((g for g, o in enumerate(owners) if o is not None), 0)
                notices.append(self.state.apply_upset(i, kind, gpu, self.state.now, True))
            self._clear_injection(info.name)
        return notices

    def _clear_injection(self, name: str) -> None:
        patch = {"metadata": {"annotations": {INJECT_ANNOTATION: None}}}
        self.api.submit(
            ("satellite-inject", self.namespace, name),
            "patch",
            "satellites",
            lambda: self.api.custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "satellites", name, patch
            ),
            priority=NORMAL,
        )

    def _announce(self, notices: list[Notice]) -> None:
        for notice in notices:
            ref = self.satellite_ref(notice.sat)
            when = iso_z(self.clock.at(notice.time))
            pods = f"; pods lost: {', '.join(notice.pods)}" if notice.pods else ""
            if notice.kind == "upset":
                if notice.injected:
                    self.injected.add(notice.sat)
                elif notice.upset == "correctable" or (notice.upset == "sefi" and not notice.pods):
                    continue  # counted (status, metrics); an Event only when it costs a pod
                how = "injected" if notice.injected else "radiation"
                if notice.upset == "sefi":
                    recovery = self.spec.radiation.upsets.sefi_recovery_seconds
                    text = (
                        f"SEFI ({how}) on GPU {notice.gpu} at {when}: the GPU hung; it is "
                        f"back after {recovery:.0f} s{pods}"
                    )
                elif notice.upset == "latchup":
                    recovery = self.spec.radiation.upsets.latchup_recovery_seconds
                    text = (
                        f"latch-up ({how}) at {when}: the satellite power-cycles for "
                        f"{recovery:.0f} s{pods}"
                    )
                else:
                    text = f"correctable upset ({how}) at {when}: corrected by ECC"
                self.event(ref, "Warning", "RadiationUpset", text)
            elif notice.kind == "power-lost":
                self.event(
                    ref,
                    "Warning",
                    "PowerLost",
                    f"battery at its floor at {when}: GPUs shed, the payload is off "
                    f"until the battery recovers{pods}",
                )
            elif notice.kind == "power-restored":
                self.event(
                    ref,
                    "Normal",
                    "PowerRestored",
                    f"battery recovered at {when}: the payload restarts "
                    f"({self.spec.payload_restart_seconds:.0f} s)",
                )
            elif notice.kind == "recovered":
                if notice.sat not in self.injected and self.state.upset_kind[notice.sat] != 2:
                    continue  # SEFIs come and go by the thousand; latch-ups are news
                self.injected.discard(notice.sat)
                self.event(ref, "Normal", "Recovered", f"upset recovery over at {when}")

    # -- Satellites, Nodes ------------------------------------------------------------

    def _sync_satellites(self, sats_index: Any, wall_s: float) -> None:
        """Create the Satellites that are missing (every few seconds)."""
        if wall_s - self.last_sat_check < self.options.satellites_check_seconds:
            return
        self.last_sat_check = wall_s
        key = (self.namespace, self.name)
        existing = {info.name for info in sats_index[key]} if key in sats_index else set()
        owner = {"metadata": {"name": self.name, "namespace": self.namespace, "uid": self.uid}}
        for i, name in enumerate(self.names):
            if name in existing or name in self.creating:
                continue
            body = satellite_manifest(owner, self.spec.satellites[i], name, i, self.from_tle)
            self.creating.add(name)

            def done(_: Any, error: BaseException | None, name: str = name) -> None:
                self.creating.discard(name)
                if error is not None and status_of(error) != 409:
                    logger.warning(
                        "creating Satellite %s/%s failed: %s", self.namespace, name, error
                    )

            self.api.submit(
                ("satellite-create", self.namespace, name),
                "create",
                "satellites",
                lambda body=body: self.api.custom.create_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, "satellites", body
                ),
                priority=NORMAL,
                on_done=done,
            )
            self.sat_schedule.forget(i)

    def _node_codes(self, column: Any) -> NDArray[np.int64]:
        s = self.state
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
            ],
            axis=1,
        ).astype(np.int64)

    def _sync_nodes(self, column: Any, wall: Any, wall_s: float) -> None:
        s = self.state
        codes = self._node_codes(column)
        registered = self.nodes.registered
        todo = set(self.node_schedule.select(codes, wall_s, registered).tolist())
        for i in np.flatnonzero(registered):
            if self.nodes.written[i] is None or self.nodes.taints_written[i] is None:
                todo.add(int(i))
        missing = ~registered & ~self.nodes.registering & ~self.nodes.conflict
        for i in sorted(todo) + [int(i) for i in np.flatnonzero(missing)]:
            until = instant(self.clock.start_utc, float(s.upset_until[i]), 1.0)
            state = desired_state(
                satellite=self.names[i],
                policy=self.spec.policy,
                illumination=float(column.illumination[i]),
                link=bool(column.link[i]),
                powered=bool(s.powered[i]),
                down=bool(s.down_until[i] > s.now),
                upset=bool(s.upset_until[i] > s.now),
                upset_kind=int(s.upset_kind[i]),
                until=until,
                healthy_gpus=int(codes[i, 6]),
            )
            if registered[i]:
                self.nodes.write(i, state, wall)
                self.node_schedule.mark(i, codes[i], wall_s)
            else:
                uid = self.sat_uids.get(self.names[i], "")
                self.nodes.register(i, uid, state, wall)
                self.node_schedule.mark(i, codes[i], wall_s)
        self.nodes.renew_leases(wall, wall_s)

    def _sat_codes(self, column: Any, view: FleetView) -> NDArray[np.int64]:
        s = self.state
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
        to_shadow, shadow_end = self._eclipse_steps(column)
        # What makes a write due: phase and eclipse times, SEFIs and latch-ups, GPUs. The
        # ground link and correctable upsets (tens a day per satellite) ride along with
        # those writes and the periodic refresh: the Node's GroundLink condition is the
        # timely signal, and the metrics count every upset.
        return np.column_stack(
            [phase, to_shadow, shadow_end, s.upsets_by_satellite[:, 1:], s.busy, view.free_gpus]
        ).astype(np.int64)

    def _step_time(self, step: int) -> str | None:
        return iso_z(self.clock.at(step * self.state.step_seconds)) if step >= 0 else None

    def _eclipse_steps(self, column: Any) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Steps of the next (or current) eclipse's start and end; -1 when none is in sight.

        In shadow the forecast only says what is left, so the start seen on entry is kept.
        """
        s = self.state
        step = s.step_seconds
        finite = np.isfinite(column.seconds_to_shadow)
        ahead = np.where(finite, column.seconds_to_shadow, 0.0)
        start = np.where(finite, s.k + np.round(ahead / step), -1).astype(np.int64)
        inside = finite & (ahead <= 0)
        kept = inside & (self.eclipse_start >= 0) & (self.eclipse_start <= s.k)
        start = np.where(kept, self.eclipse_start, start)
        end = np.where(finite, s.k + np.round((ahead + column.shadow_seconds) / step), -1)
        self.eclipse_start = start
        return start, end.astype(np.int64)

    def _sync_satellite_status(self, column: Any, view: FleetView, wall_s: float) -> None:
        s = self.state
        key_known = np.array([name in self.sat_uids for name in self.names], np.bool_)
        codes = self._sat_codes(column, view)
        now = self.clock.at(s.now)
        p = self.spec.power
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
                "nextEclipseStart": self._step_time(int(codes[i, 1])),
                "nextEclipseEnd": self._step_time(int(codes[i, 2])),
                "nextContactStart": instant(
                    now, float(column.seconds_to_contact[i]), s.step_seconds
                )
                if column.seconds_to_contact[i] > 0
                else None,
                "upsets": {
                    "correctable": int(upsets[0]),
                    "sefi": int(upsets[1]),
                    "latchup": int(upsets[2]),
                },
                "gpusBusy": int(s.busy[i]),
                "gpusAvailable": int(view.free_gpus[i]),
                "node": self.names[i],
                "simulatedTime": iso_z(now),
            }
            self.sat_schedule.mark(i, codes[i], wall_s)
            name = self.names[i]

            def done(_: Any, error: BaseException | None, i: int = i) -> None:
                if error is not None:
                    self.sat_schedule.forget(i)

            patch = {"status": body}
            self.api.submit(
                ("satellite-status", self.namespace, name),
                "patch",
                "satellites/status",
                lambda name=name, patch=patch: (
                    self.api.custom.patch_namespaced_custom_object_status(
                        GROUP, VERSION, self.namespace, "satellites", name, patch
                    )
                ),
                priority=LAZY,
                on_done=done,
            )

    # -- metrics and durable state ----------------------------------------------------

    def _snapshot(self, pods_index: Any) -> None:
        phases = {"Pending": 0, "Running": 0, "Succeeded": 0, "Failed": 0}
        for i in range(self.n):
            for pod in self.pods.pods_on(pods_index, i):
                if pod.phase in phases:
                    phases[pod.phase] += 1
        snapshots = getattr(self.memo, "snapshots", None)
        if snapshots is not None:
            snapshots[f"{self.namespace}/{self.name}"] = self.state.snapshot(
                self.name, self.planes, self.spec.policy, phases
            )

    def status_body(self) -> dict[str, Any]:
        state = self.state.to_state()
        state["clockStart"] = iso_z(self.spec.clock.start_utc)
        ready = int((self.nodes.registered & self.state.ready).sum())
        registered = int(self.nodes.registered.sum())
        all_ready = registered == self.n and ready == self.n
        return {
            "phase": "Running",
            "observedGeneration": self.generation,
            "satellites": self.n,
            "readyNodes": ready,
            "goodputRatio": round(self.state.goodput_ratio, 6),
            "clock": self.clock.as_status(self.state.now),
            "state": state,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if all_ready else "False",
                    "reason": "NodesReady" if all_ready else "NodesNotReady",
                    "message": f"{ready}/{self.n} satellite nodes Ready ({registered} registered)",
                }
            ],
        }

    def persist_jobs(self) -> None:
        """Write the progress annotation of every Job whose units changed."""
        for job, text in self.book.dirty():
            job.written = text
            namespace, name = job.key

            def job_done(_: Any, error: BaseException | None, job: Any = job) -> None:
                if error is not None and status_of(error) != 404:
                    job.written = None

            self.api.submit(
                ("job-progress", namespace, name),
                "patch",
                "jobs",
                lambda namespace=namespace, name=name, text=text: (
                    self.api.batch.patch_namespaced_job(name, namespace, JobBook.patch(text))
                ),
                priority=NORMAL,
                on_done=job_done,
            )
            if job.complete and not job.counted_complete:
                job.counted_complete = True
                self.state.jobs_completed += 1

    async def persist(self, final: bool = False) -> None:
        """Write `status.state` (and the Jobs' progress): a restart continues from here."""
        if not self.prepared:
            return
        body = {"status": {k: v for k, v in self.status_body().items() if v is not None}}
        if not self.ready_announced and body["status"]["readyNodes"] == self.n:
            self.ready_announced = True
            self.event(
                self.body,
                "Normal",
                "NodesReady",
                f"all {self.n} satellite nodes are registered and Ready",
            )
        self.persist_jobs()

        def call() -> Any:
            return self.api.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, "constellations", self.name, body
            )

        if final:
            try:
                await self.api.call("patch", "constellations/status", call)
            except Exception as error:
                if status_of(error) != 404:
                    raise
        else:
            self.api.submit(
                ("constellation-status", self.namespace, self.name),
                "patch",
                "constellations/status",
                call,
                priority=NORMAL,
            )

    async def stop(self) -> None:
        self.stopping = True
