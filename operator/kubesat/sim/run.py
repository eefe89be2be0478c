"""Run a simulation: read the manifests, sample the environment once, run each policy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from kubesat.core.conditions import FleetConditions, compute_conditions
from kubesat.core.geometry import Sky
from kubesat.core.orbits import Fleet
from kubesat.core.power import PowerSystem, energy_bound_gpu_seconds
from kubesat.core.timebase import TimeGrid
from kubesat.core.upsets import UpsetEvents, sample_upsets
from kubesat.core.workloads import DisruptionBudget, JobSpec
from kubesat.sim.engine import Cluster, Outcome
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
    upsets: UpsetEvents
    steps: int


def prepare(scenario: Scenario, duration_seconds: float, seed: int | None = None) -> Environment:
    """Sample sunlight, links, radiation and upsets over the run plus the lookahead."""
    c = scenario.constellation
    step = c.clock.step_seconds
    grid = TimeGrid.regular(c.clock.start_utc, duration_seconds + LOOKAHEAD_SECONDS, step)
    steps = round(duration_seconds / step)
    flux_model = None
    if c.radiation.enabled:
        from kubesat.core.radiation import drifted_flux_model

        flux_model = drifted_flux_model(c.radiation.model, c.clock.start_utc)
    conditions = compute_conditions(Fleet(c.satellites), Sky.on(grid), c.stations, flux_model)
    if c.radiation.enabled and c.power.gpus > 0:
        from kubesat.core.radiation import upset_rate_per_second

        m = c.radiation.upsets
        rate = upset_rate_per_second(
            conditions.flux[:, :steps],
            m.cross_section_cm2_per_gpu,
            c.power.gpus,
            m.background_per_gpu_second,
        )
        upsets = sample_upsets(
            rate, step, c.radiation.seed if seed is None else seed, m, gpus=c.power.gpus
        )
    else:
        upsets = UpsetEvents.empty()
    return Environment(conditions, upsets, steps)


def simulate(
    scenario: Scenario,
    environment: Environment,
    policy: str,
    progress: Callable[[int], None] | None = None,
    on_snapshot: Callable[[FleetSnapshot], None] | None = None,
) -> Outcome:
    """Run one policy over the prepared environment."""
    c = scenario.constellation
    steps = environment.steps
    cluster = Cluster(
        policy=policy,
        power=c.power,
        conditions=environment.conditions,
        jobs=scenario.jobs,
        budgets=scenario.budgets,
        upsets=environment.upsets,
        initial_soc=c.initial_state_of_charge,
        sefi_recovery_seconds=c.radiation.upsets.sefi_recovery_seconds,
        latchup_recovery_seconds=c.radiation.upsets.latchup_recovery_seconds,
        saa_threshold=c.radiation.saa_flux_threshold,
        margin_seconds=c.predictive_margin_seconds,
        payload_restart_seconds=c.payload_restart_seconds,
    )
    cluster.name = c.name
    cluster.satellite_names = tuple(s.name for s in c.satellites)
    cluster.planes = np.array([s.plane for s in c.satellites], dtype=np.int64)
    outcome = cluster.run(
        steps, progress, sample_every=max(1, steps // 2000), on_snapshot=on_snapshot
    )
    outcome.energy_bound_gpu_seconds = fleet_energy_bound(
        c.power, environment.conditions, steps, c.initial_state_of_charge
    )
    outcome.demand_gpu_seconds = float(sum(j.total_work_gpu_seconds for j in scenario.jobs))
    return outcome


def fleet_energy_bound(
    power: PowerSystem, conditions: FleetConditions, steps: int, initial_soc: float
) -> float:
    """The energy bound of the whole fleet over the first `steps` steps (GPU-seconds),
    computed a block of satellites at a time to keep memory flat."""
    total = 0.0
    for start in range(0, conditions.illumination.shape[0], 64):
        block = conditions.illumination[start : start + 64, :steps].astype(np.float64)
        total += float(
            energy_bound_gpu_seconds(power, block, conditions.step_seconds, initial_soc).sum()
        )
    return total
