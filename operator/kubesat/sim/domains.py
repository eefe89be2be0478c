"""A constellation larger than one scheduling domain, run as independent domains of whole
orbital planes: each domain its own simulation, on local processes or Dask workers.

What this assumes: each domain is its own Kubernetes cluster (at most `max_satellites`
nodes, by default Kubernetes' tested 5,000) with its own share of the workload, and no
pod, Job or checkpoint moves between domains. So a Job of the file runs in every domain
with its parallelism and completions scaled by the domain's share of the satellites (at
least 1), and PodDisruptionBudgets apply within a domain. Physics is per satellite, so the
split changes nothing there; each domain draws its upsets from a seed derived from the run's
seed and the domain's index. The fleet's totals are the sums over domains.
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from kubesat.sim.executors import Executor
from kubesat.sim.outcome import Outcome
from kubesat.sim.run import (
    Scenario,
    Viability,
    design_check,
    parse_scenario,
    prepare,
    simulate_policies,
)
from kubesat.spec import TESTED_CLUSTER_NODES

DEFAULT_DOMAIN_SATELLITES: Final = TESTED_CLUSTER_NODES
DOMAIN_SEED_TAG: Final = 0xD0  # keeps domain seeds apart from the upset chunks' seeds


@dataclass(frozen=True)
class Domain:
    """One scheduling domain of a split run: which satellites, and what to run there."""

    index: int
    satellites: tuple[int, ...]  # indices into the constellation's satellites
    documents: tuple[Any, ...]  # the scenario's YAML documents (rebuilt where it runs)
    source: str
    duration_seconds: float
    policies: tuple[str, ...]
    seed: int


def plane_domains(planes: Sequence[int], max_satellites: int) -> list[tuple[int, ...]]:
    """Whole planes, in plane order, gathered into domains of at most `max_satellites`
    (a plane larger than that is a domain of its own)."""
    if max_satellites < 1:
        raise ValueError(f"max_satellites: must be >= 1, got {max_satellites}")
    by_plane: dict[int, list[int]] = {}
    for index, plane in enumerate(planes):
        by_plane.setdefault(int(plane), []).append(index)
    domains: list[tuple[int, ...]] = []
    current: list[int] = []
    for plane in sorted(by_plane):
        members = by_plane[plane]
        if current and len(current) + len(members) > max_satellites:
            domains.append(tuple(current))
            current = []
        current.extend(members)
    if current:
        domains.append(tuple(current))
    return domains


def domain_seed(seed: int, index: int) -> int:
    """The upset seed of domain `index` of a run seeded `seed`."""
    sequence = np.random.SeedSequence([int(seed), DOMAIN_SEED_TAG, int(index)])
    return int(sequence.generate_state(1)[0])


def split(
    documents: Sequence[Any],
    scenario: Scenario,
    duration_seconds: float,
    policies: Sequence[str],
    max_satellites: int = DEFAULT_DOMAIN_SATELLITES,
    seed: int | None = None,
    source: str = "input",
) -> list[Domain]:
    """The domains of a run: whole planes of at most `max_satellites` satellites each."""
    c = scenario.constellation
    base = c.radiation.seed if seed is None else seed
    groups = plane_domains([s.plane for s in c.satellites], max_satellites)
    return [
        Domain(
            i,
            group,
            tuple(documents),
            source,
            duration_seconds,
            tuple(policies),
            domain_seed(base, i),
        )
        for i, group in enumerate(groups)
    ]


def domain_scenario(scenario: Scenario, satellites: Sequence[int], index: int) -> Scenario:
    """The scenario of one domain: its satellites, and every Job scaled to its share."""
    c = scenario.constellation
    share = len(satellites) / max(len(c.satellites), 1)
    constellation = dataclasses.replace(
        c, name=f"{c.name}-{index}", satellites=tuple(c.satellites[i] for i in satellites)
    )
    jobs = tuple(
        dataclasses.replace(
            job,
            parallelism=max(1, round(job.parallelism * share)),
            completions=max(1, round(job.completions * share)),
        )
        for job in scenario.jobs
    )
    return Scenario(constellation, jobs, scenario.budgets)


def run_domain(domain: Domain) -> dict[str, Any]:
    """Simulate one domain where it runs; its outcomes (no timelines), wall time, peak RSS."""
    started, cpu = time.perf_counter(), time.process_time()
    scenario = domain_scenario(
        parse_scenario(list(domain.documents), domain.source), domain.satellites, domain.index
    )
    environment = prepare(scenario, domain.duration_seconds, domain.seed)
    outcomes = simulate_policies(scenario, environment, domain.policies)
    for outcome in outcomes.values():
        outcome.timeline = {}
    return {
        "index": domain.index,
        "satellites": len(domain.satellites),
        "outcomes": outcomes,
        "longest_shadow_seconds": environment.longest_shadow_seconds or 0.0,
        "wall_seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """Peak resident set of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak / 2**20 if sys.platform == "darwin" else peak / 2**10)


#: Totals of the heat and downlink reports that are not sums over domains.
PEAKS: Final = frozenset({"peak_temperature_c", "max_latency_seconds"})
MEAN_OVER_SATELLITES: Final = frozenset({"final_mean_temperature_c"})


def _merged_report(
    parts: Sequence[dict[str, float] | None], satellites: Sequence[int]
) -> dict[str, float] | None:
    """One heat or downlink report from the domains' own: sums, peaks, and means weighted
    by satellites (or, for the completion-to-ground latency, by results landed)."""
    present = [(p, n) for p, n in zip(parts, satellites, strict=True) if p is not None]
    if not present:
        return None
    out: dict[str, float] = {}
    for key in present[0][0]:
        values = [(p[key], n) for p, n in present]
        if key in PEAKS:
            out[key] = max(v for v, _ in values)
        elif key in MEAN_OVER_SATELLITES:
            out[key] = sum(v * n for v, n in values) / max(sum(n for _, n in values), 1)
        elif key == "mean_latency_seconds":
            landed = [p.get("results_landed", 0.0) for p, _ in present]
            total = sum(landed)
            out[key] = (
                sum(v * w for (v, _), w in zip(values, landed, strict=True)) / total
                if total
                else 0.0
            )
        else:
            out[key] = sum(v for v, _ in values)
    return out


def merge(outcomes: Sequence[Outcome], satellites: Sequence[int] | None = None) -> Outcome:
    """The fleet's outcome of one policy: the sums over its domains (`satellites`: each
    domain's, to weight the means)."""
    weights = list(satellites) if satellites is not None else [1] * len(outcomes)

    def summed(name: str) -> dict[str, int]:
        total: dict[str, int] = {}
        for outcome in outcomes:
            for key, value in getattr(outcome, name).items():
                total[key] = total.get(key, 0) + value
        return dict(sorted(total.items()))

    return Outcome(
        policy=outcomes[0].policy,
        completed_gpu_seconds=sum(o.completed_gpu_seconds for o in outcomes),
        lost_gpu_seconds=sum(o.lost_gpu_seconds for o in outcomes),
        energy_bound_gpu_seconds=sum(o.energy_bound_gpu_seconds for o in outcomes),
        demand_gpu_seconds=sum(o.demand_gpu_seconds for o in outcomes),
        evictions=summed("evictions"),
        pod_failures=summed("pod_failures"),
        jobs_completed=sum(o.jobs_completed for o in outcomes),
        jobs_failed=sum(o.jobs_failed for o in outcomes),
        upsets=summed("upsets"),
        bus_brownout_seconds=sum(o.bus_brownout_seconds for o in outcomes),
        bus_brownouts=sum(o.bus_brownouts for o in outcomes),
        bus_brownout_satellites=sum(o.bus_brownout_satellites for o in outcomes),
        thermal=_merged_report([o.thermal for o in outcomes], weights),
        downlink=_merged_report([o.downlink for o in outcomes], weights),
        achievable_gpu_seconds=sum(o.achievable_gpu_seconds for o in outcomes),
    )


@dataclass(frozen=True)
class SplitRun:
    """The fleet's result of a split run, and what each domain cost where it ran."""

    outcomes: dict[str, Outcome]
    viability: Viability
    domains: list[dict[str, Any]]  # per domain: index, satellites, wall and CPU seconds, peak RSS


def run_split(
    scenario: Scenario, domains: Sequence[Domain], executor: Executor[Domain, dict[str, Any]]
) -> SplitRun:
    """Run every domain; merge their outcomes in domain order (whoever ran them)."""
    results = sorted(executor(run_domain, domains), key=lambda r: int(r["index"]))
    policies = domains[0].policies if domains else ()
    sizes = [int(r["satellites"]) for r in results]
    outcomes = {p: merge([r["outcomes"][p] for r in results], sizes) for p in policies}
    longest = max((float(r["longest_shadow_seconds"]) for r in results), default=0.0)
    costs = [{k: v for k, v in r.items() if k != "outcomes"} for r in results]
    return SplitRun(outcomes, design_check(scenario.constellation, longest), costs)
