"""Simulated seconds per wall second of `kubesat simulate`, against its physics-only rate.

    python benchmarks/simulate.py                                   # walker-1000, 24 h, all
    python benchmarks/simulate.py --example sso-12 --duration 6h --policy predictive

Definitions (wall times of one process, `time.perf_counter`):

- physics-only rate = duration / wall time of one pass over the streamed environment
  (`longest_shadow_seconds()`): every satellite's sunlight, ground links, radiation flux
  and shadow timing, window by window, with no engine.
- sim rate (per policy) = duration / wall time of `simulate()`: the same stream plus the
  time-stepped policy loop (scheduler, Job controller, evictions, batteries). This is
  end to end: `prepare()` only loads the radiation model.
- ratio = sim rate / physics-only rate: the share of a run the physics takes.
- all policies = duration / wall time of `simulate_policies()` over every policy in
  lock-step (one stream, what `kubesat simulate --policy all` runs).

With --repeats > 1 each time is the best of the repeats.

`--baseline REV` also runs this benchmark from a checkout of git revision REV (a temporary
worktree, its own examples, in a subprocess) in the same run, and prints each policy's
end-to-end rate here over there: below 1 means this tree is slower.

    python benchmarks/simulate.py --example walker-1000 --baseline 0d2ec0e
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    import kubesat  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from kubesat.core.policy import POLICIES
from kubesat.sim.commands import parse_duration
from kubesat.sim.run import (
    load_scenario,
    longest_shadow_seconds,
    prepare,
    simulate,
    simulate_policies,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example_path(text: str) -> Path:
    """A YAML path, or the name of a file in examples/ ('walker-1000')."""
    path = Path(text)
    if path.is_file():
        return path
    named = EXAMPLES / (text if text.endswith(".yaml") else f"{text}.yaml")
    if named.is_file():
        return named
    known = ", ".join(sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
    raise argparse.ArgumentTypeError(
        f"--example: no file {text!r} and no example of that name ({known})"
    )


def peak_rss_mb() -> float:
    """Peak resident set of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def timed(repeats: int, run: Any) -> tuple[float, Any]:
    """Best wall time of `run()` over `repeats`, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--example",
        type=example_path,
        default=EXAMPLES / "walker-1000.yaml",
        help="scenario YAML or example name (walker-1000)",
    )
    parser.add_argument(
        "--duration", type=parse_duration, default=parse_duration("24h"), help="span (24h)"
    )
    parser.add_argument(
        "--policy", choices=[*POLICIES, "all"], default="all", help="policy to time (all)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs (1)")
    parser.add_argument(
        "--baseline", default=None, metavar="REV", help="also run git revision REV, print ratios"
    )
    args = parser.parse_args(argv)
    rates = run_benchmark(args)
    if args.baseline:
        baseline = baseline_rates(args)
        print(f"  end-to-end rate here / at {args.baseline}:")
        for policy, rate in rates.items():
            if policy in baseline:
                print(
                    f"    {policy:<12}{rate:10,.0f} / {baseline[policy]:10,.0f} sim-s/s"
                    f" = {rate / baseline[policy]:.3f}"
                )
    return 0


ROW = re.compile(r"^\s+(none|reactive|predictive)\s.*?([\d,]+) sim-s/s\s+[\d.]+\s*$")


def baseline_rates(args: argparse.Namespace) -> dict[str, float]:
    """Each policy's end-to-end rate of this benchmark at git revision `args.baseline`."""
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as where:
        tree = Path(where) / "tree"
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            command = [
                sys.executable,
                str(tree / "benchmarks" / "simulate.py"),
                "--example",
                str(tree / "examples" / args.example.name),
                "--duration",
                f"{args.duration:g}",
                "--policy",
                args.policy,
                "--repeats",
                str(args.repeats),
            ]
            env = {**os.environ, "PYTHONPATH": str(tree / "operator")}
            print(f"baseline {args.baseline}:", flush=True)
            text = subprocess.run(
                command, check=True, capture_output=True, text=True, env=env
            ).stdout
            print(text, end="")
        finally:
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )
    rates = {}
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            rates[match.group(1)] = float(match.group(2).replace(",", ""))
    return rates


def run_benchmark(args: argparse.Namespace) -> dict[str, float]:
    """Time the physics stream and each policy's simulate(); each policy's end-to-end rate."""

    scenario = load_scenario(args.example)
    c = scenario.constellation
    policies = list(POLICIES) if args.policy == "all" else [args.policy]
    duration = args.duration
    print(
        f"{c.name} ({args.example.name}): {len(c.satellites)} satellites x "
        f"{c.power.gpus} GPUs, {len(scenario.jobs)} jobs, {duration / 3600:g} h at "
        f"{c.clock.step_seconds:g} s steps; best of {args.repeats}"
    )
    print(f"python {platform.python_version()}, {platform.machine()}")

    environment = prepare(scenario, duration)
    environment.stream().column(0)  # one-off loads (ephemeris, time scale) outside the timing
    physics_wall, _ = timed(args.repeats, lambda: longest_shadow_seconds(environment))
    physics_rate = duration / physics_wall
    print(
        f"  physics only  stream     {physics_wall:8.2f} s  {physics_rate:10,.0f} sim-s/s"
        f"  (sunlight, links, flux, shadow timing over {environment.steps} steps)"
    )
    print(
        f"  {'policy':<12}{'simulate()':>12}{'sim rate':>16}{'ratio':>8}"
        f"{'end to end':>16}{'goodput':>9}"
    )
    rates = {}
    for policy in policies:
        wall, outcome = timed(args.repeats, lambda p=policy: simulate(scenario, environment, p))
        rate = duration / wall
        rates[policy] = rate
        print(
            f"  {policy:<12}{wall:10.2f} s{rate:10,.0f} sim-s/s{rate / physics_rate:8.2f}"
            f"{rate:10,.0f} sim-s/s{outcome.goodput_ratio:9.3f}"
        )
    if len(policies) > 1:
        wall, _ = timed(args.repeats, lambda: simulate_policies(scenario, environment, policies))
        print(
            f"  all policies in lock-step (one stream): {wall:.2f} s, "
            f"{duration / wall:,.0f} sim-s/s"
        )
    print(f"  peak RSS {peak_rss_mb():.0f} MB")
    return rates


if __name__ == "__main__":
    sys.exit(main())
