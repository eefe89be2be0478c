"""Command-line wiring of `kubesat simulate`: progress bar, summary table, JSON and plots."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from kubesat.core.policy import POLICIES

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """'24h', '90m', '2d', '3600' -> seconds."""
    match = DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive duration such as 24h, 90m or 2d, got {text!r}"
        )
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


def add_simulate_parser(commands: Any) -> None:
    """Register `kubesat simulate`."""
    sim = commands.add_parser(
        "simulate",
        help="simulate a constellation running GPU jobs under scheduling policies",
        description="Simulate a constellation (a Constellation and Jobs in one YAML file) and "
        "report goodput against the energy bound for each policy.",
    )
    sim.add_argument("file", type=Path, help="YAML with one Constellation, Jobs and PDBs")
    sim.add_argument(
        "--duration",
        type=parse_duration,
        default=parse_duration("24h"),
        help="simulated span, e.g. 24h (default), 90m, 2d",
    )
    sim.add_argument(
        "--policy",
        choices=[*POLICIES, "all"],
        default=None,
        help="policy to run (default: the Constellation's spec.policy); all = each",
    )
    sim.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the upset process (default: spec.radiation.seed)",
    )
    sim.add_argument("--json", type=Path, default=None, metavar="OUT", help="write JSON here")
    sim.add_argument("--plots", type=Path, default=None, metavar="DIR", help="write PNG plots here")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    live = sim.add_argument_group("watching a run live (Prometheus)")
    live.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="N",
        help="serve the kubesat_* metrics on this port while the run goes (0: any free port)",
    )
    live.add_argument(
        "--metrics-address",
        default="0.0.0.0",
        metavar="ADDR",
        help="address the metrics server listens on (default 0.0.0.0)",
    )
    live.add_argument(
        "--speedup",
        type=float,
        default=None,
        metavar="X",
        help="with --metrics-port: simulated seconds per wall second "
        "(default: the Constellation's spec.clock.speedup)",
    )
    live.add_argument(
        "--linger",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --metrics-port: keep serving the final values this long (default 0)",
    )
    sim.set_defaults(run=run_simulate)


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, max(total, 1), enabled
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, step: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and step + 1 < self.total):
            return
        self.last = now
        done = (step + 1) / self.total
        bar = "#" * int(30 * done)
        sys.stderr.write(
            f"\r{self.label:<11} [{bar:<30}] {100 * done:5.1f}%  {now - self.started:6.1f}s"
        )
        if step + 1 >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_simulate(args: argparse.Namespace) -> int:
    from kubesat.sim.run import load_scenario, prepare, simulate

    scenario = load_scenario(args.file)
    if args.seed is not None and args.seed < 0:
        raise ValueError(f"--seed: must be >= 0, got {args.seed}")
    policies = (
        list(POLICIES) if args.policy == "all" else [args.policy or scenario.constellation.policy]
    )
    live = _live_metrics(args, scenario.constellation.clock.speedup)  # None: no --metrics-port
    show = not args.quiet
    if show:
        print(
            f"Sampling the environment of {len(scenario.constellation.satellites)} satellites "
            f"over {args.duration / 3600:g} h ...",
            file=sys.stderr,
        )
    environment = prepare(scenario, args.duration, args.seed)
    outcomes = {}
    for policy in policies:
        bar = ProgressBar(policy, environment.steps, show and sys.stderr.isatty())
        outcomes[policy] = simulate(
            scenario, environment, policy, bar, live.on_snapshot if live else None
        )
    from kubesat.sim.run import viability

    document = report_document(outcomes, viability(scenario, environment).as_json())
    print_report(scenario.constellation.name, args.duration, document)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    if args.plots is not None:
        from kubesat.sim.plots import write_plots

        for path in write_plots(args.plots, scenario, environment, outcomes):
            print(f"wrote {path}", file=sys.stderr)
    if live is not None:
        sys.stdout.flush()
        live.linger(args.linger)
    return 0


def _live_metrics(args: argparse.Namespace, default_speedup: float) -> Any:
    """The metrics server of --metrics-port (None without it), already serving."""
    if args.metrics_port is None:
        for option, value in (("--speedup", args.speedup), ("--linger", args.linger or None)):
            if value is not None:
                raise ValueError(f"{option}: only applies with --metrics-port")
        return None
    if not 0 <= args.metrics_port <= 65535:
        raise ValueError(f"--metrics-port: expected 0..65535, got {args.metrics_port}")
    if not args.linger >= 0:
        raise ValueError(f"--linger: must be >= 0 seconds, got {args.linger:g}")
    from kubesat.sim.live import LiveMetrics

    speedup = default_speedup if args.speedup is None else args.speedup
    return LiveMetrics(args.metrics_port, speedup, args.metrics_address).start()


def report_document(
    outcomes: dict[str, Any], design: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `--json` document: the design check and one entry per policy, rounded so runs
    compare byte for byte."""
    return {
        "viability": design or {},
        "policies": {
            name: {
                "goodput_ratio": round(o.goodput_ratio, 6),
                "completed_gpu_seconds": round(o.completed_gpu_seconds, 3),
                "lost_gpu_seconds": round(o.lost_gpu_seconds, 3),
                "energy_bound_gpu_seconds": round(o.energy_bound_gpu_seconds, 3),
                "demand_gpu_seconds": round(o.demand_gpu_seconds, 3),
                "evictions": int(sum(v for k, v in o.evictions.items() if k != "refused-by-pdb")),
                "evictions_by_reason": dict(sorted(o.evictions.items())),
                "pod_failures_by_reason": dict(sorted(o.pod_failures.items())),
                "jobs_completed": int(o.jobs_completed),
                "jobs_failed": int(o.jobs_failed),
                "upsets": int(sum(o.upsets.values())),
                "upsets_by_kind": dict(sorted(o.upsets.items())),
                "bus_brownout_seconds": round(o.bus_brownout_seconds, 3),
                "bus_brownouts": int(o.bus_brownouts),
                "bus_brownout_satellites": int(o.bus_brownout_satellites),
                **({"thermal": _thermal_json(o.thermal)} if o.thermal is not None else {}),
                **({"downlink": _downlink_json(o.downlink)} if o.downlink is not None else {}),
            }
            for name, o in outcomes.items()
        },
    }


def _thermal_json(totals: dict[str, float]) -> dict[str, Any]:
    counts = ("thermal_throttles", "throttled_satellites", "pods_lost_to_heat")
    return {
        key: int(value) if key in counts else round(value, 3)
        for key, value in sorted(totals.items())
    }


def _downlink_json(totals: dict[str, float]) -> dict[str, Any]:
    counts = ("results_landed", "results_waiting")
    return {
        key: int(value) if key in counts else round(value, 3)
        for key, value in sorted(totals.items())
    }


def print_report(name: str, duration_seconds: float, document: dict[str, Any]) -> None:
    print(f"\n{name}: {duration_seconds / 3600:g} h simulated")
    design = document.get("viability") or {}
    if design:
        verdict = "viable" if design["viable"] else "NOT VIABLE"
        print(
            f"design: {verdict}: the bus needs {design['bus_need_wh']:.1f} Wh of the "
            f"{design['usable_wh']:.1f} Wh usable for the longest eclipse "
            f"({design['longest_eclipse_seconds'] / 60:.1f} min): margin "
            f"{design['margin_wh']:+.1f} Wh"
        )
        heat = design.get("thermal")
        if heat:
            print(
                f"heat: the radiator rejects {heat['max_rejection_w']:.0f} W at its maximum "
                f"temperature; the bus and the environment take {heat['bus_and_environment_w']:.0f}"
                f" W of it: {heat['sustained_gpus']:.2f} GPUs sustained"
            )
    header = (
        f"{'policy':<11}{'goodput':>8}{'completed GPU-h':>17}{'lost GPU-h':>12}"
        f"{'bound GPU-h':>13}{'evictions':>11}{'jobs done':>11}{'failed':>8}{'upsets':>8}"
    )
    print(header)
    print("-" * len(header))
    for policy, r in document["policies"].items():
        print(
            f"{policy:<11}{r['goodput_ratio']:>8.3f}{r['completed_gpu_seconds'] / 3600:>17.1f}"
            f"{r['lost_gpu_seconds'] / 3600:>12.1f}{r['energy_bound_gpu_seconds'] / 3600:>13.1f}"
            f"{r['evictions']:>11}{r['jobs_completed']:>11}{r['jobs_failed']:>8}"
            f"{r['upsets']:>8}"
        )
    for policy, r in document["policies"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in r["evictions_by_reason"].items()) or "none"
        failures = ", ".join(f"{k} {v}" for k, v in r["pod_failures_by_reason"].items()) or "none"
        brownouts = (
            f"; bus brownouts: {r['bus_brownouts']} on {r['bus_brownout_satellites']} "
            f"satellites, {r['bus_brownout_seconds'] / 60:.1f} min"
            if r["bus_brownouts"]
            else "; no bus brownout"
        )
        print(f"  {policy}: evictions by reason: {reasons}; pod failures: {failures}{brownouts}")
        down = r.get("downlink")
        if down:
            print(
                f"  {policy}: downlink: {down['results_landed']} results on the ground "
                f"({down['downlinked_bytes'] / 1e9:.1f} GB), {down['results_waiting']} waiting "
                f"({down['backlog_bytes'] / 1e9:.1f} GB backlog); completion to ground "
                f"{down['mean_latency_seconds'] / 60:.1f} min on average, "
                f"{down['max_latency_seconds'] / 60:.1f} min at most"
            )
        heat = r.get("thermal")
        if heat:
            print(
                f"  {policy}: heat: peak {heat['peak_temperature_c']:.1f} C, "
                f"{heat['thermal_throttles']} throttling episodes on "
                f"{heat['throttled_satellites']} satellites, "
                f"{heat['throttled_gpu_seconds'] / 3600:.1f} GPU-h held off, "
                f"{heat['pods_lost_to_heat']} pods lost to heat, heaters "
                f"{heat['heater_energy_wh']:.1f} Wh; bound without heat "
                f"{heat['energy_only_bound_gpu_seconds'] / 3600:.1f} GPU-h"
            )
