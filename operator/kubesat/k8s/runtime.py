"""One running Constellation: the engine's shell on the real API, ticked on the clock.

The loop (run by the Constellation's Kopf daemon) follows the simulated clock on the
step grid. It reads events into the engine (`kubesat.engine.fleet.FleetEngine`, the step
the simulator runs): Jobs kubesat controls, pods newly bound to its nodes, deletions,
injected upsets. It steps the engine to the current step (a restarted operator catches up
the steps it missed from the state it persisted) and writes the engine's decisions out:
pods created and bound for kubesat's Jobs, pod status, evictions, Job status, Events. Then
it writes node conditions and taints, Satellite status and leases, lets kubesat-scheduler
bind pending pods of other Jobs, publishes a `FleetSnapshot` for the metrics and, every
few seconds, persists the engine's state in the Constellation's `status.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from kubesat.engine.durable import restore_state, to_state
from kubesat.engine.environment import Column, WindowedEnvironment, flux_model_for
from kubesat.engine.events import (
    Decision,
    Eviction,
    EvictionRefused,
    GangPlaced,
    GangWaiting,
    Notice,
    PodEnded,
    PodStarted,
)
from kubesat.engine.fleet import FleetEngine
from kubesat.k8s.announcements import Announcer
from kubesat.k8s.api import Api, status_of
from kubesat.k8s.clock import SimClock, wall_now
from kubesat.k8s.fleet_status import StatusWriter
from kubesat.k8s.gang_events import gang_event
from kubesat.k8s.job_controller import ManagedJobs
from kubesat.k8s.jobs import JobBook
from kubesat.k8s.nodes import NodeAgent, node_labels
from kubesat.k8s.objects import JobInfo, PodInfo
from kubesat.k8s.pods import PodRuntime
from kubesat.k8s.rescheduling import Drainer
from kubesat.k8s.satellites import (
    reference,
    satellite_names,
)
from kubesat.k8s.state_store import NOT_FOUND, StateStore, StateUnreadableError
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
        self._wire()
        self.drainer = Drainer(self)
        self.status = StatusWriter(self)
        self.announcer = Announcer(self)
        self.sat_uids: dict[str, str] = {}
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
        self.store = StateStore(self.api, self.namespace, self.name, self.uid)
        self.persisting: asyncio.Task[None] | None = None

    def _new_engine(self, spec: ConstellationSpec) -> FleetEngine:
        config = EngineConfig.from_spec(spec, places_builtin_pods=False)
        return FleetEngine(config, self.names, self.planes, self.name)

    def _wire(self) -> None:
        """The writers over the engine (again after a restore replaces it)."""
        self.book = JobBook(self.engine, self.api, self._wall_text)
        self.invalid_jobs: set[str] = set()  # uids of managed Jobs reported as invalid
        self.pods = PodRuntime(self.api, self.engine, self.book, self.names, self.event)
        self.managed = ManagedJobs(self.api, self.engine, self.book, self.names, self._wall_text)

    @staticmethod
    def _wall_text() -> str:
        return iso_z(wall_now()).split(".")[0] + "Z"

    def _sim_text(self, offset_seconds: float) -> str:
        return iso_z(self.clock.at(offset_seconds))

    # -- helpers used by the scheduler and the drainer --------------------------------

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.memo.events(obj, type_, reason, message)

    def satellite_ref(self, i: int) -> dict[str, Any]:
        return reference(self.namespace, self.names[i], self.sat_uids.get(self.names[i]))

    def view(self, allocated: NDArray[np.int64] | None = None) -> FleetView:
        """What the policy sees now; `allocated`: GPUs of pods bound to each satellite
        (live, pending or assumed by the scheduler), when known better than the engine's."""
        assert self.column is not None
        view = self.engine.view(self.column)
        if allocated is None:
            return view
        free = np.maximum(self.engine.healthy_gpus() - allocated, 0).astype(np.int64)
        return FleetView(**{**view.__dict__, "free_gpus": free})

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

    async def prepare(self, status: dict[str, Any], jobs_index: Any = None) -> None:
        """Build the environment (AP8 grid, first chunks) and take back the durable state:
        the Jobs the state names are added to the engine first, then their progress."""
        flux = await asyncio.to_thread(flux_model_for, self.spec)
        self.env = WindowedEnvironment(self.spec, flux)
        state = await self._load_state(status)
        if jobs_index is not None:
            saved = set((state.get("jobs") or {}).keys())
            for key in jobs_index:
                for info in jobs_index[key]:
                    if f"{info.namespace}/{info.name}/{info.uid}" in saved or self._ours(info):
                        self.book.add(info)
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
        self.engine.config = EngineConfig.from_spec(spec, places_builtin_pods=False)
        self.engine.power = spec.power
        self.engine.policy = spec.policy
        if self.env is not None:
            # the stations in use stay until the next tick's sync compares them
            self.env.spec = replace(spec, stations=self.env.spec.stations)
        if not math.isclose(spec.clock.speedup, self.clock.speedup):
            self.clock = self.clock.rebased(spec.clock.speedup, spec.clock.step_seconds)
        self.status.node_schedule.written[:] = np.iinfo(np.int64).min  # policy may change taints
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
        self._sync_jobs(jobs_index)
        self.pods.adopt(pods_index, jobs_index, self.engine.ready)
        if self.restored_pods_unchecked:
            self.restored_pods_unchecked = False
            self._missing_restored_pods()
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
        self._apply(self.engine.take_decisions())
        for never_written in self.managed.flush(lambda i: bool(self.nodes.registered[i])):
            self.pods.forget_unwritten(never_written)
        self.pods.write(wall)
        self.managed.write_status()
        self.book.write_changed(self._pod_names(), wall_s)
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

    # -- Jobs ----------------------------------------------------------------------------

    def _ours(self, info: JobInfo) -> bool:
        """Whether kubesat's Job controller runs this Job on this constellation: in our
        namespace, and ours by its nodeSelector or as the namespace's first constellation."""
        if not info.managed or info.namespace != self.namespace or info.spec is None:
            return False
        if info.constellation is not None:
            return bool(info.constellation == self.name)
        fleets = getattr(self.memo, "fleets", {}) or {}
        names = sorted(name for (ns, name) in fleets if ns == self.namespace) or [self.name]
        return bool(names[0] == self.name)

    def _invalid_job(self, info: JobInfo) -> None:
        """A Job for kubesat's Job controller that kubesat cannot run (a bad annotation, a
        gang that is not Indexed...): a Warning Event naming the field, once per Job."""
        if info.uid in self.invalid_jobs:
            return
        self.invalid_jobs.add(info.uid)
        ref = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
        }
        self.event(ref, "Warning", "InvalidWork", str(info.error))

    def _sync_jobs(self, jobs_index: Any) -> None:
        """Add the managed Jobs that are ours; drop the Jobs that are gone."""
        for key in jobs_index:
            for info in jobs_index[key]:
                if self._ours(info):
                    self.book.add(info)
                elif info.managed and info.error and info.namespace == self.namespace:
                    self._invalid_job(info)
        for key in [k for k in self.book.by_key if k not in jobs_index]:
            if not key[1].startswith("pod:"):
                self.book.remove(key)

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

    def _missing_restored_pods(self) -> None:
        """After a restart: a pod the engine runs but the API never got (the operator
        stopped between the decision and the write) is created again if kubesat's Job
        controller owns it (its name is fixed, so this is idempotent), else given up."""
        e = self.engine
        for pod, slot in list(e.pod_slot.items()):
            key = self.pods.key_of.get(pod)
            if key is not None and key in self.pods.info:
                continue
            record = self.book.records.get(int(e.slot_job[slot]))
            if key is None or record is None or record.info is None or not record.info.managed:
                e.drop(pod)
                continue
            unit = int(e.slot_unit[slot])
            self.managed.create(
                PodStarted(
                    pod,
                    record.index,
                    int(e.unit_index[unit]),
                    int(e.unit_attempts[unit]) - 1,
                    int(e.slot_sat[slot]),
                    int(e.slot_gpus[slot]),
                    float(e.slot_from[slot]),
                    float(e.slot_started[slot]),
                ),
                record,
                bool(self.nodes.registered[int(e.slot_sat[slot])]),
            )

    def _pod_names(self) -> dict[int, str]:
        return {pod: key[1] for pod, key in self.pods.key_of.items()}

    def _apply(self, decisions: list[Decision]) -> None:
        """Write the engine's decisions: pods created, ends, evictions, Events."""
        notices: list[Notice] = []
        for decision in decisions:
            if isinstance(decision, PodStarted):
                self._started(decision)
            elif isinstance(decision, PodEnded):
                key = self.pods.key_of.get(decision.pod)
                self.book.ended(decision, key[1] if key else None, self._sim_text)
                self.pods.end(decision)
            elif isinstance(decision, Eviction):
                key = self.pods.key_of.get(decision.pod)
                info = self.pods.info.get(key) if key else None
                self.drainer.evict(decision, key, info.uid if info else None)
            elif isinstance(decision, EvictionRefused):
                self.drainer.refused(decision, self.pods.key_of.get(decision.pod))
            elif isinstance(decision, GangPlaced | GangWaiting):
                self._gang_event(decision)
            elif isinstance(decision, Notice):
                notices.append(decision)
        self.announcer.announce(notices)

    def _gang_event(self, decision: GangPlaced | GangWaiting) -> None:
        record = self.book.records.get(decision.job)
        if record is None or record.info is None:
            return
        info = record.info
        ref = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
        }
        self.event(ref, *gang_event(decision, self.names, self.engine.jobs[decision.job]))

    def _started(self, decision: PodStarted) -> None:
        record = self.book.records.get(decision.job)
        if record is None:
            return
        key = self.pods.key_of.get(decision.pod)
        if key is None and record.info is not None and record.info.managed:
            name = self.managed.create(decision, record, bool(self.nodes.registered[decision.sat]))
            key = (record.info.namespace, name)
            self.pods.register(decision.pod, key)
        if key is None:
            return
        node = self.names[decision.sat]
        self.book.started(decision)
        ref = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": key[1], "namespace": key[0]}}
        spec = self.engine.jobs[decision.job]
        if decision.resuming_from > 0:
            self.event(
                ref,
                "Normal",
                "Resuming",
                f"restoring the checkpoint at {decision.resuming_from:.0f} of "
                f"{spec.work_gpu_seconds:.0f} GPU-s on {node}",
            )
        elif math.isfinite(spec.work_gpu_seconds):
            self.event(
                ref,
                "Normal",
                "Started",
                f"running on {node}: {spec.work_gpu_seconds:.0f} GPU-s of work, checkpoint "
                f"every {spec.checkpoint_interval_seconds:.0f} s",
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

    def durable_state(self) -> dict[str, Any]:
        """The engine's state and the clock's anchor: what a restart continues from."""
        state = to_state(self.engine)
        state["clockStart"] = iso_z(self.spec.clock.start_utc)
        return state

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
        self.book.write_changed(self._pod_names(), time.monotonic(), final=final)
        in_flight = self.persisting is not None and not self.persisting.done()
        if not final:
            if not in_flight:
                self.persisting = asyncio.create_task(
                    self._write_state(self.durable_state(), status, final=False),
                    name=f"kubesat-persist-{self.namespace}/{self.name}",
                )
            return
        if in_flight:
            assert self.persisting is not None
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self.persisting
        await self._write_state(self.durable_state(), status, final=True)

    async def _write_state(
        self, state: dict[str, Any], status: dict[str, Any], final: bool
    ) -> None:
        try:
            ref = await self.store.save(state)
            # merge patch: the reference replaces a state an older version kept inline
            body = {"status": {**status, "stateRef": ref.as_status(), "state": None}}

            def call() -> Any:
                return self.api.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, self.namespace, "constellations", self.name, body
                )

            await self.api.call("patch", "constellations/status", call)
            self.store.referenced(ref)
        except Exception as error:
            if status_of(error) == NOT_FOUND:
                return  # the Constellation is being deleted
            if final:
                raise
            logger.warning(
                "persisting the state of %s/%s failed: %s", self.namespace, self.name, error
            )

    async def _load_state(self, status: dict[str, Any]) -> dict[str, Any]:
        """The state the status refers to; none (a fresh start) when it cannot be read."""
        try:
            return await self.store.load(status)
        except StateUnreadableError as error:
            self.event(self.body, "Warning", "StateLost", f"{error}: the timeline starts over")
            return {}

    async def stop(self) -> None:
        self.stopping = True
