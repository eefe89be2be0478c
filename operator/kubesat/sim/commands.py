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
from kubesat.sim.report import print_report, report_document
from kubesat.spec import TESTED_CLUSTER_NODES as DEFAULT_DOMAIN_SATELLITES

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
    large = sim.add_argument_group("constellations larger than one scheduling domain")
    large.add_argument(
        "--domain-satellites",
        type=int,
        default=DEFAULT_DOMAIN_SATELLITES,
        metavar="N",
        help="most satellites one simulation (one cluster) takes (default "
        f"{DEFAULT_DOMAIN_SATELLITES:,}, Kubernetes' tested nodes per cluster)",
    )
    large.add_argument(
        "--split",
        action="store_true",
        help="run a larger constellation as independent domains of whole planes of at most "
        "--domain-satellites each (see README: what this assumes)",
    )
    large.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="with --split: run the domains on this Dask scheduler's workers",
    )
    large.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="with --split: local processes (default: one per core)",
    )
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
    from kubesat.sim.run import load_scenario, prepare, simulate_policies

    scenario = load_scenario(args.file)
    if args.seed is not None and args.seed < 0:
        raise ValueError(f"--seed: must be >= 0, got {args.seed}")
    policies = (
        list(POLICIES) if args.policy == "all" else [args.policy or scenario.constellation.policy]
    )
    count = len(scenario.constellation.satellites)
    if args.domain_satellites < 1:
        raise ValueError(f"--domain-satellites: must be >= 1, got {args.domain_satellites}")
    if args.split:
        return _run_split(args, scenario, policies)
    for option in ("scheduler", "workers"):
        if getattr(args, option) is not None:
            raise ValueError(f"--{option}: only applies with --split")
    if count > args.domain_satellites:
        raise ValueError(
            f"spec.orbits: {count:,} satellites, more than one simulation takes "
            f"(--domain-satellites {args.domain_satellites:,}, Kubernetes' tested nodes per "
            "cluster); add --split to run them as independent domains of whole planes"
        )
    live = _live_metrics(args, scenario.constellation.clock.speedup)  # None: no --metrics-port
    show = not args.quiet
    from kubesat.sim.run import never_fitting_jobs

    for job, why in never_fitting_jobs(scenario).items():
        print(f"warning: Job {job!r} can never run: {why}", file=sys.stderr)
    if show:
        print(
            f"Simulating {len(scenario.constellation.satellites)} satellites over "
            f"{args.duration / 3600:g} h ({', '.join(policies)}) ...",
            file=sys.stderr,
        )
    environment = prepare(scenario, args.duration, args.seed)
    bar = ProgressBar("/".join(policies), environment.steps, show and sys.stderr.isatty())
    outcomes = simulate_policies(
        scenario, environment, policies, bar, live.on_snapshot if live else None
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


def _run_split(args: argparse.Namespace, scenario: Any, policies: list[str]) -> int:
    """`simulate --split`: whole-plane domains on local processes or Dask, summed."""
    import yaml

    from kubesat.sim.domains import Domain, run_split, split
    from kubesat.sim.executors import Executor, dask_executor, local_executor

    for option, value in (("--plots", args.plots), ("--metrics-port", args.metrics_port)):
        if value is not None:
            raise ValueError(f"{option}: not available with --split (domains keep no timelines)")
    gangs = [job.name for job in scenario.jobs if job.gang]
    if gangs:
        raise ValueError(
            f"--split: Job {gangs[0]!r} is a gang, whose members must run in one cluster "
            "(domains share no links)"
        )
    documents = [
        d for d in yaml.safe_load_all(args.file.read_text(encoding="utf-8")) if d is not None
    ]
    domains = split(
        documents,
        scenario,
        args.duration,
        policies,
        args.domain_satellites,
        args.seed,
        str(args.file),
    )
    if not args.quiet:
        where = f"Dask at {args.scheduler}" if args.scheduler else "local processes"
        print(
            f"Simulating {len(scenario.constellation.satellites):,} satellites as "
            f"{len(domains)} domains of whole planes on {where} ...",
            file=sys.stderr,
        )
    executor: Executor[Domain, dict[str, Any]] = (
        dask_executor(args.scheduler) if args.scheduler else local_executor(args.workers)
    )
    result = run_split(scenario, domains, executor)
    document = report_document(result.outcomes, result.viability.as_json())
    document["domains"] = len(domains)
    print_report(scenario.constellation.name, args.duration, document)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
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


def add_sweep_parser(commands: Any) -> None:
    """Register `kubesat sweep`."""
    sweep = commands.add_parser(
        "sweep",
        help="simulate every combination of design parameters, locally or on Dask",
        description="Sweep design parameters: the cartesian product of --set values, each "
        "point a full simulation, run in parallel on this machine or on a Dask cluster. "
        "PATH is a Constellation field (spec.hardware.batteryWh) or a Job annotation "
        "(jobs.NAME.annotations.kubesat.io/checkpoint-interval-seconds).",
    )
    sweep.add_argument("file", type=Path, help="YAML with one Constellation, Jobs and PDBs")
    sweep.add_argument(
        "--set",
        dest="axes",
        action="append",
        required=True,
        metavar="PATH=V1,V2,...",
        help="a parameter and its values (repeatable: the sweep is every combination)",
    )
    sweep.add_argument(
        "--duration",
        type=parse_duration,
        default=parse_duration("24h"),
        help="simulated span of each point, e.g. 24h (default), 90m, 2d",
    )
    sweep.add_argument(
        "--policy",
        choices=[*POLICIES, "all"],
        default=None,
        help="policy to run (default: the Constellation's spec.policy); all = each",
    )
    sweep.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of every point's upsets (default: each point's spec.radiation.seed)",
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run the points on this Dask scheduler's workers (default: local processes)",
    )
    sweep.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local processes (default: one per core; ignored with --scheduler)",
    )
    sweep.add_argument("--json", type=Path, default=None, metavar="OUT", help="write JSON here")
    sweep.add_argument(
        "--plots", type=Path, default=None, metavar="DIR", help="write PNG plots here"
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress line")
    sweep.set_defaults(run=run_sweep_command)


def run_sweep_command(args: argparse.Namespace) -> int:
    from kubesat.sim.executors import Executor, dask_executor, local_executor
    from kubesat.sim.sweep import (
        Point,
        dumps,
        load_documents,
        parse_set,
        plan_sweep,
        run_sweep,
        sweep_document,
    )

    if args.seed is not None and args.seed < 0:
        raise ValueError(f"--seed: must be >= 0, got {args.seed}")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers: must be >= 1, got {args.workers}")
    if args.scheduler is not None and not re.match(r"^[a-z]+://[^:/]+:\d+$", args.scheduler):
        raise ValueError(f"--scheduler: expected tcp://HOST:PORT, got {args.scheduler!r}")
    axes = [parse_set(text) for text in args.axes]
    documents = load_documents(args.file)
    from kubesat.sim.run import parse_scenario

    default_policy = parse_scenario(documents, str(args.file)).constellation.policy
    policies = list(POLICIES) if args.policy == "all" else [args.policy or default_policy]
    points = plan_sweep(documents, axes, args.duration, policies, args.seed, str(args.file))
    where = f"Dask at {args.scheduler}" if args.scheduler else "local processes"
    show = not args.quiet
    if show:
        print(
            f"Sweeping {len(points)} points x {args.duration / 3600:g} h "
            f"({', '.join(policies)}) on {where} ...",
            file=sys.stderr,
        )
    executor: Executor[Point, dict[str, Any]] = (
        dask_executor(args.scheduler) if args.scheduler else local_executor(args.workers)
    )
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if show:
            sys.stderr.write(
                f"\r{done}/{total} points  {time.monotonic() - started:6.1f}s"
                + ("\n" if done == total else "")
            )
            sys.stderr.flush()

    records = run_sweep(points, executor, progress)
    document = sweep_document(str(args.file), axes, args.duration, policies, args.seed, records)
    print_sweep(document)
    sys.stdout.flush()
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(dumps(document), encoding="utf-8")
    if args.plots is not None:
        from kubesat.sim.sweep_plots import write_sweep_plots

        for path in write_sweep_plots(args.plots, document):
            print(f"wrote {path}", file=sys.stderr)
    return 0


def print_sweep(document: dict[str, Any]) -> None:
    """One row per point: its parameters, then goodput and GPU-hours a day per policy."""
    sweep = document["sweep"]
    paths = [a["path"] for a in sweep["axes"]]
    widths = [max(len(p.rsplit(".", 1)[-1].rsplit("/", 1)[-1]), 8) for p in paths]
    heads = [p.rsplit(".", 1)[-1].rsplit("/", 1)[-1] for p in paths]
    policy_cols = "".join(
        f"{pol[:10] + ' goodput':>20}{'GPU-h/day':>11}" for pol in sweep["policies"]
    )
    header = f"{'#':>4}  " + "".join(f"{h:>{w}}  " for h, w in zip(heads, widths, strict=True))
    header += f"{'viable':>7}" + policy_cols
    print(
        f"\nsweep of {sweep['file']}: {len(document['points'])} points, "
        f"{sweep['duration_seconds'] / 3600:g} h each"
    )
    print(header)
    print("-" * len(header))
    print(
        "goodput: completed over the lesser of the energy-and-heat bound and what the "
        "Jobs could use (their parallelism over their open time)"
    )
    for record in document["points"]:
        values = "".join(
            f"{record['parameters'][p]!s:>{w}}  " for p, w in zip(paths, widths, strict=True)
        )
        viable = "yes" if record["report"]["viability"].get("viable") else "NO"
        cells = "".join(
            f"{record['report']['policies'][pol]['goodput_ratio']:>20.3f}"
            f"{record['report']['policies'][pol]['gpu_hours_per_day']:>11.1f}"
            for pol in sweep["policies"]
        )
        print(f"{record['index']:>4}  {values}{viable:>7}{cells}")
