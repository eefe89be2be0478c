"""How long a gang (distributed training across satellites) takes, by policy and placement.

    python benchmarks/gang.py                       # both gang examples, 24 h, 5 seeds
    python benchmarks/gang.py --example three-body-12 --seeds 1 --duration 12h

For each example with a gang Job, `kubesat simulate` runs every policy (none, reactive,
predictive) with topology-aware gang placement, and predictive again with placement that
ignores links, over the same environment and the same upset seeds. A gang's time is its
time to finish, or, when it has not finished within the run, its projected time at its
average rate so far (marked `*`). Times are means over the seeds.

Ratios printed (above 1: the first is faster):
- none / predictive and reactive / predictive: how much sooner predictive finishes;
- ignore-links / topology-aware (predictive): what placing by the links buys, in time to
  finish and in the mean training step (compute + gradient exchange) while it ran.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

try:
    import kubesat  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from kubesat.core.links import GangPlacement
from kubesat.engine.job_stats import JobStats
from kubesat.sim.commands import parse_duration
from kubesat.sim.run import Scenario, load_scenario, prepare, simulate_policies

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEFAULT_EXAMPLES = ("three-body-12", "suncatcher-formation-81")
POLICIES = ("none", "reactive", "predictive")
IGNORE = "predictive, ignore-links"


@dataclass(frozen=True)
class GangRun:
    """One gang's result in one run."""

    hours: float  # to finish, or projected
    finished: bool
    mean_step_seconds: float  # compute + exchange per step, over the time it computed


def gang_result(stats: JobStats, compute_seconds_per_step: float) -> GangRun:
    seconds = stats.finish_seconds or stats.projected_finish_seconds or float("inf")
    running = stats.compute_seconds + stats.exchange_seconds
    mean_step = (
        compute_seconds_per_step * running / stats.compute_seconds
        if stats.compute_seconds > 0
        else float("inf")
    )
    return GangRun(seconds / 3600.0, stats.finished, mean_step)


def with_placement(scenario: Scenario, placement: GangPlacement) -> Scenario:
    constellation = replace(scenario.constellation, gang_placement=placement)
    return replace(scenario, constellation=constellation)


def run_example(
    path: Path, duration_seconds: float, seeds: list[int]
) -> dict[str, list[dict[str, GangRun]]]:
    """Per variant (policy, or predictive ignoring links), per seed: each gang's run."""
    scenario = load_scenario(path)
    gangs = {job.name: job for job in scenario.jobs if job.gang}
    if not gangs:
        raise SystemExit(f"{path.name}: no gang Job (annotation kubesat.io/gang)")
    out: dict[str, list[dict[str, GangRun]]] = {v: [] for v in (*POLICIES, IGNORE)}
    aware = with_placement(scenario, GangPlacement.TOPOLOGY_AWARE)
    blind = with_placement(scenario, GangPlacement.IGNORE_LINKS)
    for seed in seeds:
        environment = prepare(aware, duration_seconds, seed=seed)
        outcomes = simulate_policies(aware, environment, POLICIES)
        environment = prepare(blind, duration_seconds, seed=seed)
        outcomes[IGNORE] = simulate_policies(blind, environment, ("predictive",))["predictive"]
        for variant, outcome in outcomes.items():
            out[variant].append(
                {
                    name: gang_result(outcome.jobs[name], job.compute_seconds_per_step)
                    for name, job in gangs.items()
                }
            )
    return out


def mean_hours(runs: list[dict[str, GangRun]], gang: str) -> tuple[float, bool]:
    hours = [r[gang].hours for r in runs]
    return statistics.fmean(hours), all(r[gang].finished for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--example", action="append", help="example name or YAML path")
    parser.add_argument("--duration", default="24h", help="simulated span (default 24h)")
    parser.add_argument("--seeds", type=int, default=5, help="upset seeds to average over")
    args = parser.parse_args(argv)
    duration = parse_duration(args.duration)
    seeds = list(range(1, args.seeds + 1))
    for name in args.example or DEFAULT_EXAMPLES:
        path = Path(name) if Path(name).is_file() else EXAMPLES / f"{name}.yaml"
        started = time.perf_counter()
        results = run_example(path, duration, seeds)
        wall = time.perf_counter() - started
        gangs = list(results["predictive"][0])
        print(f"\n{path.stem}: {args.duration} simulated, seeds {seeds}, {wall:.0f} s wall")
        for gang in gangs:
            print(f"  gang {gang}: hours to finish (* projected), mean over seeds")
            hours = {}
            for variant, runs in results.items():
                mean, finished = mean_hours(runs, gang)
                hours[variant] = mean
                step = statistics.fmean(r[gang].mean_step_seconds for r in runs)
                mark = "" if finished else "*"
                each = ", ".join(f"{r[gang].hours:.2f}" for r in runs)
                print(
                    f"    {variant:<26}{mean:>7.2f} h{mark:<2} (seeds: {each}); "
                    f"mean step {step:.3f} s"
                )
            best = hours["predictive"]
            print(f"    none / predictive:                      {hours['none'] / best:.3f}")
            print(f"    reactive / predictive:                  {hours['reactive'] / best:.3f}")
            print(f"    ignore-links / topology-aware (time):   {hours[IGNORE] / best:.3f}")
            aware = statistics.fmean(r[gang].mean_step_seconds for r in results["predictive"])
            blind = statistics.fmean(r[gang].mean_step_seconds for r in results[IGNORE])
            print(f"    ignore-links / topology-aware (step):   {blind / aware:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
