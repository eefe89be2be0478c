"""Where a gang (a distributed training job) runs, and how long its training step takes.

A gang's members exchange gradients every step by ring all-reduce, so the step lasts
compute + 2(N-1)/N x bytes / the slowest hop of the ring + the latency terms. Members on
one satellite talk over its GPU interconnect; members on different satellites over the
laser links between them (`core.links`). Topology-aware placement grows the gang from a
seed satellite along links that are up, nearest first, packing members onto each
satellite the policy allows, and keeps the seed whose ring exchanges fastest; placement
that ignores links takes the policy's best-scored satellites in order, as a scheduler
placing pods one by one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.links import (
    GangPlacement,
    LinkSettings,
    LinkState,
    RingExchange,
    ring_allreduce_seconds,
    ring_exchange,
)

SEEDS: Final = 64  # seed satellites tried by topology-aware placement (best scored first)


@dataclass(frozen=True)
class GangStep:
    """A gang's training step on its satellites."""

    compute_seconds: float
    exchange_seconds: float  # inf when a member cannot reach the next one

    @property
    def seconds(self) -> float:
        return self.compute_seconds + self.exchange_seconds

    @property
    def compute_fraction(self) -> float:
        """The share of wall time that is useful compute (0 when the ring is broken)."""
        if not math.isfinite(self.exchange_seconds):
            return 0.0
        return self.compute_seconds / self.seconds


def gang_step(
    ring: NDArray[np.int64],
    compute_seconds: float,
    gradient_bytes: float,
    links: LinkState | None,
    settings: LinkSettings | None,
    satellites: int,
) -> GangStep:
    """The step of a gang whose member i runs on satellite ring[i]."""
    exchange = _exchange(ring, links, settings, satellites)
    if not exchange.connected:
        return GangStep(compute_seconds, math.inf)
    seconds = ring_allreduce_seconds(
        gradient_bytes, int(ring.size), exchange.bottleneck_bps, exchange.latency_seconds
    )
    return GangStep(compute_seconds, seconds)


def _exchange(
    ring: NDArray[np.int64],
    links: LinkState | None,
    settings: LinkSettings | None,
    satellites: int,
) -> RingExchange:
    if links is None or settings is None:
        # no laser links: members can only talk within one satellite
        if np.unique(ring).size <= 1:
            return RingExchange(math.inf, 0.0, True, 0)
        return RingExchange(0.0, 0.0, False, 0)
    return ring_exchange(links, [int(s) for s in ring], settings, satellites)


def _ring(order: list[int], capacity: NDArray[np.int64], members: int) -> NDArray[np.int64]:
    """Members packed onto the satellites of `order`, each filled before the next."""
    satellites = np.asarray(order, np.int64)
    return np.repeat(satellites, capacity[satellites])[:members].astype(np.int64)


def place_gang(
    members: int,
    capacity: NDArray[np.int64],
    points: NDArray[np.float64],
    placement: GangPlacement,
    compute_seconds: float,
    gradient_bytes: float,
    links: LinkState | None,
    settings: LinkSettings | None,
) -> tuple[NDArray[np.int64], GangStep] | None:
    """The satellite of each member (ring order) and the step there; None when the
    satellites the policy allows cannot hold the gang (or, topology-aware, no linked set
    of them can)."""
    n = capacity.size
    usable = np.flatnonzero(capacity > 0)
    if int(capacity[usable].sum()) < members:
        return None
    ranked = usable[np.argsort(-points[usable], kind="stable")]

    def step_of(ring: NDArray[np.int64]) -> GangStep:
        return gang_step(ring, compute_seconds, gradient_bytes, links, settings, n)

    if placement is GangPlacement.IGNORE_LINKS:
        ring = _ring([int(s) for s in ranked], capacity, members)
        return ring, step_of(ring)
    whole = ranked[capacity[ranked] >= members]
    if whole.size:  # one satellite holds every member: its interconnect is the fastest
        ring = np.full(members, int(whole[0]), np.int64)
        return ring, step_of(ring)
    if links is None or settings is None:
        return None
    best: tuple[float, float, NDArray[np.int64], GangStep] | None = None
    adjacency, distance = _adjacency(links, n)
    for seed in ranked[:SEEDS]:
        order = _grow(int(seed), capacity, adjacency, distance, members)
        if order is None:
            continue
        ring = _ring(_zigzag(order), capacity, members)
        step = step_of(ring)
        if not math.isfinite(step.exchange_seconds):
            continue
        key = (step.seconds, -float(points[np.unique(ring)].sum()))
        if best is None or key < best[:2]:
            best = (key[0], key[1], ring, step)
    if best is None:
        # no chain of satellites with room: members may still reach each other through
        # the links of satellites without room (they forward traffic)
        ring = _ring([int(s) for s in ranked], capacity, members)
        step = step_of(ring)
        return (ring, step) if math.isfinite(step.exchange_seconds) else None
    return best[2], best[3]


def _zigzag(chain: list[int]) -> list[int]:
    """A ring over a chain of satellites with no long hop: every other one going out,
    the rest coming back (1, 3, 5, ..., 6, 4, 2), so each hop spans at most two links."""
    return chain[0::2] + chain[1::2][::-1]


def _adjacency(links: LinkState, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(n, n) bandwidth and length of the links that are up (bandwidth 0: no link)."""
    bandwidth = np.zeros((n, n))
    distance = np.full((n, n), np.inf)
    up = links.up
    a, b = links.pairs[up, 0], links.pairs[up, 1]
    bandwidth[a, b] = bandwidth[b, a] = links.bandwidth_bps[up]
    distance[a, b] = distance[b, a] = links.distance_km[up]
    return bandwidth, distance


def _grow(
    seed: int,
    capacity: NDArray[np.int64],
    adjacency: NDArray[np.float64],
    distance: NDArray[np.float64],
    members: int,
) -> list[int] | None:
    """Satellites from `seed` along up links until they hold `members`: each next one is
    the widest, then nearest, link of the last one added (of any one added, when the last
    has no free neighbour), so the ring follows the chain."""
    order = [seed]
    held = int(capacity[seed])
    free = capacity > 0
    free[seed] = False
    while held < members:
        ends = np.array([order[-1]], np.int64)
        candidates = np.flatnonzero((adjacency[order[-1]] > 0) & free)
        if candidates.size == 0:
            ends = np.array(order, np.int64)
            candidates = np.flatnonzero((adjacency[order] > 0).any(axis=0) & free)
            if candidates.size == 0:
                return None
        width = adjacency[np.ix_(ends, candidates)].max(axis=0)
        length = distance[np.ix_(ends, candidates)].min(axis=0)
        nxt = int(candidates[np.lexsort((length, -width))[0]])
        order.append(nxt)
        free[nxt] = False
        held += int(capacity[nxt])
    return order
