"""Cost of the links between satellites per engine step: the link state of a fleet and the
ring exchange of one gang over it.

Two fleets: a Walker +grid of 1,000 satellites (25 planes x 40, 550 km, 53 deg, links of
up to 5,000 km) and a formation of 500 (every pair, 2 km radius). For each, the time of
`link_state` (once per step) and of `ring_exchange` for a ring of --members members on
random satellites (once per step per running gang), best of --repeats, and their ratio:
what one gang adds to the per-step link state the engine computes anyway.

    python benchmarks/links.py [--members 100] [--repeats 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

try:
    import kubesat  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))

from kubesat.core.links import (
    LinkSettings,
    LinkTopology,
    candidate_pairs,
    link_state,
    phase_rad_of,
    ring_exchange,
)
from kubesat.core.orbits import Fleet, formation, walker_delta
from kubesat.core.timebase import TimeGrid

EPOCH = datetime(2026, 3, 1, tzinfo=UTC)


def best_seconds(call: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def measure(name: str, fleet: Fleet, settings: LinkSettings, members: int, repeats: int) -> None:
    planes = fleet.planes
    pairs = candidate_pairs(settings.topology, planes, phase_rad_of(fleet.satellites))
    position = fleet.teme_km(TimeGrid(EPOCH, np.array([0.0])))[:, 0]
    state = link_state(position, pairs, settings)
    rng = np.random.default_rng(0)
    ring = rng.choice(len(fleet), size=members, replace=False).tolist()
    exchange = ring_exchange(state, ring, settings, len(fleet))
    state_s = best_seconds(lambda: link_state(position, pairs, settings), repeats)
    ring_s = best_seconds(lambda: ring_exchange(state, ring, settings, len(fleet)), repeats)
    print(
        f"{name}: {len(fleet)} satellites, {len(pairs):,} candidate links, "
        f"{int(state.up.sum()):,} up; ring of {members}: connected {exchange.connected}, "
        f"{exchange.hops} links, bottleneck {exchange.bottleneck_bps / 1e9:.1f} Gbit/s, "
        f"latency {exchange.latency_seconds * 1e3:.2f} ms"
    )
    print(
        f"  link_state {state_s * 1e3:.2f} ms, ring_exchange {ring_s * 1e3:.2f} ms, "
        f"ratio ring / state {ring_s / state_s:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    grid = Fleet(walker_delta(550.0, 53.0, 25, 40, 1, EPOCH))
    measure(
        "walker +grid",
        grid,
        LinkSettings(LinkTopology.GRID, 100e9, max_range_km=5000.0),
        args.members,
        args.repeats,
    )
    cluster = Fleet(formation(650.0, 18.0, 500, 2.0, EPOCH))
    measure(
        "formation",
        cluster,
        LinkSettings(LinkTopology.FORMATION, 1600e9, max_range_km=1.0),
        args.members,
        args.repeats,
    )


if __name__ == "__main__":
    main()
