"""Run a simulation: read the manifests, sample the environment once, drive the engine
through it under each policy (the simulator's shell over `kubesat.engine`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from kubesat.core.conditions import FleetConditions, compute_conditions
from kubesat.core.geometry import Sky
from kubesat.core.orbits import Fleet
from kubesat.core.power import bus_viability
from kubesat.core.thermal import KELVIN_AT_ZERO_CELSIUS
from kubesat.core.timebase import TimeGrid
from kubesat.core.upsets import UpsetEvents
from kubesat.core.workloads import DisruptionBudget, JobSpec
from kubesat.engine.config import EngineConfig
from kubesat.engine.environment import ConditionsEnvironment, flux_model_for
from kubesat.engine.fleet import FleetEngine
from kubesat.sim.outcome import REFUSED_BY_PDB, Outcome
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


@dataclass(frozen=True)
class Environment:
    """The environment sampled once and shared by every policy's run."""

    conditions: FleetConditions
    upsets: UpsetEvents  # every upset of the run (the engine draws the same, chunk by chunk)
    steps: int
    source: ConditionsEnvironment


def prepare(scenario: Scenario, duration_seconds: float, seed: int | None = None) -> Environment:
    """Sample sunlight, links, radiation and upsets over the run plus the lookahead."""
    c = scenario.constellation
    step = c.clock.step_seconds
    grid = TimeGrid.regular(c.clock.start_utc, duration_seconds + LOOKAHEAD_SECONDS, step)
    steps = round(duration_seconds / step)
    conditions = compute_conditions(
        Fleet(c.satellites), Sky.on(grid), c.stations, flux_model_for(c)
    )
    source = ConditionsEnvironment(c, conditions, seed)
    return Environment(conditions, source.all_upsets(steps), steps, source)


def simulate(
    scenario: Scenario,
    environment: Environment,
    policy: str,
    progress: Callable[[int], None] | None = None,
    on_snapshot: Callable[[FleetSnapshot], None] | None = None,
    snapshot_every: int = 6,
) -> Outcome:
    """Run one policy over the prepared environment: the engine, driven step by step."""
    c = scenario.constellation
    steps = environment.steps
    engine = FleetEngine(
        EngineConfig.from_spec(c, policy),
        tuple(s.name for s in c.satellites),
        np.array([s.plane for s in c.satellites], dtype=np.int64),
        c.name,
    )
    for job in scenario.jobs:
        engine.add_job(job)
    engine.set_budgets(scenario.budgets)
    source = environment.source
    sample_every = max(1, steps // 2000)
    busy_trace, soc_trace, useful_trace = [], [], []
    peak_k = engine.temperature_k.copy()
    throttled = np.zeros(engine.n, np.bool_)
    for k in range(steps):
        column = source.column(k)
        engine.step(column, source.upsets(k, k + 1))
        engine.decisions.clear()
        np.maximum(peak_k, engine.temperature_k, out=peak_k)
        throttled |= engine.throttling
        if k % sample_every == 0:
            busy_trace.append(engine.busy_gpus().astype(np.int16))
            soc_trace.append((engine.soc / max(c.power.battery_wh, 1e-9)).astype(np.float32))
            useful_trace.append(engine.useful_gpu_seconds())
        if on_snapshot is not None and k % snapshot_every == 0:
            when = environment.conditions.grid.instant(k * c.clock.step_seconds)
            on_snapshot(engine.snapshot(column, when))
        if progress is not None:
            progress(k)
    counters = engine.counters
    evictions = dict(counters.evictions)
    if counters.refused_evictions:
        evictions[REFUSED_BY_PDB] = counters.refused_evictions
    return Outcome(
        policy=policy,
        completed_gpu_seconds=engine.useful_gpu_seconds(),
        lost_gpu_seconds=counters.lost_gpu_seconds,
        energy_bound_gpu_seconds=counters.bound_gpu_seconds,
        demand_gpu_seconds=float(sum(j.total_work_gpu_seconds for j in scenario.jobs)),
        evictions=evictions,
        pod_failures=dict(counters.failures),
        jobs_completed=counters.jobs_completed,
        jobs_failed=counters.jobs_failed,
        upsets=dict(counters.upsets),
        bus_brownout_seconds=counters.bus_brownout_seconds,
        bus_brownouts=counters.bus_brownouts,
        bus_brownout_satellites=int((engine.brownout_seconds > 0).sum()),
        thermal=_thermal_totals(engine, peak_k, throttled) if engine.thermal is not None else None,
        downlink=(
            _downlink_totals(engine)
            if any(job.downlink_bytes > 0 for job in scenario.jobs)
            else None
        ),
        timeline={
            "busy_gpus": np.array(busy_trace).T,
            "state_of_charge": np.array(soc_trace).T,
            "useful_gpu_seconds": np.array(useful_trace),
        },
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
        return out


def viability(scenario: Scenario, environment: Environment) -> Viability:
    """The design check of a run: its longest eclipse (penumbra included) against the bus."""
    power = scenario.constellation.power
    shadow = environment.conditions.shadow_seconds[:, : environment.steps]
    longest = float(shadow.max()) if shadow.size else 0.0
    margin = bus_viability(power, longest)
    return Viability(
        longest,
        power.usable_wh - margin,
        power.usable_wh,
        margin,
        thermal_design(scenario.constellation),
    )
