"""Run a simulation: read the manifests, stream the environment through a window of time,
drive the engine through it under each policy (the simulator's shell over `kubesat.engine`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import yaml
from numpy.typing import NDArray

from kubesat.core.conditions import FleetConditions, compute_conditions
from kubesat.core.geometry import Sky
from kubesat.core.orbits import Fleet
from kubesat.core.power import bus_viability
from kubesat.core.thermal import KELVIN_AT_ZERO_CELSIUS
from kubesat.core.timebase import TimeGrid
from kubesat.core.workloads import DisruptionBudget, JobSpec
from kubesat.engine.config import EngineConfig
from kubesat.engine.environment import Column, FluxModel, WindowedEnvironment, flux_model_for
from kubesat.engine.fleet import FleetEngine
from kubesat.engine.state import count_per_row
from kubesat.engine.waiting import never_fits
from kubesat.sim.outcome import REFUSED_BY_PDB, GangView, Outcome
from kubesat.spec import ConstellationSpec, SpecError, parse_constellation, parse_job
from kubesat.telemetry import FleetSnapshot

LOOKAHEAD_SECONDS = 3 * 3600.0  # forecast beyond the end so the last steps see what comes


@dataclass(frozen=True)
class Scenario:
    """A constellation, the Jobs it runs and the disruption budgets that protect them."""

    constellation: ConstellationSpec
    jobs: tuple[JobSpec, ...]
    budgets: tuple[DisruptionBudget, ...]


def load_scenario(path: Path) -> Scenario:
    """Read a multi-document YAML file: one Constellation, Jobs, PodDisruptionBudgets."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"{path}: cannot read: {error.strerror}") from None
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {str(error).splitlines()[0]}") from None
    return parse_scenario(documents, str(path))


def parse_scenario(documents: Sequence[Any], source: str = "input") -> Scenario:
    constellations, jobs, budgets = [], [], []
    for index, document in enumerate(documents):
        where = f"{source} document {index + 1}"
        if not isinstance(document, dict):
            raise SpecError(f"{where}: expected a Kubernetes object, got {type(document).__name__}")
        kind = document.get("kind")
        try:
            if kind == "Constellation":
                constellations.append(parse_constellation(document))
            elif kind == "Job":
                jobs.append(parse_job(document))
            elif kind == "PodDisruptionBudget":
                budgets.append(_parse_budget(document))
            else:
                raise SpecError(
                    f"kind: expected Constellation, Job or PodDisruptionBudget, got {kind!r}"
                )
        except SpecError as error:
            raise SpecError(f"{where} ({kind}): {error}") from None
    if len(constellations) != 1:
        raise SpecError(
            f"{source}: expected exactly one Constellation, found {len(constellations)}"
        )
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise SpecError(f"{source}: Job names must be unique, got {names}")
    return Scenario(constellations[0], tuple(jobs), tuple(budgets))


def _parse_budget(document: dict[str, Any]) -> DisruptionBudget:
    name = str((document.get("metadata") or {}).get("name", ""))
    spec = document.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    for key, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise SpecError(
                f"PodDisruptionBudget {name!r} spec.{key}: expected an integer >= 0 "
                f"(percentages are not supported by the simulator), got {value!r}"
            )
    if max_unavailable is not None:
        raise SpecError(
            f"PodDisruptionBudget {name!r} spec.maxUnavailable: Job pods have no scale "
            "subresource, so Kubernetes honours only an integer minAvailable for them"
        )
    if (min_available is None) == (max_unavailable is None):
        raise SpecError(
            f"PodDisruptionBudget {name!r} spec: set exactly one of minAvailable and maxUnavailable"
        )
    return DisruptionBudget(name, dict(selector), min_available, max_unavailable)


MAX_TRACED_SATELLITES: Final = 256  # satellites whose time series a run keeps (plots)
TIMELINE_SAMPLES: Final = 2000  # timeline samples a run keeps per traced satellite


def traced_satellites(count: int, limit: int = MAX_TRACED_SATELLITES) -> NDArray[np.int64]:
    """The satellites a run keeps time series of: all of a small fleet, else `limit` spread
    evenly over the fleet's order (so over its planes)."""
    if count <= limit:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, count - 1, limit)).astype(np.int64))


@dataclass
class Environment:
    """How a run samples its environment: streamed through a window of the clock's grid
    (now plus the forecast horizon), never held for the whole run, so memory grows with
    satellites and not with satellites x steps.

    `conditions` (the time series of the traced satellites over the run and the lookahead,
    for plots) is computed on first use; `longest_shadow_seconds` is recorded by the first
    run that streams through the environment.
    """

    constellation: ConstellationSpec
    steps: int
    seed: int | None
    flux_model: FluxModel | None
    traced: NDArray[np.int64]
    duration_seconds: float
    longest_shadow_seconds: float | None = None
    _conditions: FleetConditions | None = field(default=None, repr=False)

    def stream(self) -> WindowedEnvironment:
        """A fresh source of the run's columns and upsets (one per pass over the run)."""
        return WindowedEnvironment(self.constellation, self.flux_model, self.seed)

    @property
    def conditions(self) -> FleetConditions:
        """The traced satellites' conditions over the run plus the lookahead (row i is
        satellite `traced[i]`)."""
        if self._conditions is None:
            c = self.constellation
            grid = TimeGrid.regular(
                c.clock.start_utc, self.duration_seconds + LOOKAHEAD_SECONDS, c.clock.step_seconds
            )
            fleet = Fleet([c.satellites[int(i)] for i in self.traced])
            self._conditions = compute_conditions(fleet, Sky.on(grid), c.stations, self.flux_model)
        return self._conditions

    def record_shadow(self, longest_seconds: float) -> None:
        self.longest_shadow_seconds = longest_seconds

    def instant(self, step: int) -> datetime:
        c = self.constellation.clock
        return c.start_utc + timedelta(seconds=step * c.step_seconds)


def prepare(scenario: Scenario, duration_seconds: float, seed: int | None = None) -> Environment:
    """The run's environment: its steps, the upset seed, the radiation model (the AP8 grid
    is loaded here, once), the satellites whose time series are kept."""
    c = scenario.constellation
    steps = round(duration_seconds / c.clock.step_seconds)
    return Environment(
        c, steps, seed, flux_model_for(c), traced_satellites(len(c.satellites)), duration_seconds
    )


def simulate(
    scenario: Scenario,
    environment: Environment,
    policy: str,
    progress: Callable[[int], None] | None = None,
    on_snapshot: Callable[[FleetSnapshot], None] | None = None,
    snapshot_every: int = 6,
) -> Outcome:
    """Run one policy over the environment: the engine, driven step by step."""
    return simulate_policies(
        scenario, environment, (policy,), progress, on_snapshot, snapshot_every
    )[policy]


def simulate_policies(
    scenario: Scenario,
    environment: Environment,
    policies: Sequence[str],
    progress: Callable[[int], None] | None = None,
    on_snapshot: Callable[[FleetSnapshot], None] | None = None,
    snapshot_every: int = 6,
) -> dict[str, Outcome]:
    """Run several policies in lock-step over one pass through the environment: each step's
    column is computed once and every policy's engine steps through it. Snapshots (live
    metrics) come from the first policy's engine."""
    c = scenario.constellation
    steps = environment.steps
    names = tuple(s.name for s in c.satellites)
    planes = np.array([s.plane for s in c.satellites], dtype=np.int64)
    engines: dict[str, FleetEngine] = {}
    for policy in policies:
        engine = FleetEngine(EngineConfig.from_spec(c, policy), names, planes, c.name)
        for job in scenario.jobs:
            engine.add_job(job)
        engine.set_budgets(scenario.budgets)
        engines[policy] = engine
    traces = {policy: _Traces() for policy in policies}
    for policy, engine in engines.items():
        traces[policy].track_heat(engine)  # the peak counts the starting temperature
    traced = environment.traced
    battery_wh = max(c.power.battery_wh, 1e-9)
    source = environment.stream()
    sample_every = max(1, steps // TIMELINE_SAMPLES)
    longest_shadow = 0.0
    first = engines[policies[0]] if policies else None
    for k in range(steps):
        column = source.column(k)
        upsets = source.upsets(k, k + 1)
        if column.shadow_seconds.size:
            longest_shadow = max(longest_shadow, float(column.shadow_seconds.max()))
        for policy, engine in engines.items():
            engine.step(column, upsets)
            engine.decisions.clear()
            traces[policy].track_heat(engine)
            if k % sample_every == 0:
                traces[policy].record(engine, traced, battery_wh)
                traces[policy].record_jobs(engine, column)
        if first is not None and on_snapshot is not None and k % snapshot_every == 0:
            on_snapshot(first.snapshot(column, environment.instant(k)))
        if progress is not None:
            progress(k)
    if environment.longest_shadow_seconds is None:
        environment.record_shadow(longest_shadow)
    return {
        policy: _outcome(scenario, policy, engine, traces[policy])
        for policy, engine in engines.items()
    }


@dataclass
class _Traces:
    """Timeline samples of one run: the traced satellites' busy GPUs and charge, the fleet's
    useful work."""

    busy: list[NDArray[np.int16]] = field(default_factory=list)
    soc: list[NDArray[np.float32]] = field(default_factory=list)
    useful: list[float] = field(default_factory=list)
    peak_k: NDArray[np.float64] | None = None  # each satellite's peak temperature
    throttled: NDArray[np.bool_] | None = None  # satellites that ever throttled
    job_progress: dict[str, list[float]] = field(default_factory=dict)
    gang_views: dict[str, GangView] = field(default_factory=dict)

    def track_heat(self, engine: FleetEngine) -> None:
        if self.peak_k is None or self.throttled is None:
            self.peak_k = engine.temperature_k.copy()
            self.throttled = engine.throttling.copy()
            return
        np.maximum(self.peak_k, engine.temperature_k, out=self.peak_k)
        self.throttled |= engine.throttling

    def record_jobs(self, engine: FleetEngine, column: Column) -> None:
        """Each Job's progress; where each running gang is, with the links around it."""
        for job, spec in enumerate(engine.jobs):
            units = engine.job_units[job]
            total = float(engine.work[job]) * max(units.stop - units.start, 1)
            self.job_progress.setdefault(spec.name, []).append(
                float(engine.unit_progress[units].sum()) / total
            )
        links = engine.links
        if column.position_km is None:
            return
        for job, step in engine.gang_steps.items():
            stats = engine.job_stats(job)
            up = links.pairs[links.up] if links is not None else np.zeros((0, 2), np.int64)
            self.gang_views[engine.jobs[job].name] = GangView(
                engine.now, column.position_km.copy(), up, stats.satellites, step.seconds
            )

    def record(self, engine: FleetEngine, traced: NDArray[np.int64], battery_wh: float) -> None:
        self.busy.append(count_per_row(engine.gpu_owner[traced] >= 0).astype(np.int16))
        self.soc.append((engine.soc[traced] / battery_wh).astype(np.float32))
        self.useful.append(engine.useful_gpu_seconds())


def _outcome(scenario: Scenario, policy: str, engine: FleetEngine, traces: _Traces) -> Outcome:
    counters = engine.counters
    evictions = dict(counters.evictions)
    if counters.refused_evictions:
        evictions[REFUSED_BY_PDB] = counters.refused_evictions
    jobs = {spec.name: engine.job_stats(job) for job, spec in enumerate(engine.jobs)}
    return Outcome(
        policy=policy,
        completed_gpu_seconds=engine.useful_gpu_seconds(),
        lost_gpu_seconds=counters.lost_gpu_seconds,
        energy_bound_gpu_seconds=counters.bound_gpu_seconds,
        demand_gpu_seconds=float(sum(j.total_work_gpu_seconds for j in scenario.jobs)),
        achievable_gpu_seconds=float(sum(stats.achievable_gpu_seconds for stats in jobs.values())),
        evictions=evictions,
        pod_failures=dict(counters.failures),
        jobs_completed=counters.jobs_completed,
        jobs_failed=counters.jobs_failed,
        upsets=dict(counters.upsets),
        bus_brownout_seconds=counters.bus_brownout_seconds,
        bus_brownouts=counters.bus_brownouts,
        bus_brownout_satellites=int((engine.brownout_seconds > 0).sum()),
        thermal=(
            _thermal_totals(engine, traces.peak_k, traces.throttled)
            if engine.thermal is not None
            and traces.peak_k is not None
            and traces.throttled is not None
            else None
        ),
        downlink=(
            _downlink_totals(engine)
            if any(job.downlink_bytes > 0 for job in scenario.jobs)
            else None
        ),
        timeline={
            "busy_gpus": np.array(traces.busy).T,
            "state_of_charge": np.array(traces.soc).T,
            "useful_gpu_seconds": np.array(traces.useful),
        },
        jobs=jobs,
        job_progress={key: np.array(v) for key, v in traces.job_progress.items()},
        gang_views=dict(traces.gang_views),
    )


def _thermal_totals(
    engine: FleetEngine, peak_k: NDArray[np.float64], throttled: NDArray[np.bool_]
) -> dict[str, float]:
    """What heat did in a run: throttling, heaters, temperatures and the heat bound."""
    c = engine.counters
    energy = float(engine.bound.gpu_seconds().sum())
    return {
        "throttled_gpu_seconds": c.throttled_gpu_seconds,
        "thermal_throttles": float(c.thermal_throttles),
        "throttled_satellites": float(throttled.sum()),
        "pods_lost_to_heat": float(c.failures.get("thermal", 0)),
        "heater_energy_wh": c.heater_energy_j / 3600.0,
        "peak_temperature_c": float(peak_k.max()) - KELVIN_AT_ZERO_CELSIUS,
        "final_mean_temperature_c": float(engine.temperature_k.mean()) - KELVIN_AT_ZERO_CELSIUS,
        "energy_only_bound_gpu_seconds": energy,
        "heat_rejected_joules": float(engine.heat_rejected_j.sum()),
    }


def _downlink_totals(engine: FleetEngine) -> dict[str, float]:
    """What reached the ground: results landed, bytes, the backlog left on board, and how
    long results waited from their completion to their last byte on the ground."""
    c = engine.counters
    landed = c.results_landed
    return {
        "results_landed": float(landed),
        "results_waiting": float(sum(len(q) for q in engine.downlink_queue)),
        "downlinked_bytes": c.downlinked_bytes,
        "backlog_bytes": float(engine.downlink_backlog_bytes.sum()),
        "mean_latency_seconds": c.landed_latency_seconds / landed if landed else 0.0,
        "max_latency_seconds": c.landed_latency_max_seconds,
    }


@dataclass(frozen=True)
class ThermalDesign:
    """Whether the bus and the environment in full sun fit under the radiator's rejection at
    the maximum temperature (else no schedule keeps the satellite below it), and how many
    GPUs the radiator sustains on top."""

    max_rejection_w: float
    bus_and_environment_w: float
    sustained_gpus: float

    @property
    def viable(self) -> bool:
        return self.max_rejection_w >= self.bus_and_environment_w

    def as_json(self) -> dict[str, Any]:
        return {
            "viable": self.viable,
            "max_rejection_w": round(self.max_rejection_w, 3),
            "bus_and_environment_w": round(self.bus_and_environment_w, 3),
            "sustained_gpus": round(self.sustained_gpus, 3),
        }


def thermal_design(spec: ConstellationSpec) -> ThermalDesign | None:
    """The thermal design check (None without spec.thermal)."""
    thermal, power = spec.thermal, spec.power
    if thermal is None:
        return None
    other = power.bus_power_w + float(thermal.environment_w(1.0))
    spare = thermal.max_rejection_w - other
    return ThermalDesign(thermal.max_rejection_w, other, spare / max(power.gpu_power_w, 1e-9))


@dataclass(frozen=True)
class Viability:
    """Whether the bus alone rides through the run's longest eclipse above the payload's
    floor, from a full battery, and by how much (Wh of stored energy)."""

    longest_eclipse_seconds: float
    bus_need_wh: float
    usable_wh: float
    margin_wh: float
    thermal: ThermalDesign | None = None
    # the Jobs whose pods can never run on this fleet, and why (they still simulate)
    never_fits: dict[str, str] = field(default_factory=dict)

    @property
    def viable(self) -> bool:
        return self.margin_wh >= 0.0 and (self.thermal is None or self.thermal.viable)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "viable": self.viable,
            "margin_wh": round(self.margin_wh, 3),
            "longest_eclipse_seconds": round(self.longest_eclipse_seconds, 3),
            "bus_need_wh": round(self.bus_need_wh, 3),
            "usable_wh": round(self.usable_wh, 3),
        }
        if self.thermal is not None:
            out["thermal"] = self.thermal.as_json()
        if self.never_fits:
            out["never_fits"] = dict(sorted(self.never_fits.items()))
        return out


def viability(scenario: Scenario, environment: Environment) -> Viability:
    """The design check of a run: its longest eclipse (penumbra included) against the bus."""
    if environment.longest_shadow_seconds is None:
        environment.record_shadow(longest_shadow_seconds(environment))
    design = design_check(scenario.constellation, environment.longest_shadow_seconds or 0.0)
    return replace(design, never_fits=never_fitting_jobs(scenario))


def never_fitting_jobs(scenario: Scenario) -> dict[str, str]:
    """Per Job whose pods can never run on the scenario's fleet, why (one line)."""
    spec = scenario.constellation
    out = {}
    for job in scenario.jobs:
        why = never_fits(job, len(spec.satellites), spec.power.gpus)
        if why is not None:
            out[job.name] = why
    return out


def design_check(spec: ConstellationSpec, longest_shadow_seconds: float) -> Viability:
    """The bus against the longest shadow (penumbra included) from a full battery, and
    the radiator against the bus and the environment."""
    power = spec.power
    margin = bus_viability(power, longest_shadow_seconds)
    return Viability(
        longest_shadow_seconds,
        power.usable_wh - margin,
        power.usable_wh,
        margin,
        thermal_design(spec),
    )


def longest_shadow_seconds(environment: Environment) -> float:
    """The longest shadow (penumbra included) any satellite meets in the run, streamed."""
    source = environment.stream()
    longest = 0.0
    for k in range(environment.steps):
        shadow = source.column(k).shadow_seconds
        if shadow.size:
            longest = max(longest, float(shadow.max()))
    return longest
