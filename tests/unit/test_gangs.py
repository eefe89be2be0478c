"""Gang placement and step time on a ring of 12 satellites linked fore and aft, whose
answers follow by hand from the ring all-reduce formula."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kubesat.core.gangs import gang_step, place_gang
from kubesat.core.links import (
    GBPS,
    SPEED_OF_LIGHT_KM_S,
    GangPlacement,
    LinkSettings,
    LinkTopology,
    candidate_pairs,
    link_state,
)

RADIUS_KM = 6913.0  # 535 km up
SETTINGS = LinkSettings(LinkTopology.GRID, 100 * GBPS, max_range_km=5000.0)
GRADIENT_BYTES = 1.25e9  # 10 Gbit: 2(N-1)/N x 0.1 s over a 100 Gbps ring
COMPUTE_SECONDS = 1.0


def ring_state():
    angles = np.radians(np.arange(12) * 30.0)
    position = np.stack(
        [RADIUS_KM * np.cos(angles), RADIUS_KM * np.sin(angles), np.zeros(12)], axis=1
    )
    pairs = candidate_pairs(LinkTopology.GRID, np.zeros(12, np.int64), angles)
    return link_state(position, pairs, SETTINGS)


CHORD_KM = 2 * RADIUS_KM * math.sin(math.radians(15.0))


def test_a_ring_of_neighbours_exchanges_at_the_link_rate() -> None:
    step = gang_step(np.array([0, 1, 2, 3]), 1.0, GRADIENT_BYTES, ring_state(), SETTINGS, 12)
    # the wrap hop 3 -> 0 goes back over three links, the other way round (full duplex)
    expected = 2 * 3 / 4 * 8 * GRADIENT_BYTES / (100 * GBPS)
    expected += 2 * 3 * 3 * CHORD_KM / SPEED_OF_LIGHT_KM_S
    assert step.exchange_seconds == pytest.approx(expected)
    assert step.compute_fraction == pytest.approx(1.0 / (1.0 + expected))


def test_without_links_members_on_two_satellites_never_exchange() -> None:
    step = gang_step(np.array([0, 1]), 1.0, GRADIENT_BYTES, None, None, 12)
    assert math.isinf(step.exchange_seconds) and step.compute_fraction == 0.0
    alone = gang_step(np.array([5, 5]), 1.0, GRADIENT_BYTES, None, None, 12)
    assert alone.exchange_seconds == 0.0 and alone.compute_fraction == 1.0


def test_topology_aware_placement_takes_adjacent_satellites() -> None:
    capacity = np.ones(12, np.int64)
    # the scheduler's scores favour satellites spread around the ring
    points = np.zeros(12)
    points[[0, 6, 3, 9]] = 1.0
    state = ring_state()
    aware = place_gang(
        4, capacity, points, GangPlacement.TOPOLOGY_AWARE, 1.0, GRADIENT_BYTES, state, SETTINGS
    )
    blind = place_gang(
        4, capacity, points, GangPlacement.IGNORE_LINKS, 1.0, GRADIENT_BYTES, state, SETTINGS
    )
    assert aware is not None and blind is not None
    ring, step = aware
    chain = sorted(int(s) for s in ring)
    # four neighbours on the ring (possibly across the 11 -> 0 seam)
    gaps = np.diff(np.r_[chain, chain[0] + 12])
    assert sorted(gaps.tolist())[:3] == [1, 1, 1]
    assert sorted(int(s) for s in blind[0]) == [0, 3, 6, 9]
    # the spread ring's hops span three links each: three times the light time
    assert blind[1].exchange_seconds > step.exchange_seconds
    assert blind[1].exchange_seconds - step.exchange_seconds == pytest.approx(
        2 * 3 * (3 - 2) * CHORD_KM / SPEED_OF_LIGHT_KM_S, rel=0.01
    )


def test_one_satellite_that_holds_the_gang_is_preferred() -> None:
    capacity = np.array([1, 1, 1, 1, 4, 0, 0, 0, 0, 0, 0, 0], np.int64)
    placed = place_gang(
        4,
        capacity,
        np.arange(12.0),
        GangPlacement.TOPOLOGY_AWARE,
        1.0,
        GRADIENT_BYTES,
        ring_state(),
        SETTINGS,
    )
    assert placed is not None
    assert placed[0].tolist() == [4, 4, 4, 4]
    # over the satellite's own fabric only
    nvlink = 2 * 3 / 4 * 8 * GRADIENT_BYTES / SETTINGS.intra_satellite_bps
    assert placed[1].exchange_seconds == pytest.approx(nvlink)


def test_no_placement_without_room_or_without_a_linked_set() -> None:
    state = ring_state()
    capacity = np.zeros(12, np.int64)
    capacity[[0, 6]] = 1
    points = np.zeros(12)
    args = (COMPUTE_SECONDS, GRADIENT_BYTES, state, SETTINGS)
    assert place_gang(3, capacity, points, GangPlacement.TOPOLOGY_AWARE, *args) is None
    # 0 and 6 hold two members with full satellites between them: the links of those
    # satellites still carry the gradients, six hops each way
    placed = place_gang(2, capacity, points, GangPlacement.TOPOLOGY_AWARE, *args)
    assert placed is not None and sorted(placed[0].tolist()) == [0, 6]
    assert placed[1].exchange_seconds == pytest.approx(
        2 * 1 / 2 * 8 * GRADIENT_BYTES / (100 * GBPS) + 2 * 6 * CHORD_KM / SPEED_OF_LIGHT_KM_S
    )
    # with every link down (all satellites at the Earth's centre: no line of sight) no
    # path joins them
    cut = link_state(np.zeros((12, 3)), state.pairs, SETTINGS)
    assert not cut.up.any()
    assert (
        place_gang(2, capacity, points, GangPlacement.TOPOLOGY_AWARE, 1.0, 1.0, cut, SETTINGS)
        is None
    )
