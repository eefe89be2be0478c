"""Optical links between satellites: which pairs may link, which are up, and what a ring
all-reduce over them costs.

Two topologies: a Walker "+grid" (each satellite links fore and aft in its plane and to the
nearest-phase satellite of each adjacent plane, the usual four-terminal layout) and a
formation (every pair within range, as in Google's Suncatcher cluster of 81 satellites
within about 1 km). A link is up when its ends are within range and the line between them
clears the Earth plus a grazing height (the dense atmosphere bends and absorbs the beam).
Pure numpy over satellites and pairs; the fleet engine asks once per step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.orbits import EARTH_RADIUS_KM, SatelliteOrbit

SPEED_OF_LIGHT_KM_S: Final = 299_792.458  # exact, SI definition of the metre
BITS_PER_BYTE: Final = 8
GBPS: Final = 1e9
# NVLink 4 (H100 SXM): 900 GB/s of GPU-to-GPU bandwidth per GPU (NVIDIA H100 datasheet)
NVLINK_BPS: Final = 900e9 * BITS_PER_BYTE
DEFAULT_GRAZING_HEIGHT_KM: Final = 100.0  # the Karman line: the beam stays above the air
TWO_PI: Final = 2.0 * math.pi
MIN_PLANES_TO_WRAP: Final = 3  # with two planes, "next of the last" is the first again
MIN_IN_PLANE_TO_WRAP: Final = 3  # with two satellites in a plane, fore and aft are one link


class LinkTopology(Enum):
    """Which pairs of satellites carry a laser terminal pointed at each other."""

    GRID = "grid"  # Walker +grid: fore, aft, and the nearest in each adjacent plane
    FORMATION = "formation"  # every pair within range (a compact cluster)


class GangPlacement(Enum):
    """How the engine places the members of a gang job."""

    TOPOLOGY_AWARE = "topology-aware"  # keep members close over links that are up
    IGNORE_LINKS = "ignore-links"  # place as single pods, links only cost time


@dataclass(frozen=True)
class LinkSettings:
    """Inter-satellite links of a constellation (spec.links).

    `full_rate_range_km`: None, a link in range carries its full bandwidth; else beyond
    that range the rate falls as (full_rate_range_km / distance)^2, as received optical
    power does with distance. `intra_satellite_bps` joins GPUs of one satellite (NVLink
    class, 900 GB/s). `hop_latency_seconds`: switching delay added per link traversed.
    """

    topology: LinkTopology
    bandwidth_bps: float
    max_range_km: float = 5000.0
    grazing_height_km: float = DEFAULT_GRAZING_HEIGHT_KM
    full_rate_range_km: float | None = None
    intra_satellite_bps: float = NVLINK_BPS
    hop_latency_seconds: float = 0.0

    def __post_init__(self) -> None:
        """Reject rates and ranges that are not positive, heights and delays below 0."""
        if not isinstance(self.topology, LinkTopology):
            raise ValueError(f"topology: must be grid or formation, got {self.topology!r}")
        positive = {
            "bandwidthGbps": self.bandwidth_bps / GBPS,
            "maxRangeKm": self.max_range_km,
            "intraSatelliteGbps": self.intra_satellite_bps / GBPS,
        }
        if self.full_rate_range_km is not None:
            positive["fullRateRangeKm"] = self.full_rate_range_km
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: must be > 0, got {value:g}")
        for name, value in {
            "grazingHeightKm": self.grazing_height_km,
            "hopLatencySeconds": self.hop_latency_seconds,
        }.items():
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: must be >= 0, got {value:g}")


@dataclass(frozen=True)
class LinkState:
    """The candidate links at one instant: which are up, how long, how fast."""

    pairs: NDArray[np.int64]  # (P, 2) satellite indices, i < j, sorted
    up: NDArray[np.bool_]  # (P,)
    distance_km: NDArray[np.float64]  # (P,)
    bandwidth_bps: NDArray[np.float64]  # (P,), 0 when down


@dataclass(frozen=True)
class RingExchange:
    """What a ring of gang members gets from the links: its slowest hop.

    `bottleneck_bps`: the smallest bandwidth any ring hop gets (links shared by several
    hops split their rate); `latency_seconds`: the slowest hop's light time plus switching;
    `hops`: the distinct physical links the ring uses.
    """

    bottleneck_bps: float
    latency_seconds: float
    connected: bool
    hops: int


def phase_rad_of(satellites: Sequence[SatelliteOrbit]) -> NDArray[np.float64]:
    """Argument of latitude at epoch (mean anomaly + argument of perigee), in [0, 2 pi)."""
    phase = np.array([float(s.satrec.mo) + float(s.satrec.argpo) for s in satellites])
    return np.asarray(np.mod(phase, TWO_PI), dtype=np.float64)


def _as_pairs(i: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray[np.int64]:
    """Unique sorted (P, 2) pairs with the smaller index first, self-pairs dropped."""
    low, high = np.minimum(i, j), np.maximum(i, j)
    keep = low != high
    pairs = np.stack([low[keep], high[keep]], axis=1).astype(np.int64)
    if len(pairs) == 0:
        return np.zeros((0, 2), np.int64)
    return np.unique(pairs, axis=0)


def candidate_pairs(
    topology: LinkTopology, planes: NDArray[np.int64], phase_rad: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Pairs (P, 2), i < j, sorted, that carry a terminal pointed at each other.

    Grid: within each plane, satellites in phase order link to the next (closing the ring
    when the plane holds 3 or more); each satellite links to the nearest-phase satellite of
    the next plane in plane order (the last plane links to the first only with 3 or more
    planes). Formation: every pair.
    """
    planes = np.asarray(planes, dtype=np.int64)
    phase = np.mod(np.asarray(phase_rad, dtype=np.float64), TWO_PI)
    n = len(planes)
    if topology is LinkTopology.FORMATION:
        i, j = np.triu_indices(n, 1)
        return np.stack([i, j], axis=1).astype(np.int64)
    members = {int(p): np.flatnonzero(planes == p) for p in np.unique(planes)}
    members = {p: m[np.argsort(phase[m], kind="stable")] for p, m in members.items()}
    first: list[NDArray[np.int64]] = []
    second: list[NDArray[np.int64]] = []
    for ring in members.values():
        if len(ring) >= MIN_IN_PLANE_TO_WRAP:
            first.append(ring)
            second.append(np.roll(ring, -1))
        elif len(ring) == 2:  # a plane of two: one link, fore and aft
            first.append(ring[:1])
            second.append(ring[1:])
    order = sorted(members)
    neighbours = list(itertools.pairwise(order))
    if len(order) >= MIN_PLANES_TO_WRAP:
        neighbours.append((order[-1], order[0]))
    for here, there in neighbours:
        a, b = members[here], members[there]
        gap = np.abs(np.angle(np.exp(1j * (phase[a][:, None] - phase[b][None, :]))))
        first.append(a)
        second.append(b[np.argmin(gap, axis=1)])
    if not first:
        return np.zeros((0, 2), np.int64)
    return _as_pairs(np.concatenate(first), np.concatenate(second))


def line_of_sight(
    a_km: NDArray[np.float64], b_km: NDArray[np.float64], grazing_height_km: float
) -> NDArray[np.bool_]:
    """Whether the segment a-b stays above the Earth plus `grazing_height_km` everywhere.

    Arrays (..., 3) in one Earth-centred frame; the segment's closest point to the centre
    (clamped to the segment) is compared with the grazing radius.
    """
    a = np.asarray(a_km, dtype=np.float64)
    d = np.asarray(b_km, dtype=np.float64) - a
    length2 = np.einsum("...i,...i->...", d, d)
    along = -np.einsum("...i,...i->...", a, d)
    t = np.clip(np.divide(along, length2, out=np.zeros_like(along), where=length2 > 0), 0, 1)
    closest = a + t[..., None] * d
    radius = EARTH_RADIUS_KM + grazing_height_km
    return np.asarray(np.einsum("...i,...i->...", closest, closest) >= radius * radius)


def link_state(
    position_km: NDArray[np.floating], pairs: NDArray[np.int64], settings: LinkSettings
) -> LinkState:
    """Which candidate `pairs` are up at positions (N, 3): in range and in line of sight.

    Positions may also be (N, T, 3): the arrays of the state are then (P, T).
    """
    position = np.asarray(position_km, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    a, b = position[pairs[:, 0]], position[pairs[:, 1]]
    distance = np.linalg.norm(b - a, axis=-1)
    up = (distance <= settings.max_range_km) & line_of_sight(a, b, settings.grazing_height_km)
    rate = np.full(distance.shape, settings.bandwidth_bps)
    if settings.full_rate_range_km is not None:
        far = distance > settings.full_rate_range_km
        safe = np.where(far, distance, 1.0)
        rate = np.where(far, rate * (settings.full_rate_range_km / safe) ** 2, rate)
    return LinkState(pairs, up, distance, np.where(up, rate, 0.0))


def neighbour_counts(state: LinkState, satellites: int) -> NDArray[np.int64]:
    """Links up per satellite (N,)."""
    ends = state.pairs[np.asarray(state.up, dtype=np.bool_)].ravel()
    return np.bincount(ends, minlength=satellites).astype(np.int64)


def ring_allreduce_seconds(
    gradient_bytes: float, members: int, bottleneck_bps: float, latency_seconds: float
) -> float:
    """Time of a ring all-reduce of `gradient_bytes` over `members`.

    Reduce-scatter then all-gather: 2 (N - 1) steps, each moving 1/N of the gradient over
    the slowest hop (Patarasuk and Yuan 2009): 2 (N-1)/N x 8 x bytes / bottleneck plus
    2 (N - 1) hop latencies.
    """
    if members <= 1:
        return 0.0
    if bottleneck_bps <= 0:
        return math.inf
    steps = 2 * (members - 1)
    volume_bits = steps / members * BITS_PER_BYTE * gradient_bytes
    return volume_bits / bottleneck_bps + steps * latency_seconds


def _link_keys(pairs: NDArray[np.int64], satellites: int) -> NDArray[np.int64]:
    return pairs[:, 0] * satellites + pairs[:, 1]


def _paths(
    state: LinkState, satellites: int, sources: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Predecessors from each source over the links up: fewest hops, then shortest."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    up = np.asarray(state.up, dtype=np.bool_)
    pairs, distance = state.pairs[up], state.distance_km[up]
    # one unit per hop plus the distance scaled below one unit over any path: fewest hops
    # win, distance breaks ties
    scale = float(distance.sum()) + 1.0
    weight = 1.0 + distance / scale
    graph = csr_matrix(
        (
            np.concatenate([weight, weight]),
            (np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]]),
        ),
        shape=(satellites, satellites),
    )
    cost, predecessors = dijkstra(graph, indices=sources, return_predecessors=True)
    return np.asarray(predecessors, dtype=np.int64), np.asarray(cost, dtype=np.float64)


def ring_exchange(
    state: LinkState, ring: Sequence[int], settings: LinkSettings, satellites: int
) -> RingExchange:
    """The bottleneck and latency of a ring of members on satellites `ring` (in order).

    Consecutive members on one satellite exchange over `intra_satellite_bps` with no
    latency; others over the shortest path of links up (fewest hops, then shortest
    distance). Links are full duplex: a link carrying k ring hops in one direction gives
    each 1/k of its rate in that direction. A ring of one
    member exchanges nothing: its bottleneck is the intra-satellite rate. A hop without a
    path leaves the ring disconnected: bottleneck 0 (its all-reduce never ends).
    """
    members = np.asarray(ring, dtype=np.int64)
    m = len(members)
    if m <= 1:
        return RingExchange(settings.intra_satellite_bps, 0.0, True, 0)
    sources, targets = members, np.roll(members, -1)
    remote = np.flatnonzero(sources != targets)
    keys = _link_keys(state.pairs, satellites)
    up = np.asarray(state.up, dtype=np.bool_)
    low, high = np.minimum(sources, targets), np.maximum(sources, targets)
    wanted = low * satellites + high
    where = np.clip(np.searchsorted(keys, wanted), 0, max(len(keys) - 1, 0))
    direct = (keys[where] == wanted) & up[where] if len(keys) else np.zeros(m, np.bool_)
    # (link, direction) per hop: direction 1 when the hop runs from the pair's higher index
    routes: dict[int, list[tuple[int, int]]] = {
        int(h): [(int(where[h]), int(sources[h] > targets[h]))] for h in remote if direct[h]
    }
    routed = [int(h) for h in remote if not direct[h]]
    if routed:
        origins = np.unique(sources[routed])
        predecessors, _ = _paths(state, satellites, origins)
        row_of = {int(s): r for r, s in enumerate(origins)}
        for h in routed:
            row = predecessors[row_of[int(sources[h])]]
            node, path = int(targets[h]), []
            while node != int(sources[h]):
                before = int(row[node])
                if before < 0:
                    return RingExchange(0.0, 0.0, False, 0)
                key = min(node, before) * satellites + max(node, before)
                path.append((int(np.searchsorted(keys, key)), int(before > node)))
                node = before
            routes[h] = path
    load = np.zeros((len(keys), 2), np.int64)
    for path in routes.values():
        hops = np.asarray(path, dtype=np.int64)
        np.add.at(load, (hops[:, 0], hops[:, 1]), 1)
    bottleneck, latency = math.inf, 0.0
    if len(remote) < m:
        bottleneck = settings.intra_satellite_bps
    for path in routes.values():
        hops = np.asarray(path, dtype=np.int64)
        links = hops[:, 0]
        shared = load[links, hops[:, 1]]
        bottleneck = min(bottleneck, float(np.min(state.bandwidth_bps[links] / shared)))
        hop_latency = float(
            np.sum(state.distance_km[links]) / SPEED_OF_LIGHT_KM_S
            + len(links) * settings.hop_latency_seconds
        )
        latency = max(latency, hop_latency)
    return RingExchange(bottleneck, latency, True, int(np.count_nonzero(load.any(axis=1))))
