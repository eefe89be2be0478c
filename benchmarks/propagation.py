"""Sunlit flags for a Walker-delta fleet: kubesat's core against raw sgp4 + numpy, and memory.

    python benchmarks/propagation.py                    # 1000 satellites x 24 h at 10 s
    python benchmarks/propagation.py --memory-satellites 0 --repeats 5

Rates are satellite-steps per second (best of --repeats, the two measured alternately in
the same run, so load from other processes hits both alike):

- core: `kubesat.core.forecast.sunlit_flags(fleet, sky)` (chunked SGP4 through
  `SatrecArray`, conical shadow with the penumbra counted as not sunlit).
- raw:  `sgp4.api.SatrecArray.sgp4` over the same chunks of satellites plus a hand-written
  numpy cylindrical shadow test, the least a caller could do.

Both use the Sun of one `Sky.on(grid)` computed beforehand (its time is reported apart,
being a one-off per grid). The memory check runs `sunlit_flags` for --memory-satellites
(10,000) over the same day in a child process and reports its peak resident set.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

try:
    import kubesat  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from sgp4.api import SatrecArray

from kubesat.core.forecast import chunk_size_for, sunlit_flags
from kubesat.core.geometry import Sky
from kubesat.core.orbits import EARTH_RADIUS_KM, Fleet, walker_delta
from kubesat.core.timebase import TimeGrid

START = datetime(2026, 11, 24, tzinfo=UTC)  # the walker-1000 example's epoch
ALTITUDE_KM, INCLINATION_DEG = 550.0, 53.0
TARGET_RATIO = 0.6
TARGET_PEAK_MB = 300.0


def walker_fleet(satellites: int) -> Fleet:
    """A 550 km / 53° Walker-delta shell: the most planes <= sqrt(N) that divide N."""
    planes = max(d for d in range(1, math.isqrt(satellites) + 1) if satellites % d == 0)
    return Fleet(
        walker_delta(ALTITUDE_KM, INCLINATION_DEG, planes, satellites // planes, 1, START, "w")
    )


def day_grid(hours: float, step_seconds: float) -> TimeGrid:
    """`hours` of `step_seconds` steps: 24 h at 10 s is 8640 instants."""
    steps = round(hours * 3600.0 / step_seconds)
    return TimeGrid.regular(START, (steps - 1) * step_seconds, step_seconds)


def raw_sunlit(fleet: Fleet, grid: TimeGrid, sun_km: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Baseline: SatrecArray propagation and a cylindrical shadow, chunked like the core.

    Sunlit unless behind the Earth (r . s < 0) and within R of the Sun-Earth axis.
    """
    jd, fr = grid.jd_utc_parts()
    sun = sun_km / np.linalg.norm(sun_km, axis=1, keepdims=True)
    sx, sy, sz = sun[:, 0], sun[:, 1], sun[:, 2]
    out = np.empty((len(fleet), len(grid)), dtype=np.bool_)
    satrecs = [s.satrec for s in fleet.satellites]
    for where in fleet.chunks(chunk_size_for(grid)):
        _, r, _ = SatrecArray(satrecs[where]).sgp4(jd, fr)
        x, y, z = r[..., 0], r[..., 1], r[..., 2]
        along = x * sx + y * sy + z * sz
        off_axis_sq = x * x + y * y + z * z - along * along
        out[where] = (along > 0.0) | (off_axis_sq > EARTH_RADIUS_KM**2)
    return out


def best_of(repeats: int, runs: dict[str, Callable[[], Any]]) -> dict[str, tuple[float, Any]]:
    """Best wall time of each run over `repeats` rounds, the runs alternating in each round."""
    best: dict[str, tuple[float, Any]] = {}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            result = run()
            wall = time.perf_counter() - started
            if name not in best or wall < best[name][0]:
                best[name] = (wall, result)
    return best


def peak_rss_mb() -> float:
    """Peak resident set of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def memory_child(satellites: int, hours: float, step_seconds: float) -> None:
    """Run in a fresh process: sunlit flags of a large fleet, memory at each stage as JSON."""
    tracemalloc.start()
    fleet = walker_fleet(satellites)
    grid = day_grid(hours, step_seconds)
    tracemalloc.reset_peak()
    started = time.perf_counter()
    sky = Sky.on(grid)
    sky_seconds = time.perf_counter() - started
    sky_traced = tracemalloc.get_traced_memory()[1]
    rss_after_sky = peak_rss_mb()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    flags = sunlit_flags(fleet, sky)
    flags_seconds = time.perf_counter() - started
    flags_traced = tracemalloc.get_traced_memory()[1]
    print(
        json.dumps(
            {
                "satellites": satellites,
                "steps": len(grid),
                "chunk_satellites": chunk_size_for(grid),
                "result_mb": flags.nbytes / 2**20,
                "sky_seconds": sky_seconds,
                "flags_seconds": flags_seconds,
                "sky_traced_peak_mb": sky_traced / 2**20,
                "flags_traced_peak_mb": flags_traced / 2**20,
                "peak_rss_after_sky_mb": rss_after_sky,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def measure_memory(satellites: int, hours: float, step_seconds: float) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-child",
        "--memory-satellites",
        str(satellites),
        "--hours",
        str(hours),
        "--step",
        str(step_seconds),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, default=1000, help="rate fleet (1000)")
    parser.add_argument("--hours", type=float, default=24.0, help="span (24)")
    parser.add_argument("--step", type=float, default=10.0, help="step, seconds (10)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds, best kept (3)")
    parser.add_argument(
        "--memory-satellites", type=int, default=10_000, help="memory fleet, 0 to skip (10000)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_satellites, args.hours, args.step)
        return 0

    fleet = walker_fleet(args.satellites)
    grid = day_grid(args.hours, args.step)
    work = len(fleet) * len(grid)
    print(
        f"sunlit flags: {len(fleet)} satellites x {len(grid)} steps ({args.hours:g} h at "
        f"{args.step:g} s) = {work / 1e6:.2f} M satellite-steps; best of {args.repeats}"
    )
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    started = time.perf_counter()
    sky = Sky.on(grid)
    print(f"  Sky.on(grid), once per grid (excluded): {time.perf_counter() - started:8.2f} s")

    best = best_of(
        args.repeats,
        {
            "core": lambda: sunlit_flags(fleet, sky),
            "raw": lambda: raw_sunlit(fleet, grid, sky.sun_teme_km),
        },
    )
    core_wall, core_flags = best["core"]
    raw_wall, raw_flags = best["raw"]
    core_rate, raw_rate = work / core_wall, work / raw_wall
    ratio = core_rate / raw_rate
    print(
        f"  core  sunlit_flags (conical)             {core_wall:8.2f} s {core_rate / 1e6:7.2f} M/s"
    )
    print(f"  raw   SatrecArray.sgp4 + cylinder        {raw_wall:8.2f} s {raw_rate / 1e6:7.2f} M/s")
    verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"  ratio core / raw: {ratio:.2f} (target >= {TARGET_RATIO}: {verdict})")
    differ = float(np.mean(core_flags != raw_flags))
    print(
        f"  sunlit fraction core {core_flags.mean():.4f}, raw {raw_flags.mean():.4f}; "
        f"steps that differ {100 * differ:.2f}% (penumbra and cone vs cylinder)"
    )

    ok = ratio >= TARGET_RATIO
    if args.memory_satellites > 0:
        m = measure_memory(args.memory_satellites, args.hours, args.step)
        print(
            f"memory: {m['satellites']} satellites x {m['steps']} steps through the core, "
            f"in a child process (chunks of {m['chunk_satellites']} satellites)"
        )
        print(
            f"  Sky.on {m['sky_seconds']:.2f} s, numpy peak {m['sky_traced_peak_mb']:.0f} MB; "
            f"sunlit_flags {m['flags_seconds']:.1f} s "
            f"({m['satellites'] * m['steps'] / m['flags_seconds'] / 1e6:.2f} M/s), "
            f"numpy peak {m['flags_traced_peak_mb']:.0f} MB incl. the "
            f"{m['result_mb']:.0f} MB result"
        )
        verdict = "ok" if m["peak_rss_mb"] < TARGET_PEAK_MB else "ABOVE TARGET"
        print(
            f"  peak RSS {m['peak_rss_mb']:.0f} MB (after Sky.on: "
            f"{m['peak_rss_after_sky_mb']:.0f} MB; target < {TARGET_PEAK_MB:.0f} MB: {verdict})"
        )
        ok = ok and m["peak_rss_mb"] < TARGET_PEAK_MB
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
