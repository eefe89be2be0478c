"""One running Constellation: the engine's shell on the real API, ticked on the clock.

The loop (run by the Constellation's Kopf daemon) follows the simulated clock on the
step grid. It reads events into the engine (`kubesat.engine.fleet.FleetEngine`, the step
the simulator runs): Jobs kubesat controls, pods newly bound to its nodes, deletions,
injected upsets. It steps the engine to the current step (a restarted operator catches up
the steps it missed from the state it persisted) and writes the engine's decisions out:
pods created and bound for kubesat's Jobs, pod status, evictions, Job status, Events. Then
it writes node conditions and taints, Satellite status and leases, lets kubesat-scheduler
bind pending pods of other Jobs, publishes a `FleetSnapshot` for the metrics and, every
few seconds, persists the engine's state (`kubesat.k8s.persistence`).

Each writer gets a small config of the values and callbacks it needs, never the runtime
(as kwok's controllers get theirs): `decisions`, `rescheduling`, `announcements`,
`fleet_status`, `job_intake`, `persistence`; `fleet_refs.SatelliteUids` is the one object
they share.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.ground import GroundStation
from kubesat.core.policy import FleetView
from kubesat.core.power import bus_viability
from kubesat.core.timebase import iso_z
from kubesat.engine.config import EngineConfig
from kubesat.engine.durable import restore_state
from kubesat.engine.environment import Column, WindowedEnvironment, flux_model_for
from kubesat.engine.fleet import FleetEngine
from kubesat.k8s.announcements import Announcer, AnnouncerConfig
from kubesat.k8s.api import Api
from kubesat.k8s.clock import SimClock, wall_now
from kubesat.k8s.decisions import DecisionConfig, DecisionWriter
from kubesat.k8s.fleet_refs import SatelliteUids
from kubesat.k8s.fleet_status import StatusConfig, StatusWriter
from kubesat.k8s.job_controller import ManagedJobs
from kubesat.k8s.job_intake import JobIntake, JobIntakeConfig
from kubesat.k8s.jobs import JobBook
from kubesat.k8s.nodes import NodeAgent, node_labels
from kubesat.k8s.objects import PodInfo
from kubesat.k8s.persistence import Persistence, PersistenceConfig
from kubesat.k8s.pods import PodRuntime
from kubesat.k8s.rescheduling import Drainer, DrainerConfig
from kubesat.k8s.satellites import satellite_names
from kubesat.spec import GROUP, TESTED_CLUSTER_NODES, VERSION, ConstellationSpec

logger = logging.getLogger("kubesat.runtime")

CATCH_UP_IN_THREAD_STEPS = 360  # a longer catch-up runs off the event loop


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
    max_satellites: int = TESTED_CLUSTER_NODES  # a larger Constellation is refused


class FleetRuntime:
    """The live state of one Constellation and its loop."""

    def __init__(
        self, memo: Any, body: dict[str, Any], spec: ConstellationSpec, options: Options
    ) -> None:
        meta = body["metadata"]
        self.memo = memo
        self.api: Api = memo.api
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
        self.engine = self._new_engine(spec)
        self.env: WindowedEnvironment | None = None
        self.column: Column | None = None
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
        self.satellites = SatelliteUids(self.namespace, self.names)  # shared by the writers
        self._wire()
        self.schedulable = False
        self.stopping = False
        self.prepared = False
        self.last_persist = -math.inf
        self.last_snapshot = -math.inf
        self.ready_announced = False
        self.task_done = asyncio.Event()
        self.changes_seen = 0
        self.generation: int | None = None
        self.restored_pods_unchecked = False
        self.persistence = Persistence(
            PersistenceConfig(
                self.namespace,
                self.name,
                self.uid,
                self.body,
                self.api,
                self.event,
                self.engine,
                spec.clock.start_utc,
            )
        )

    def _new_engine(self, spec: ConstellationSpec) -> FleetEngine:
        config = EngineConfig.from_spec(spec, places_builtin_pods=False)
        return FleetEngine(config, self.names, self.planes, self.name)

    def _wire(self) -> None:
        """The writers over the engine, each given only what it reads and writes."""
        engine, api, names, event = self.engine, self.api, self.names, self.event
        self.book = JobBook(engine, api, self._wall_text, event)
        self.intake = JobIntake(
            JobIntakeConfig(
                self.namespace,
                self.name,
                self.book,
                event,
                fleets=lambda: getattr(self.memo, "fleets", {}) or {},
            )
        )
        self.pods = PodRuntime(api, engine, self.book, names, event)
        self.managed = ManagedJobs(api, engine, self.book, names, self._wall_text)
        self.drainer = Drainer(
            DrainerConfig(
                self.satellites,
                api,
                event,
                column=lambda: self.column,
                drain_lead_seconds=engine.drain_lead_seconds,
                soc_wh=lambda: engine.soc,
                battery_wh=lambda: self.spec.power.battery_wh,
                wall_seconds=lambda simulated: self.clock.wall_seconds(simulated),
            )
        )
        options = self.options
        self.status = StatusWriter(
            StatusConfig(
                self.namespace,
                self.name,
                self.uid,
                self.from_tle,
                self.satellites,
                engine,
                self.nodes,
                api,
                spec=lambda: self.spec,
                clock=lambda: self.clock,
                status_coalesce_seconds=options.status_coalesce_seconds,
                status_refresh_seconds=options.status_refresh_seconds,
                satellites_check_seconds=options.satellites_check_seconds,
            )
        )
        self.announcer = Announcer(
            AnnouncerConfig(
                self.namespace,
                self.name,
                self.satellites,
                api,
                event,
                spec=lambda: self.spec,
                sim_text=self._sim_text,
                pod_names=self.pod_names,
                inject_upset=engine.inject_upset,
                upset_kind=lambda i: int(engine.upset_kind[i]),
            )
        )
        self.decisions = DecisionWriter(
            DecisionConfig(
                engine,
                names,
                self.book,
                self.pods,
                self.managed,
                self.drainer,
                self.announcer,
                event,
                node_registered=lambda i: bool(self.nodes.registered[i]),
                sim_text=self._sim_text,
            )
        )

    @staticmethod
    def _wall_text() -> str:
        return iso_z(wall_now()).split(".")[0] + "Z"

    def _sim_text(self, offset_seconds: float) -> str:
        return iso_z(self.clock.at(offset_seconds))

    # -- callbacks of the writers, and what the scheduler reads ------------------------

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.memo.events(obj, type_, reason, message)

    def pod_names(self) -> dict[int, str]:
        """Engine pod -> the name of its pod in the API."""
        return {pod: key[1] for pod, key in self.pods.key_of.items()}

    def view(self, allocated: NDArray[np.int64] | None = None) -> FleetView:
        """What the policy sees now; `allocated`: GPUs of pods bound to each satellite
        (live, pending or assumed by the scheduler), when known better than the engine's."""
        assert self.column is not None
        return self.engine.view(self.column, allocated)  # the radiator's limit applies too

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
        self.event(self.satellites.ref(i), "Warning", "NodeConflict", message)

    # -- start and restore ------------------------------------------------------------

    async def prepare(self, status: dict[str, Any], jobs_index: Any = None) -> None:
        """Build the environment (AP8 grid, first chunks) and take back the durable state:
        the Jobs the state names are added to the engine first, then their progress."""
        flux = await asyncio.to_thread(flux_model_for, self.spec)
        self.env = WindowedEnvironment(self.spec, flux)
        state = await self.persistence.load(status)
        if jobs_index is not None:
            self.intake.restore(jobs_index, set((state.get("jobs") or {}).keys()))
        clock = SimClock.resumed(
            status.get("clock"),
            state.get("clockStart"),
            self.spec.clock.start_utc,
            self.spec.clock.speedup,
            self.spec.clock.step_seconds,
        )
        restored = restore_state(self.engine, state) if state.get("clockStart") else False
        if restored:
            self.pods.restore_refs()
            self.restored_pods_unchecked = True
        if not restored:
            clock = SimClock.starting(
                self.spec.clock.start_utc, self.spec.clock.speedup, self.spec.clock.step_seconds
            )
            self.engine.k = max(clock.step_index(), 0)
        else:
            behind = (clock.step_index() - self.engine.k) * self.engine.dt
            if behind > self.options.max_catch_up_seconds:
                self.event(
                    self.body,
                    "Warning",
                    "ClockPaused",
                    f"the operator was away for {behind:.0f} simulated seconds, more "
                    f"than {self.options.max_catch_up_seconds:.0f}: the timeline "
                    "resumes where it stopped",
                )
                clock = clock.paused_at(self.engine.now)
            elif behind < 0:
                self.engine.k = max(clock.step_index(), 0)
        self.clock = clock
        await asyncio.to_thread(self.env.ensure, self.engine.k)
        self.column = self.env.column(self.engine.k)
        self._check_bus_viability()
        self.nodes.stagger(time.monotonic())
        self.prepared = True
        logger.info(
            "constellation %s/%s: %d satellites, %s at %s (step %d), speedup %g",
            self.namespace,
            self.name,
            self.n,
            "resumed" if restored else "started",
            iso_z(self.clock.at(self.engine.now)),
            self.engine.k,
            self.clock.speedup,
        )

    def _check_bus_viability(self) -> None:
        """A Warning when the bus alone cannot ride the forecast's longest eclipse above
        the payload's floor from a full battery: that design browns out its platform."""
        assert self.env is not None
        longest = self.env.longest_shadow_seconds()
        power = self.spec.power
        margin = bus_viability(power, longest)
        if margin < 0:
            self.event(
                self.body,
                "Warning",
                "BusNotViable",
                f"the bus alone needs {power.usable_wh - margin:.1f} Wh of the "
                f"{power.usable_wh:.1f} Wh usable (batteryWh x depthOfDischarge) for the "
                f"longest eclipse forecast ({longest / 60:.1f} min): margin {margin:.1f} Wh; "
                "the satellites will brown out their bus every such eclipse",
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
        self.engine.reconfigure(EngineConfig.from_spec(spec, places_builtin_pods=False))
        if self.env is not None:
            # the stations in use stay until the next tick's sync compares them
            self.env.spec = replace(spec, stations=self.env.spec.stations)
        if not math.isclose(spec.clock.speedup, self.clock.speedup):
            self.clock = self.clock.rebased(spec.clock.speedup, spec.clock.step_seconds)
        self.status.rewrite_nodes()  # the policy may change taints
        return True

    # -- the loop ---------------------------------------------------------------------

    async def run(self, stopped: Any, indexes: dict[str, Any]) -> None:
        pods_index = indexes["satellite_pods"]
        jobs_index = indexes["gpu_jobs"]
        sats_index = indexes["fleet_satellites"]
        budgets_index = indexes.get("disruption_budgets")
        stations_index = indexes.get("ground_stations")
        try:
            self.schedulable = True
            while not stopped and not self.stopping:
                self._sync_budgets(budgets_index)
                await self._sync_stations(stations_index)
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
        next_offset = (self.engine.k + 1) * self.engine.dt
        wait = (self.clock.wall_at(next_offset) - wall_now()).total_seconds()
        return min(max(wait, 0.005), self.options.max_tick_wall_seconds)

    async def tick(self, pods_index: Any, jobs_index: Any, sats_index: Any) -> None:
        assert self.env is not None
        started = time.perf_counter()
        wall = wall_now()
        wall_s = time.monotonic()
        # events in: Jobs kubesat runs, pods bound or deleted, injected upsets
        self.intake.sync(jobs_index)
        self.pods.adopt(pods_index, jobs_index, self.engine.ready)
        if self.restored_pods_unchecked:
            self.restored_pods_unchecked = False
            self.decisions.missing_restored_pods()
        self.announcer.apply_injections(sats_index)
        # the engine's steps up to the clock
        target = max(self.clock.step_index(wall), self.engine.k)
        # the window slides from the engine's step: moving it to the target first would
        # make a catch-up recompute it at every tick
        if target - self.engine.k > CATCH_UP_IN_THREAD_STEPS:  # off the event loop
            self.schedulable = False
            await asyncio.to_thread(self.advance, target)
            self.schedulable = True
        else:
            if self.env.needs(self.engine.k) or self.env.needs(target):
                await asyncio.to_thread(self.env.ensure, self.engine.k, target)
            self.advance(target)
        # decisions out
        self.decisions.apply(self.engine.take_decisions())
        for never_written in self.managed.flush(lambda i: bool(self.nodes.registered[i])):
            self.pods.forget_unwritten(never_written)
        self.pods.write(wall)
        self.managed.write_status()
        self.book.write_changed(self.pod_names(), wall_s)
        column = self.column
        assert column is not None
        view = self.view(self.pods.allocated(pods_index))
        self.status.sync_satellites(sats_index, wall_s)
        self.status.sync_nodes(column, wall, wall_s)
        self.status.sync_satellite_status(column, view, wall_s)
        scheduler = getattr(self.memo, "scheduler", None)
        if scheduler is not None:
            await scheduler.maybe_run(self.memo.fleets, pods_index, jobs_index)
        if wall_s - self.last_snapshot >= self.options.snapshot_seconds:
            self.last_snapshot = wall_s
            self._snapshot(pods_index)
        if wall_s - self.last_persist >= self.options.persist_seconds:
            self.last_persist = wall_s
            await self.persist()
        metrics = getattr(self.memo, "metrics", None)
        if metrics is not None:
            metrics.observe_reconcile("tick", time.perf_counter() - started)

    def advance(self, to_step: int) -> None:
        """Step the engine up to `to_step` through the environment (state then holds there)."""
        assert self.env is not None
        engine = self.engine
        while engine.k < to_step:
            engine.step(self.env.column(engine.k), self.env.upsets(engine.k, engine.k + 1))
        self.column = self.env.column(engine.k)

    # -- inputs of the namespace: disruption budgets, ground stations ------------------

    def _sync_budgets(self, budgets_index: Any) -> None:
        """The PodDisruptionBudgets of our namespace, for the engine's drains."""
        if budgets_index is None:
            return
        budgets = tuple(
            sorted(budgets_index.get(self.namespace, ()), key=lambda b: b.name)
            if self.namespace in budgets_index
            else ()
        )
        if budgets != self.engine.budgets:
            self.engine.set_budgets(budgets)

    def stations(self, stations_index: Any) -> tuple[GroundStation, ...]:
        """The constellation's `spec.groundStations` and the GroundStation objects of its
        namespace (an object replaces an entry of the same name)."""
        objects: dict[str, GroundStation] = {}
        if stations_index is not None and self.namespace in stations_index:
            for station in stations_index[self.namespace]:
                objects[station.name] = station
        kept = tuple(s for s in self.spec.stations if s.name not in objects)
        return kept + tuple(objects[name] for name in sorted(objects))

    async def _sync_stations(self, stations_index: Any) -> None:
        """Apply station changes live: the link and contact forecast from now on."""
        if self.env is None:
            return
        stations = self.stations(stations_index)
        if stations == self.env.spec.stations:
            return
        before = {s.name for s in self.env.spec.stations}
        await asyncio.to_thread(self.env.set_stations, stations)
        self.column = self.env.column(self.engine.k)
        after = {s.name for s in stations}
        added, removed = sorted(after - before), sorted(before - after)
        changed = [] if added or removed else sorted(after)
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (("added", added), ("removed", removed), ("moved", changed))
            if names
        ]
        self.event(
            self.body,
            "Normal",
            "GroundStationsChanged",
            f"{len(stations)} ground stations ({'; '.join(parts)}): contacts recomputed",
        )

    # -- metrics and durable state ----------------------------------------------------

    def _snapshot(self, pods_index: Any) -> None:
        phases = self.pods.phases(pods_index)
        snapshots = getattr(self.memo, "snapshots", None)
        if snapshots is not None:
            assert self.column is not None
            snapshots[f"{self.namespace}/{self.name}"] = self.engine.snapshot(
                self.column, self.clock.at(self.engine.now), phases
            )

    def status_body(self) -> dict[str, Any]:
        ready = int((self.nodes.registered & self.engine.ready).sum())
        registered = int(self.nodes.registered.sum())
        all_ready = registered == self.n and ready == self.n
        return {
            "phase": "Running",
            "observedGeneration": self.generation,
            "satellites": self.n,
            "readyNodes": ready,
            "goodputRatio": round(self.engine.goodput_ratio, 6),
            "clock": self.clock.as_status(self.engine.now),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if all_ready else "False",
                    "reason": "NodesReady" if all_ready else "NodesNotReady",
                    "message": f"{ready}/{self.n} satellite nodes Ready ({registered} registered)",
                }
            ],
        }

    async def persist(self, final: bool = False) -> None:
        """Write the durable state, then the status that refers to it (and the Jobs'
        progress): a restart continues from here. A write still in flight is not doubled:
        the next tick writes a newer state."""
        if not self.prepared:
            return
        status = {k: v for k, v in self.status_body().items() if v is not None}
        if not self.ready_announced and status["readyNodes"] == self.n:
            self.ready_announced = True
            self.event(
                self.body,
                "Normal",
                "NodesReady",
                f"all {self.n} satellite nodes are registered and Ready",
            )
        self.book.write_changed(self.pod_names(), time.monotonic(), final=final)
        await self.persistence.save(status, final)

    async def stop(self) -> None:
        self.stopping = True
