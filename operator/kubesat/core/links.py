"""SCAFFOLD (replaced by the real module at merge)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray

SPEED_OF_LIGHT_KM_S = 299792.458


class LinkTopology(Enum):
    GRID = "grid"
    FORMATION = "formation"


class GangPlacement(Enum):
    TOPOLOGY_AWARE = "topology-aware"
    IGNORE_LINKS = "ignore-links"


@dataclass(frozen=True)
class LinkSettings:
    topology: LinkTopology
    bandwidth_bps: float
    max_range_km: float
    grazing_height_km: float = 100.0
    full_rate_range_km: float | None = None
    intra_satellite_bps: float = 7.2e12
    hop_latency_seconds: float = 0.0


@dataclass(frozen=True)
class LinkState:
    pairs: NDArray[np.int64]
    up: NDArray[np.bool_]
    distance_km: NDArray[np.float64]
    bandwidth_bps: NDArray[np.float64]


@dataclass(frozen=True)
class RingExchange:
    bottleneck_bps: float
    latency_seconds: float
    connected: bool
    hops: int


def candidate_pairs(
    topology: LinkTopology, planes: NDArray[np.int64], phase_rad: NDArray[np.float64]
) -> NDArray[np.int64]:
    n = planes.size
    i, j = np.triu_indices(n, 1)
    return np.stack([i, j], axis=1).astype(np.int64)


def phase_rad_of(satellites: Sequence[object]) -> NDArray[np.float64]:
    return np.zeros(len(satellites))


def link_state(
    position_km: NDArray[np.float64], pairs: NDArray[np.int64], settings: LinkSettings
) -> LinkState:
    d = np.linalg.norm(position_km[pairs[:, 0]] - position_km[pairs[:, 1]], axis=1)
    up = d <= settings.max_range_km
    return LinkState(pairs, up, d, np.where(up, settings.bandwidth_bps, 0.0))


def ring_allreduce_seconds(
    gradient_bytes: float, members: int, bottleneck_bps: float, latency_seconds: float
) -> float:
    if members <= 1:
        return 0.0
    if bottleneck_bps <= 0:
        return math.inf
    return (
        2 * (members - 1) / members * 8 * gradient_bytes / bottleneck_bps
        + 2 * (members - 1) * latency_seconds
    )


def ring_exchange(
    state: LinkState, ring: Sequence[int], settings: LinkSettings, satellites: int
) -> RingExchange:
    bw = math.inf
    lat = 0.0
    for a, b in zip(ring, [*ring[1:], ring[0]], strict=True):
        if a == b:
            bw = min(bw, settings.intra_satellite_bps)
            continue
        k = np.flatnonzero(
            ((state.pairs[:, 0] == min(a, b)) & (state.pairs[:, 1] == max(a, b))) & state.up
        )
        if k.size == 0:
            return RingExchange(0.0, 0.0, False, 0)
        bw = min(bw, float(state.bandwidth_bps[k[0]]))
        lat = max(lat, float(state.distance_km[k[0]]) / SPEED_OF_LIGHT_KM_S)
    return RingExchange(bw, lat, True, 0)
