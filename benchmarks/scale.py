"""Mega-constellations end to end: wall time, peak memory and satellite-steps per second of
`kubesat simulate` against the raw SGP4 rate of the same run, and a split run on Dask.

    python benchmarks/scale.py                                   # everything the README shows
    python benchmarks/scale.py --satellites 1000 10000 --hours 24 --dask-satellites 0
    python benchmarks/scale.py --satellites 0 --dask-satellites 100000 --dask-hours 1

The fleets are Walker-delta shells at 550 km / 53 deg with walker-1000's hardware, ground
stations, radiation and Jobs (parallelism and completions scaled with the fleet), the
predictive policy, 10 s steps. Each run happens in a fresh child process.

- A fleet of at most --domain-satellites (5,000, one cluster) runs as one simulation in
  the child. A larger one is split into domains of whole planes (`simulate --split`) run by
  --local-workers processes (2), so "10,000 x 24 h on 2 cores" is two domains of 5,000.
- end-to-end rate = satellites x simulated steps / wall time of the run (physics, upsets,
  the engine, the lookahead the windows compute past the end), all processes together.
- raw SGP4 rate = satellite-steps per second of `SatrecArray.sgp4` alone over the same
  satellites and times (the first --raw-hours of the run, chunked like the core), on one
  core, measured in the same child before the run. The ratio compares them.
- CPU: the CPU seconds of the run in every process (the child, and the domains' workers);
  "CPU r." = satellite-steps per CPU second / raw SGP4 rate, the ratio a core free of other
  load would see (the wall-time ratio also counts waiting for a busy machine).
- peak RSS: the child's (with domains: the largest worker process's, and the parent's).
- --dask-satellites: that fleet (split into domains) on a local Dask cluster of 1 worker,
  then of 2 (`LocalCluster`, processes, 1 thread each; --dask-workers to choose): wall
  times and the speedup.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

try:
    import kubesat  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

import yaml

from kubesat.core.forecast import chunk_size_for
from kubesat.core.orbits import Fleet
from kubesat.core.timebase import TimeGrid
from kubesat.sim.domains import peak_rss_mb, run_split, split
from kubesat.sim.executors import dask_executor, local_executor
from kubesat.sim.run import parse_scenario, prepare, simulate

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "walker-1000.yaml"
POLICY = "predictive"
REFERENCE_SATELLITES = 1000  # walker-1000's Jobs are sized for its 1,000 satellites
TARGET_10K_SECONDS, TARGET_10K_MB, TARGET_RATIO, TARGET_SPEEDUP = 180.0, 1536.0, 0.3, 1.7


def shell_documents(satellites: int) -> list[dict[str, Any]]:
    """walker-1000 grown to `satellites`: the most planes <= sqrt(N) dividing N."""
    documents = [d for d in yaml.safe_load_all(EXAMPLE.read_text(encoding="utf-8")) if d]
    planes = max(d for d in range(1, math.isqrt(satellites) + 1) if satellites % d == 0)
    documents = copy.deepcopy(documents)
    documents[0]["metadata"]["name"] = f"walker-{satellites}"
    documents[0]["spec"]["orbits"]["walkerDelta"].update(
        planes=planes, perPlane=satellites // planes
    )
    scale = satellites / REFERENCE_SATELLITES
    for document in documents[1:]:
        if document.get("kind") == "Job":
            spec = document["spec"]
            spec["parallelism"] = max(1, round(spec.get("parallelism", 1) * scale))
            spec["completions"] = max(1, round(spec.get("completions", 1) * scale))
    return documents


def raw_sgp4_rate(fleet: Fleet, start: Any, hours: float, step_seconds: float) -> float:
    """Satellite-steps per second of SatrecArray.sgp4 alone over `hours` of the run."""
    from sgp4.api import SatrecArray

    grid = TimeGrid.regular(start, hours * 3600.0, step_seconds)
    jd, fr = grid.jd_utc_parts()
    satrecs = [s.satrec for s in fleet.satellites]
    started = time.perf_counter()
    for where in fleet.chunks(chunk_size_for(grid)):
        SatrecArray(satrecs[where]).sgp4(jd, fr)
    return len(fleet) * len(grid) / (time.perf_counter() - started)


def child(args: argparse.Namespace) -> None:
    """One run in this (fresh) process; prints its measurements as JSON."""
    documents = shell_documents(args.child)
    scenario = parse_scenario(documents, f"walker-{args.child}")
    c = scenario.constellation
    duration = args.hours * 3600.0
    raw = raw_sgp4_rate(
        Fleet(c.satellites), c.clock.start_utc, min(args.raw_hours, args.hours),
        c.clock.step_seconds,
    )  # fmt: skip
    steps = round(duration / c.clock.step_seconds)
    started, cpu = time.perf_counter(), time.process_time()
    workers_mb, workers_cpu = 0.0, 0.0
    if len(c.satellites) <= args.domain_satellites:
        outcome = simulate(scenario, prepare(scenario, duration), POLICY)
        domains = 1
    else:
        parts = split(documents, scenario, duration, [POLICY], args.domain_satellites)
        executor = dask_executor(args.scheduler) if args.scheduler else local_executor(args.workers)
        result = run_split(scenario, parts, executor)
        outcome = result.outcomes[POLICY]
        domains = len(parts)
        workers_mb = max(float(d["peak_rss_mb"]) for d in result.domains)
        if args.workers > 1 or args.scheduler:  # the domains ran in other processes
            workers_cpu = sum(float(d["cpu_seconds"]) for d in result.domains)
    wall = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu + workers_cpu
    print(
        json.dumps(
            {
                "satellites": len(c.satellites),
                "steps": steps,
                "domains": domains,
                "wall_seconds": wall,
                "rate": len(c.satellites) * steps / wall,
                "cpu_seconds": cpu_seconds,
                "cpu_rate": len(c.satellites) * steps / cpu_seconds,
                "raw_sgp4_rate": raw,
                "peak_rss_mb": max(peak_rss_mb(), workers_mb),
                "parent_rss_mb": peak_rss_mb(),
                "goodput": outcome.goodput_ratio,
                "completed_gpu_hours": outcome.completed_gpu_seconds / 3600.0,
            }
        )
    )


def run_child(satellites: int, hours: float, args: argparse.Namespace, *extra: str) -> Any:
    command = [
        sys.executable, __file__, "--child", str(satellites), "--hours", f"{hours:g}",
        "--raw-hours", f"{args.raw_hours:g}", "--domain-satellites", str(args.domain_satellites),
        "--workers", str(args.local_workers), *extra,
    ]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def show(label: str, r: dict[str, Any]) -> None:
    print(
        f"  {label:<30}{r['wall_seconds']:9.1f} s{r['cpu_seconds']:9.1f} s"
        f"{r['peak_rss_mb']:9.0f} MB{r['rate']:14,.0f}{r['raw_sgp4_rate']:14,.0f}"
        f"{r['rate'] / r['raw_sgp4_rate']:8.3f}{r['cpu_rate'] / r['raw_sgp4_rate']:8.3f}"
        f"{r['goodput']:9.3f}"
    )


def dask_runs(args: argparse.Namespace) -> None:
    from distributed import LocalCluster

    n, hours = args.dask_satellites, args.dask_hours
    walls = {}
    for workers in args.dask_workers:
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            r = run_child(n, hours, args, "--scheduler", cluster.scheduler_address)
        walls[workers] = r["wall_seconds"]
        show(f"{n:,} x {hours:g} h, Dask {workers} worker{'s' * (workers > 1)}", r)
        ratio = r["rate"] / r["raw_sgp4_rate"]
        if ratio < TARGET_RATIO:
            print(f"    end-to-end / raw SGP4 {ratio:.3f} < the {TARGET_RATIO} target")
    if not {1, 2} <= walls.keys():
        return
    speedup = walls[1] / walls[2]
    verdict = "meets" if speedup >= TARGET_SPEEDUP else "misses"
    print(
        f"  Dask speedup 2 workers over 1: {speedup:.2f}x ({verdict} the {TARGET_SPEEDUP}x target)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--dask-satellites", type=int, default=100_000, help="0: skip")
    parser.add_argument("--dask-hours", type=float, default=24.0)
    parser.add_argument(
        "--dask-workers", type=int, nargs="+", default=[1, 2], help="Dask cluster sizes to run"
    )
    parser.add_argument("--domain-satellites", type=int, default=5000)
    parser.add_argument("--local-workers", type=int, default=2)
    parser.add_argument("--raw-hours", type=float, default=1.0)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--scheduler", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args)
        return 0
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
        f"{POLICY}, 10 s steps, domains of at most {args.domain_satellites:,} satellites"
    )
    print(
        f"  {'run':<30}{'wall':>11}{'CPU':>11}{'peak RSS':>12}{'sat-steps/s':>14}"
        f"{'raw SGP4':>14}{'ratio':>8}{'CPU r.':>8}{'goodput':>9}"
    )
    for n in [s for s in args.satellites if s > 0]:
        r = run_child(n, args.hours, args)
        where = f", {r['domains']} domains" if r["domains"] > 1 else ""
        show(f"{n:,} x {args.hours:g} h{where}", r)
        if n == 10_000 and args.hours == 24.0:
            ok = r["wall_seconds"] < TARGET_10K_SECONDS and r["peak_rss_mb"] < TARGET_10K_MB
            print(
                f"    target 10,000 x 24 h < {TARGET_10K_SECONDS:.0f} s and "
                f"{TARGET_10K_MB:.0f} MB: {'met' if ok else 'missed'}"
            )
        ratio = r["rate"] / r["raw_sgp4_rate"]
        if ratio < TARGET_RATIO:
            print(f"    end-to-end / raw SGP4 {ratio:.3f} < the {TARGET_RATIO} target")
    if args.dask_satellites > 0:
        dask_runs(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
