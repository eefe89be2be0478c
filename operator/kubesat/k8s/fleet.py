"""The state of a running constellation and how it advances one step: batteries, upsets, pods.

The same semantics as the simulator's cluster model (`kubesat.sim.engine.Cluster`), for
pods that really exist in Kubernetes: each step of the clock's grid applies the upsets
drawn for it, runs the power balance (`kubesat.core.power.battery_step`; a shortfall sheds
the GPUs and their pods die), then advances each pod (restore, run, checkpoint writes,
draining). No Kubernetes I/O here: the shell reads what changed (`PodRun.end`, `Notice`s)
and writes it. Durable state round-trips through `to_state` / `restore_state` (the
Constellation's `status.state`) and `Unit.to_json` (the Job's progress annotation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView
from kubesat.core.power import battery_step
from kubesat.core.timebase import iso_z, parse_utc
from kubesat.core.upsets import UpsetKind
from kubesat.k8s.physics import Column, Environment
from kubesat.spec import ConstellationSpec
from kubesat.telemetry import UPSET_KINDS, FleetSnapshot

POWER_RECOVERY_FRACTION = 0.05  # as the simulator: 5% above the floor before a restart
STATE_VERSION = 1
HISTORY_LIMIT = 8  # pods remembered per work unit on the Job

# Pod states (what the simulated container is doing)
RESTORING, RUNNING, WRITING, DRAINING, IDLE = "restoring", "running", "writing", "draining", "idle"

# Why pods end (failure and eviction reasons of the metrics, as the simulator counts them)
POWER, SEFI, LATCHUP = "power", "sefi", "latchup"


def sim_timestamp(when: datetime) -> float:
    return when.timestamp()


def sim_datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


@dataclass
class Unit:
    """One work unit of a Job (one completion): where its work stands. Durable on the Job."""

    key: str
    checkpoint: float = 0.0  # GPU-seconds saved in the last checkpoint
    progress: float = 0.0  # GPU-seconds done, including work since the checkpoint
    done: bool = False
    pod: str | None = None  # UID of the pod working on it now
    pod_name: str | None = None
    node: str | None = None
    state: str = IDLE
    left: float = 0.0  # simulated seconds left of a restore, checkpoint write or drain
    since: float = 0.0  # simulated running seconds since the last checkpoint
    at: float | None = None  # simulated UNIX time these values hold for
    started_from: float = 0.0  # progress when the current pod started (its restore point)
    pod_started: float | None = None  # simulated UNIX time the current pod started
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "checkpoint": round(self.checkpoint, 3),
            "progress": round(self.progress, 3),
        }
        if self.done:
            out["done"] = True
        if self.pod:
            out.update(
                pod=self.pod,
                podName=self.pod_name,
                node=self.node,
                state=self.state,
                left=round(self.left, 3),
                since=round(self.since, 3),
                startedFrom=round(self.started_from, 3),
            )
            if self.pod_started is not None:
                out["podStarted"] = iso_z(sim_datetime(self.pod_started))
        if self.at is not None:
            out["at"] = iso_z(sim_datetime(self.at))
        if self.history:
            out["history"] = self.history[-HISTORY_LIMIT:]
        return out

    @classmethod
    def from_json(cls, key: str, data: dict[str, Any]) -> Unit:
        at = data.get("at")
        return cls(
            key=key,
            checkpoint=float(data.get("checkpoint", 0.0)),
            progress=float(data.get("progress", data.get("checkpoint", 0.0))),
            done=bool(data.get("done", False)),
            pod=data.get("pod"),
            pod_name=data.get("podName"),
            node=data.get("node"),
            state=str(data.get("state", IDLE)),
            left=float(data.get("left", 0.0)),
            since=float(data.get("since", 0.0)),
            at=parse_utc(at).timestamp() if at else None,
            started_from=float(data.get("startedFrom", data.get("checkpoint", 0.0))),
            pod_started=parse_utc(data["podStarted"]).timestamp()
            if data.get("podStarted")
            else None,
            history=list(data.get("history") or []),
        )


@dataclass(frozen=True)
class Work:
    """What a pod's Job asks (from its annotations, `kubesat.spec.parse_job`)."""

    work_gpu_seconds: float
    checkpoint_interval_seconds: float
    checkpoint_write_seconds: float


@dataclass(frozen=True)
class Ending:
    """How a pod ended: what its status says and what was lost."""

    phase: str  # Succeeded or Failed
    reason: str  # pod status reason (PowerLost, RadiationUpset, Checkpointed, Completed)
    message: str
    disruption: str | None = None  # reason of the DisruptionTarget condition, if any
    lost_gpu_seconds: float = 0.0
    at: float = 0.0  # simulated UNIX time


@dataclass
class PodRun:
    """A pod running on a satellite of this fleet (the operator plays its kubelet)."""

    uid: str
    name: str
    namespace: str
    sat: int
    gpus: int
    work: Work | None  # None: no work annotations, the pod runs until deleted
    unit: Unit | None
    job: tuple[str, str] | None = None  # (namespace, name) of the owning Job
    node: str = ""
    gpu_slots: list[int] = field(default_factory=list)
    started_at: float = 0.0  # simulated UNIX time
    end: Ending | None = None
    deleting: bool = False  # deletion (or eviction) seen: checkpointing, then stop
    eviction: str | None = None  # why we evicted it (metrics reason), once accepted
    status_written: str | None = None  # the phase last written to the API

    @property
    def alive(self) -> bool:
        return self.end is None

    @property
    def state(self) -> str:
        return self.unit.state if self.unit is not None else RUNNING

    @property
    def since_checkpoint(self) -> float:
        return self.unit.since if self.unit is not None else 0.0


@dataclass(frozen=True)
class Notice:
    """Something that happened to a satellite during a step, for Events and counters."""

    kind: str  # "upset", "power-lost", "power-restored", "recovered"
    sat: int
    time: float  # simulated seconds since the clock's start
    upset: str | None = None  # correctable, sefi, latchup
    gpu: int | None = None
    pods: tuple[str, ...] = ()  # names of pods that died
    lost_gpu_seconds: float = 0.0
    injected: bool = False


class FleetState:
    """Batteries, upsets and pods of one constellation, advanced on the clock's grid."""

    def __init__(self, spec: ConstellationSpec, names: tuple[str, ...]) -> None:
        self.spec = spec
        self.power = spec.power
        self.names = names
        n, g = len(names), spec.power.gpus
        self.n, self.g = n, g
        self.step_seconds = spec.clock.step_seconds
        self.start_ts = sim_timestamp(spec.clock.start_utc)
        self.k = 0  # state holds for time k x step after the start
        self.soc = np.full(n, spec.initial_state_of_charge * spec.power.battery_wh)
        self.powered = np.ones(n, np.bool_)
        self.restart_pending = np.zeros(n, np.bool_)
        self.down_until = np.zeros(n)
        self.upset_until = np.zeros(n)
        self.upset_kind = np.zeros(n, np.int8)  # kind of the last upset that tainted
        self.gpu_broken_until = np.zeros((n, g))
        self.gpu_owner: list[list[str | None]] = [[None] * g for _ in range(n)]
        self.busy = np.zeros(n, np.int64)  # GPUs held by live pods
        self.pods: dict[str, PodRun] = {}
        self.upsets_by_satellite = np.zeros((n, len(UPSET_KINDS)), np.int64)
        self.solar_energy_j = np.zeros(n)
        self.load_w = np.zeros(n)
        self.bound_soc = self.soc.copy()
        self.bound_gpu_seconds = 0.0
        self.progress_gpu_seconds = 0.0  # work added by running pods
        self.lost_gpu_seconds = 0.0  # work lost by pods that died between checkpoints
        self.evictions: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.jobs_completed = 0
        self.column: Column | None = None
        self.changes = 0  # pods added or ended: their Jobs' progress should be written

    # -- time --------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated seconds since the clock's start."""
        return self.k * self.step_seconds

    def timestamp(self, offset: float | None = None) -> float:
        return self.start_ts + (self.now if offset is None else offset)

    # -- views -------------------------------------------------------------------------

    @property
    def ready(self) -> NDArray[np.bool_]:
        return (self.down_until <= self.now) & ~self.restart_pending

    @property
    def upset(self) -> NDArray[np.bool_]:
        return self.upset_until > self.now

    def healthy_free_gpus(self) -> NDArray[np.int64]:
        owned = np.array([[o is not None for o in row] for row in self.gpu_owner], np.bool_)
        healthy = self.gpu_broken_until <= self.now
        return (healthy & ~owned.reshape(self.n, self.g)).sum(axis=1).astype(np.int64)

    def healthy_gpus(self) -> NDArray[np.int64]:
        return (self.gpu_broken_until <= self.now).sum(axis=1).astype(np.int64)

    def view(self, column: Column, allocated: NDArray[np.int64] | None = None) -> FleetView:
        """What the policy sees now. `allocated`: GPUs of pods bound to each satellite
        (live, pending or assumed by the scheduler), when known better than our pods."""
        if allocated is None:
            free = self.healthy_free_gpus()
        else:
            free = np.maximum(self.healthy_gpus() - allocated, 0)
        return FleetView(
            illumination=column.illumination,
            soc_wh=self.soc.copy(),
            busy_gpus=self.busy.copy(),
            free_gpus=free.astype(np.int64),
            link=column.link,
            high_radiation=column.flux > self.spec.radiation.saa_flux_threshold,
            seconds_to_shadow=column.seconds_to_shadow,
            shadow_seconds=column.shadow_seconds,
            powered=self.powered.copy(),
            ready=self.ready,
            upset=self.upset,
        )

    # -- pods --------------------------------------------------------------------------

    def add_pod(self, pod: PodRun) -> None:
        """A pod bound to a satellite starts (or, after a restart, continues)."""
        owned = self.gpu_owner[pod.sat]
        healthy = self.gpu_broken_until[pod.sat] <= self.now
        order = [i for i in range(self.g) if owned[i] is None and healthy[i]]
        order += [i for i in range(self.g) if owned[i] is None and not healthy[i]]
        pod.gpu_slots = order[: pod.gpus]
        for slot in pod.gpu_slots:
            owned[slot] = pod.uid
        self.busy[pod.sat] += pod.gpus
        unit = pod.unit
        if unit is not None and unit.pod == pod.uid and unit.pod_started is not None:
            pod.started_at = unit.pod_started  # the same pod, after a restart
        if not pod.started_at:
            pod.started_at = self.timestamp()
        if unit is not None and unit.pod != pod.uid:
            # a new pod on this unit: restore the last checkpoint first (as long as a write)
            unit.pod, unit.pod_name = pod.uid, pod.name
            unit.progress = unit.checkpoint
            unit.started_from = unit.checkpoint
            unit.since = 0.0
            write = pod.work.checkpoint_write_seconds if pod.work else 0.0
            unit.state, unit.left = (RESTORING, write) if unit.checkpoint > 0 else (RUNNING, 0.0)
            unit.at = self.timestamp()
            unit.pod_started = pod.started_at
        if unit is not None:
            unit.node = pod.node
        self.pods[pod.uid] = pod
        self.changes += 1

    def _release(self, pod: PodRun) -> None:
        for slot in pod.gpu_slots:
            if self.gpu_owner[pod.sat][slot] == pod.uid:
                self.gpu_owner[pod.sat][slot] = None
        pod.gpu_slots = []
        self.busy[pod.sat] -= pod.gpus

    def end_pod(
        self,
        pod: PodRun,
        phase: str,
        reason: str,
        message: str,
        disruption: str | None = None,
        checkpointed: bool = False,
        failure: str | None = None,
    ) -> Ending:
        """The pod stops: its GPUs free up, its unit is done or released."""
        if pod.end is not None:
            return pod.end
        self._release(pod)
        lost = 0.0
        unit = pod.unit
        if unit is not None:
            if phase == "Succeeded":
                unit.done = True
                unit.progress = unit.checkpoint = pod.work.work_gpu_seconds if pod.work else 0.0
            elif checkpointed:
                unit.checkpoint = unit.progress
            else:
                lost = max(unit.progress - unit.checkpoint, 0.0)
                unit.progress = unit.checkpoint
            unit.history.append(
                {
                    "pod": pod.name,
                    "node": unit.node,
                    "started": iso_z(sim_datetime(pod.started_at)),
                    "from": round(unit.started_from, 3),
                    "to": round(unit.progress, 3),
                    "lost": round(lost, 3),
                    "ended": reason,
                    "at": iso_z(sim_datetime(self.timestamp())),
                }
            )
            del unit.history[:-HISTORY_LIMIT]
            unit.pod = unit.pod_name = None
            unit.pod_started = None
            unit.state, unit.left, unit.since = IDLE, 0.0, 0.0
            unit.at = self.timestamp()
        self.lost_gpu_seconds += lost
        if failure is not None:
            self.failures[failure] = self.failures.get(failure, 0) + 1
        pod.end = Ending(phase, reason, message, disruption, lost, self.timestamp())
        self.changes += 1
        return pod.end

    def forget_pod(self, uid: str) -> None:
        """Drop a pod whose end has been written (or which is gone from the API)."""
        pod = self.pods.pop(uid, None)
        if pod is not None and pod.end is None:
            self._release(pod)

    def start_drain(self, pod: PodRun) -> None:
        """Deletion seen: write a checkpoint within the grace period, then stop."""
        if pod.deleting or pod.end is not None:
            return
        pod.deleting = True
        unit = pod.unit
        if unit is None or pod.work is None:
            return
        if unit.state == RESTORING:
            unit.left = 0.0  # nothing new to save: the restored checkpoint stands
        elif unit.state == RUNNING:
            unit.left = pod.work.checkpoint_write_seconds
        # a write in progress (WRITING) finishes within the grace period
        unit.state = DRAINING

    # -- upsets ------------------------------------------------------------------------

    def apply_upset(self, sat: int, kind: int, gpu: int, now: float, injected: bool) -> Notice:
        """A radiation upset at `now`: count it, and hang a GPU or power-cycle the satellite."""
        self.upsets_by_satellite[sat, kind] += 1
        killed: list[str] = []
        lost = 0.0
        radiation = self.spec.radiation.upsets
        if kind == UpsetKind.SEFI and self.g > 0:
            gpu = min(max(gpu, 0), self.g - 1)
            uid = self.gpu_owner[sat][gpu]
            if uid is not None and uid in self.pods:
                pod = self.pods[uid]
                end = self.end_pod(
                    pod,
                    "Failed",
                    "RadiationUpset",
                    f"single-event functional interrupt on GPU {gpu} of "
                    f"{self.names[sat]}: the GPU hung and the pod was lost",
                    disruption="RadiationUpset",
                    failure=SEFI,
                )
                killed.append(pod.name)
                lost += end.lost_gpu_seconds
            recovery = radiation.sefi_recovery_seconds
            self.gpu_broken_until[sat, gpu] = now + recovery
            if now + recovery > self.upset_until[sat]:
                self.upset_until[sat] = now + recovery
                self.upset_kind[sat] = kind
        elif kind == UpsetKind.LATCHUP:
            for uid in sorted({u for u in self.gpu_owner[sat] if u is not None}):
                pod = self.pods.get(uid)
                if pod is None or pod.end is not None:
                    continue
                end = self.end_pod(
                    pod,
                    "Failed",
                    "RadiationUpset",
                    f"single-event latch-up on {self.names[sat]}: the satellite power-cycled",
                    disruption="RadiationUpset",
                    failure=LATCHUP,
                )
                killed.append(pod.name)
                lost += end.lost_gpu_seconds
            for pod in [p for p in self.pods.values() if p.sat == sat and p.end is None]:
                # pods holding no GPU (a CPU-only pod) die with the satellite too
                self.end_pod(
                    pod,
                    "Failed",
                    "RadiationUpset",
                    f"single-event latch-up on {self.names[sat]}: the satellite power-cycled",
                    disruption="RadiationUpset",
                    failure=LATCHUP,
                )
                killed.append(pod.name)
            recovery = radiation.latchup_recovery_seconds
            self.down_until[sat] = max(self.down_until[sat], now + recovery)
            if self.down_until[sat] >= self.upset_until[sat]:
                self.upset_until[sat] = self.down_until[sat]
                self.upset_kind[sat] = kind
        return Notice(
            "upset",
            sat,
            now,
            upset=UPSET_KINDS[kind],
            gpu=gpu if kind == UpsetKind.SEFI else None,
            pods=tuple(killed),
            lost_gpu_seconds=lost,
            injected=injected,
        )

    # -- stepping ----------------------------------------------------------------------

    def advance(self, env: Environment, to_step: int) -> list[Notice]:
        """Run the steps from the current one up to `to_step` (state then holds there)."""
        notices: list[Notice] = []
        if to_step <= self.k:
            return notices
        events = env.upsets(self.k, to_step)
        cursor = 0
        dt = self.step_seconds
        while self.k < to_step:
            now = self.now
            while cursor < len(events) and events.time_seconds[cursor] < now + dt:
                notices.append(
                    self.apply_upset(
                        int(events.satellite[cursor]),
                        int(events.kind[cursor]),
                        int(events.gpu[cursor]),
                        float(events.time_seconds[cursor]),
                        injected=False,
                    )
                )
                cursor += 1
            column = env.column(self.k)
            notices.extend(self._power_step(column, now, dt))
            self._progress_step(dt)
            self.k += 1
            notices.extend(self._recoveries(self.now - dt, self.now))
        self.column = env.column(self.k)
        return notices

    def _recoveries(self, before: float, now: float) -> list[Notice]:
        """Satellites whose upset ended within (before, now]: the node returns."""
        ended = (self.upset_until > before) & (self.upset_until <= now)
        return [Notice("recovered", int(i), now) for i in np.flatnonzero(ended)]

    def _power_step(self, column: Column, now: float, dt: float) -> list[Notice]:
        p = self.power
        busy = self.busy.astype(np.float64)
        solar = column.illumination * p.solar_array_w
        up = self.down_until <= now
        bus = np.where(up, p.bus_power_w, 0.0)
        new, short = battery_step(p, self.soc, solar, bus + busy * p.gpu_power_w, dt)
        lost = (short > 1e-9) & (busy > 0)
        notices = []
        for sat in np.flatnonzero(lost):
            killed, lost_work = [], 0.0
            for pod in [q for q in self.pods.values() if q.sat == sat and q.end is None]:
                end = self.end_pod(
                    pod,
                    "Failed",
                    "PowerLost",
                    f"the battery of {self.names[sat]} reached its floor: GPUs shed, "
                    "work since the last checkpoint lost",
                    disruption="PowerLost",
                    failure=POWER,
                )
                killed.append(pod.name)
                lost_work += end.lost_gpu_seconds
            notices.append(
                Notice("power-lost", int(sat), now, pods=tuple(killed), lost_gpu_seconds=lost_work)
            )
        if lost.any():
            redo, _ = battery_step(p, self.soc, solar, bus, dt)
            new = np.where(lost, redo, new)
        self.soc = new
        self.load_w = np.where(lost, bus, bus + busy * p.gpu_power_w)
        self.solar_energy_j += solar * dt
        self._advance_bound(solar, dt)
        floor = p.battery_wh * p.floor_soc
        restart = floor + POWER_RECOVERY_FRACTION * p.battery_wh
        self.restart_pending |= lost
        recovered = self.restart_pending & (self.soc >= restart)
        self.down_until = np.where(
            recovered, now + dt + self.spec.payload_restart_seconds, self.down_until
        )
        self.restart_pending &= ~recovered
        self.powered = ~self.restart_pending
        notices.extend(
            Notice("power-restored", int(i), now + dt) for i in np.flatnonzero(recovered)
        )
        return notices

    def _advance_bound(self, solar_w: NDArray[np.float64], dt: float) -> None:
        """Running energy bound (greedy fractional GPUs on a battery of its own), as the
        simulator's live metrics: the goodput denominator."""
        p = self.power
        if p.gpus == 0 or p.gpu_power_w <= 0:
            return
        spare_wh = np.maximum(self.bound_soc - p.battery_wh * p.floor_soc, 0.0)
        from_battery_w = spare_wh * p.discharge_efficiency * 3600.0 / dt
        gpus = np.clip((solar_w + from_battery_w - p.bus_power_w) / p.gpu_power_w, 0.0, p.gpus)
        self.bound_soc, _ = battery_step(
            p, self.bound_soc, solar_w, p.bus_power_w + gpus * p.gpu_power_w, dt
        )
        self.bound_gpu_seconds += float(gpus.sum()) * dt

    def _progress_step(self, dt: float) -> None:
        now_ts = self.timestamp(self.now + dt)
        for pod in list(self.pods.values()):
            unit, work = pod.unit, pod.work
            if pod.end is not None or unit is None or work is None:
                continue
            if unit.at is not None and unit.at > now_ts - dt + 1e-6:
                continue  # restored from a Job annotation written after our state
            if unit.state in (RESTORING, WRITING, DRAINING):
                unit.left -= dt
                if unit.left <= 1e-9:
                    if unit.state == WRITING:
                        unit.checkpoint = unit.progress
                        unit.since = 0.0
                        unit.state = RUNNING
                    elif unit.state == RESTORING:
                        unit.state = RUNNING
                    else:
                        self.end_pod(
                            pod,
                            "Failed",
                            "Checkpointed",
                            f"checkpoint of {unit.progress:.0f} GPU-s written after the "
                            "deletion request; stopped",
                            checkpointed=True,
                        )
                        continue
                unit.at = now_ts
                continue
            if unit.state != RUNNING:
                unit.state = RUNNING
            step_work = pod.gpus * dt
            unit.progress += step_work
            self.progress_gpu_seconds += step_work
            unit.since += dt
            unit.at = now_ts
            if unit.progress >= work.work_gpu_seconds - 1e-9:
                self.progress_gpu_seconds -= unit.progress - work.work_gpu_seconds
                self.end_pod(
                    pod,
                    "Succeeded",
                    "Completed",
                    f"{work.work_gpu_seconds:.0f} GPU-s of work done",
                )
            elif unit.since >= work.checkpoint_interval_seconds - 1e-9:
                unit.state, unit.left = WRITING, work.checkpoint_write_seconds

    # -- durable state -----------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """What `status.state` keeps so that a restart continues from here."""
        names = list(self.names)

        def sparse(values: NDArray[np.float64]) -> dict[str, float]:
            return {names[i]: round(float(values[i]), 3) for i in np.flatnonzero(values > self.now)}

        broken = {
            names[i]: {
                str(j): round(float(self.gpu_broken_until[i, j]), 3)
                for j in np.flatnonzero(self.gpu_broken_until[i] > self.now)
            }
            for i in np.flatnonzero((self.gpu_broken_until > self.now).any(axis=1))
        }
        return {
            "version": STATE_VERSION,
            "step": self.k,
            "stepSeconds": self.step_seconds,
            "satellites": names,
            "stateOfChargeWh": [round(float(v), 4) for v in self.soc],
            "boundStateOfChargeWh": [round(float(v), 4) for v in self.bound_soc],
            "solarEnergyJ": [round(float(v), 1) for v in self.solar_energy_j],
            "restartPending": [names[i] for i in np.flatnonzero(self.restart_pending)],
            "downUntil": sparse(self.down_until),
            "upsetUntil": sparse(self.upset_until),
            "upsetKind": {names[i]: int(self.upset_kind[i]) for i in np.flatnonzero(self.upset)},
            "gpuBrokenUntil": broken,
            "upsets": {
                names[i]: [int(v) for v in self.upsets_by_satellite[i]]
                for i in np.flatnonzero(self.upsets_by_satellite.any(axis=1))
            },
            "counters": {
                "progressGpuSeconds": round(self.progress_gpu_seconds, 3),
                "lostGpuSeconds": round(self.lost_gpu_seconds, 3),
                "boundGpuSeconds": round(self.bound_gpu_seconds, 3),
                "evictions": dict(self.evictions),
                "failures": dict(self.failures),
                "jobsCompleted": self.jobs_completed,
            },
        }

    def restore_state(self, state: dict[str, Any]) -> bool:
        """Take back a `to_state` (satellites matched by name). False if unusable."""
        if not state or state.get("version") != STATE_VERSION:
            return False
        if not math.isclose(float(state.get("stepSeconds", 0.0)), self.step_seconds):
            return False
        names = list(state.get("satellites") or [])
        index = {name: i for i, name in enumerate(self.names)}
        pairs = [(j, index[name]) for j, name in enumerate(names) if name in index]
        self.k = int(state.get("step", 0))

        def take(key: str, target: NDArray[np.float64]) -> None:
            values = state.get(key) or []
            for j, i in pairs:
                if j < len(values):
                    target[i] = float(values[j])

        take("stateOfChargeWh", self.soc)
        take("boundStateOfChargeWh", self.bound_soc)
        take("solarEnergyJ", self.solar_energy_j)
        for name in state.get("restartPending") or []:
            if name in index:
                self.restart_pending[index[name]] = True
        self.powered = ~self.restart_pending
        for key, target in (("downUntil", self.down_until), ("upsetUntil", self.upset_until)):
            for name, value in (state.get(key) or {}).items():
                if name in index:
                    target[index[name]] = float(value)
        for name, kind in (state.get("upsetKind") or {}).items():
            if name in index:
                self.upset_kind[index[name]] = int(kind)
        for name, gpus in (state.get("gpuBrokenUntil") or {}).items():
            if name in index:
                for j, value in gpus.items():
                    if int(j) < self.g:
                        self.gpu_broken_until[index[name], int(j)] = float(value)
        for name, counts in (state.get("upsets") or {}).items():
            if name in index:
                self.upsets_by_satellite[index[name], : len(counts)] = counts
        counters = state.get("counters") or {}
        self.progress_gpu_seconds = float(counters.get("progressGpuSeconds", 0.0))
        self.lost_gpu_seconds = float(counters.get("lostGpuSeconds", 0.0))
        self.bound_gpu_seconds = float(counters.get("boundGpuSeconds", 0.0))
        self.evictions = {str(k): int(v) for k, v in (counters.get("evictions") or {}).items()}
        self.failures = {str(k): int(v) for k, v in (counters.get("failures") or {}).items()}
        self.jobs_completed = int(counters.get("jobsCompleted", 0))
        return True

    # -- metrics -----------------------------------------------------------------------

    def snapshot(
        self, name: str, planes: NDArray[np.int64], policy: str, pods_by_phase: dict[str, int]
    ) -> FleetSnapshot:
        column = self.column
        assert column is not None
        p = self.power
        return FleetSnapshot(
            constellation=name,
            simulated_time=sim_datetime(self.timestamp()),
            satellites=self.names,
            planes=planes,
            gpus_per_satellite=p.gpus,
            illumination=column.illumination,
            state_of_charge=self.soc / max(p.battery_wh, 1e-9),
            solar_power_w=column.illumination * p.solar_array_w,
            load_power_w=self.load_w.copy(),
            ground_link=column.link.copy(),
            latitude_deg=column.latitude_deg,
            longitude_deg=column.longitude_deg,
            altitude_km=column.altitude_km,
            seconds_to_eclipse=column.seconds_to_shadow,
            gpus_busy=self.busy.copy(),
            power_available=self.powered.copy(),
            ready=self.ready,
            upsets_total=self.upsets_by_satellite.copy(),
            solar_energy_j_total=self.solar_energy_j.copy(),
            evictions_total=dict(self.evictions),
            pod_failures_total=dict(self.failures),
            pods_by_phase=pods_by_phase,
            completed_gpu_seconds=max(self.progress_gpu_seconds - self.lost_gpu_seconds, 0.0),
            lost_gpu_seconds=self.lost_gpu_seconds,
            energy_bound_gpu_seconds=self.bound_gpu_seconds,
            jobs_completed=self.jobs_completed,
            policy=policy,
        )

    @property
    def goodput_ratio(self) -> float:
        useful = max(self.progress_gpu_seconds - self.lost_gpu_seconds, 0.0)
        return useful / self.bound_gpu_seconds if self.bound_gpu_seconds > 0 else 0.0
