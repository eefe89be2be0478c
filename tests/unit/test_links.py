"""Links between satellites: line of sight, the pairs of each topology, link state and the
cost of a ring all-reduce over the links, against answers worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from kubesat.core.links import (
    NVLINK_BPS,
    SPEED_OF_LIGHT_KM_S,
    LinkSettings,
    LinkState,
    LinkTopology,
    candidate_pairs,
    line_of_sight,
    link_state,
    neighbour_counts,
    phase_rad_of,
    ring_allreduce_seconds,
    ring_exchange,
)
from kubesat.core.orbits import EARTH_RADIUS_KM, Fleet, formation, walker_delta
from kubesat.core.timebase import TimeGrid

EPOCH = datetime(2026, 3, 1, tzinfo=UTC)
ORBIT_RADIUS_KM = EARTH_RADIUS_KM + 550.0
GBPS = 1e9


def on_circle(angles_deg: list[float] | np.ndarray, radius_km: float = ORBIT_RADIUS_KM):
    """Positions (N, 3) on a circle in the equatorial plane."""
    angles = np.radians(np.asarray(angles_deg, dtype=np.float64))
    return np.stack([radius_km * np.cos(angles), radius_km * np.sin(angles), 0 * angles], -1)


def chord_km(angle_deg: float, radius_km: float = ORBIT_RADIUS_KM) -> float:
    return 2.0 * radius_km * math.sin(math.radians(angle_deg) / 2.0)


# -- line of sight -------------------------------------------------------------------------


def test_opposite_sides_of_the_earth_do_not_see_each_other():
    a, b = on_circle([0.0, 180.0])
    assert not line_of_sight(a, b, 100.0)
    assert not line_of_sight(a, b, 0.0)


def test_two_satellites_500_km_apart_at_550_km_see_each_other():
    angle = math.degrees(2 * math.asin(250.0 / ORBIT_RADIUS_KM))
    a, b = on_circle([0.0, angle])
    assert np.linalg.norm(b - a) == pytest.approx(500.0)
    # the line's lowest point, its middle, is at sqrt(r^2 - 250^2) - R = 545.5 km
    assert line_of_sight(a, b, 100.0)
    assert line_of_sight(a, b, 545.0)
    assert not line_of_sight(a, b, 546.0)


def test_the_grazing_height_decides_a_borderline_case():
    # both at 550 km, separated so that the middle of the line is 80 km above the Earth:
    # cos(theta / 2) = (R + 80) / (R + 550), a chord of 2 sqrt(6928.137^2 - 6458.137^2)
    # = 5016.6 km
    half = math.acos((EARTH_RADIUS_KM + 80.0) / ORBIT_RADIUS_KM)
    a, b = on_circle([0.0, math.degrees(2 * half)])
    assert np.linalg.norm(b - a) == pytest.approx(5016.6, abs=0.1)
    assert line_of_sight(a, b, 50.0)
    assert line_of_sight(a, b, 79.9)
    assert not line_of_sight(a, b, 80.1)
    assert not line_of_sight(a, b, 100.0)


def test_line_of_sight_is_clamped_to_the_segment_and_vectorised():
    # the line through two satellites on one side dips through the Earth beyond them,
    # the segment between them does not
    a = np.array([ORBIT_RADIUS_KM, 0.0, 0.0])
    b = np.array([ORBIT_RADIUS_KM + 100.0, 0.0, 0.0])
    assert line_of_sight(a, b, 100.0)
    same = np.broadcast_to(a, (4, 5, 3))
    assert line_of_sight(same, same, 100.0).shape == (4, 5)
    assert line_of_sight(same, same, 100.0).all()


# -- pairs of each topology ----------------------------------------------------------------


def test_grid_pairs_of_a_3x4_walker_shell():
    shell = walker_delta(550.0, 53.0, 3, 4, 1, EPOCH)
    planes = np.array([s.plane for s in shell])
    pairs = candidate_pairs(LinkTopology.GRID, planes, phase_rad_of(shell))
    # 4 in-plane links closing each of 3 rings, and 12 links to the next plane (3 planes wrap)
    assert pairs.shape == (24, 2)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert len(np.unique(pairs, axis=0)) == 24
    assert np.array_equal(pairs, np.unique(pairs, axis=0))  # sorted
    state = LinkState(pairs, np.ones(24, bool), np.ones(24), np.ones(24))
    assert neighbour_counts(state, 12).tolist() == [4] * 12
    in_plane = planes[pairs[:, 0]] == planes[pairs[:, 1]]
    assert in_plane.sum() == 12


def test_grid_does_not_wrap_two_planes_or_two_satellites():
    planes = np.array([0, 0, 1, 1])
    phase = np.array([0.0, math.pi, 0.1, math.pi + 0.1])
    pairs = candidate_pairs(LinkTopology.GRID, planes, phase)
    assert pairs.tolist() == [[0, 1], [0, 2], [1, 3], [2, 3]]


def test_formation_pairs_are_every_pair():
    pairs = candidate_pairs(LinkTopology.FORMATION, np.zeros(5, np.int64), np.zeros(5))
    assert pairs.shape == (10, 2)
    assert np.array_equal(pairs, np.unique(pairs, axis=0))


def formation_81():
    cluster = formation(650.0, 18.0, 81, 1.0, EPOCH)
    position = Fleet(cluster).teme_km(TimeGrid(EPOCH, np.array([0.0])))[:, 0]
    pairs = candidate_pairs(LinkTopology.FORMATION, np.zeros(81, np.int64), phase_rad_of(cluster))
    return position, pairs


def test_formation_of_81_within_range_links_every_pair():
    position, pairs = formation_81()
    settings = LinkSettings(LinkTopology.FORMATION, 1600 * GBPS, max_range_km=5.0)
    state = link_state(position, pairs, settings)
    assert state.up.all()
    assert neighbour_counts(state, 81).tolist() == [80] * 81
    assert state.distance_km.max() == pytest.approx(2.0, abs=0.01)  # a cluster of 1 km radius


def test_formation_with_a_range_shorter_than_the_cluster_links_fewer():
    position, pairs = formation_81()
    settings = LinkSettings(LinkTopology.FORMATION, 1600 * GBPS, max_range_km=0.5)
    counts = neighbour_counts(link_state(position, pairs, settings), 81)
    assert counts.max() < 80
    assert counts.min() > 0
    assert counts.min() < counts.max()  # the corners see fewer than the middle


# -- link state ----------------------------------------------------------------------------


def test_link_state_range_sight_and_rate_falling_with_distance():
    position = on_circle([0.0, 10.0, 40.0, 180.0])
    pairs = np.array([[0, 1], [0, 2], [0, 3]])
    settings = LinkSettings(
        LinkTopology.FORMATION, 100 * GBPS, max_range_km=5000.0, full_rate_range_km=600.0
    )
    state = link_state(position, pairs, settings)
    # 10 degrees: 1208 km, in range, rate (600 / 1208)^2; 40 degrees: 4739 km in range;
    # 180 degrees: behind the Earth and out of range
    assert state.up.tolist() == [True, True, False]
    assert state.distance_km[0] == pytest.approx(chord_km(10.0))
    assert state.bandwidth_bps[0] == pytest.approx(100 * GBPS * (600.0 / chord_km(10.0)) ** 2)
    assert state.bandwidth_bps[2] == 0.0
    over_time = link_state(np.stack([position, position], axis=1), pairs, settings)
    assert over_time.up.shape == (3, 2)
    assert over_time.up[:, 1].tolist() == [True, True, False]


def test_settings_name_the_bad_field():
    with pytest.raises(ValueError, match="bandwidthGbps: must be > 0, got 0"):
        LinkSettings(LinkTopology.GRID, 0.0)
    with pytest.raises(ValueError, match="grazingHeightKm: must be >= 0"):
        LinkSettings(LinkTopology.GRID, 1e9, grazing_height_km=-1.0)
    with pytest.raises(ValueError, match="fullRateRangeKm: must be > 0"):
        LinkSettings(LinkTopology.GRID, 1e9, full_rate_range_km=0.0)
    assert LinkSettings(LinkTopology.GRID, 1e9).intra_satellite_bps == 7.2e12 == NVLINK_BPS


# -- ring all-reduce -----------------------------------------------------------------------


def test_ring_allreduce_time_by_hand():
    # 1 GB over 4 members: 2 x 3 / 4 x 8e9 bits / 100 Gbps = 0.12 s, plus 6 x 10 ms
    assert ring_allreduce_seconds(1e9, 4, 100 * GBPS, 0.01) == pytest.approx(0.18)
    assert ring_allreduce_seconds(1e9, 1, 100 * GBPS, 0.01) == 0.0
    assert ring_allreduce_seconds(1e9, 4, 0.0, 0.01) == math.inf


# twelve satellites in one plane, 30 degrees apart but for satellites 3 and 6, one degree
# early: 0 -> 6 is shorter through 1..5 (179 degrees) and 3 -> 9 through 2, 1, 0, 11, 10
ANGLES = [30.0 * k for k in range(12)]
ANGLES[3], ANGLES[6] = 89.0, 179.0
RING_SETTINGS = LinkSettings(LinkTopology.GRID, 100 * GBPS, max_range_km=5000.0)


def ring_of_12(settings: LinkSettings = RING_SETTINGS) -> LinkState:
    pairs = candidate_pairs(LinkTopology.GRID, np.zeros(12, np.int64), np.radians(ANGLES))
    assert len(pairs) == 12
    return link_state(on_circle(ANGLES), pairs, settings)


def test_ring_of_neighbours_gets_each_link_whole():
    state = ring_of_12()
    assert state.up.all()
    exchange = ring_exchange(state, list(range(12)), RING_SETTINGS, 12)
    assert exchange.connected
    assert exchange.bottleneck_bps == pytest.approx(100 * GBPS)
    assert exchange.hops == 12
    # the slowest hop is the longest link, 31 degrees (89 -> 120 and 179 -> 210)
    assert exchange.latency_seconds == pytest.approx(chord_km(31.0) / SPEED_OF_LIGHT_KM_S)


def test_ring_across_the_plane_shares_links_and_takes_longer_paths():
    state = ring_of_12()
    exchange = ring_exchange(state, [0, 6, 3, 9], RING_SETTINGS, 12)
    # 0 -> 6 through 1..5, 6 -> 3 through 5, 4; 3 -> 9 through 2, 1, 0, 11, 10; 9 -> 0
    # through 10, 11: nine links each carry two ring hops, but in opposite directions, and
    # links are full duplex: no hop shares a direction, the paths are only longer
    assert exchange.connected
    assert exchange.bottleneck_bps == pytest.approx(100 * GBPS)
    assert exchange.hops == 9
    # the ring 0, 2, 1, 3 sends 0 -> 2 and 1 -> 3 the same way over the link 1-2 (and
    # 2 -> 1 and 3 -> 0 the other way): each direction of it carries two hops
    same_way = ring_exchange(state, [0, 2, 1, 3], RING_SETTINGS, 12)
    assert same_way.bottleneck_bps == pytest.approx(50 * GBPS)
    longest = max(
        sum(chord_km(a) for a in (30, 30, 29, 31, 30, 29)),  # 0 -> 6
        sum(chord_km(a) for a in (29, 30, 30, 30, 30, 30)),  # 3 -> 9
    )
    assert exchange.latency_seconds == pytest.approx(longest / SPEED_OF_LIGHT_KM_S)
    quarter = ring_exchange(state, [0, 3, 6, 9], RING_SETTINGS, 12)
    assert quarter.bottleneck_bps == pytest.approx(100 * GBPS)
    assert quarter.hops == 12
    assert quarter.latency_seconds < exchange.latency_seconds


def test_switching_delay_is_added_per_link():
    settings = LinkSettings(LinkTopology.GRID, 100 * GBPS, hop_latency_seconds=1e-3)
    exchange = ring_exchange(ring_of_12(settings), [0, 6, 3, 9], settings, 12)
    # the longer of the two six-link paths is 3 -> 9 (the chord is concave in the angle)
    longest = sum(chord_km(a) for a in (29, 30, 30, 30, 30, 30)) / SPEED_OF_LIGHT_KM_S
    assert exchange.latency_seconds == pytest.approx(longest + 6e-3)


def test_members_of_one_satellite_use_its_own_fabric():
    state = ring_of_12()
    both = ring_exchange(state, [0, 0, 1, 1], RING_SETTINGS, 12)
    # the link 0-1 carries the hops 0 -> 1 and 1 -> 0, one each way (full duplex)
    assert both.bottleneck_bps == pytest.approx(100 * GBPS)
    assert both.hops == 1
    alone = ring_exchange(state, [4, 4, 4], RING_SETTINGS, 12)
    assert alone.bottleneck_bps == NVLINK_BPS
    assert alone.latency_seconds == 0.0
    assert alone.hops == 0
    assert ring_exchange(state, [7], RING_SETTINGS, 12).connected


def test_a_ring_without_a_path_is_disconnected():
    state = ring_of_12()
    cut = LinkState(
        state.pairs,
        state.up & ~np.isin(state.pairs, [5]).any(axis=1),
        state.distance_km,
        state.bandwidth_bps,
    )
    exchange = ring_exchange(cut, [0, 5], RING_SETTINGS, 12)
    assert not exchange.connected
    assert exchange.bottleneck_bps == 0.0
    # around the cut: 4 -> 6 goes the long way, 10 hops
    around = ring_exchange(cut, [4, 6], RING_SETTINGS, 12)
    assert around.connected
    assert around.hops == 10
    # 4 -> 6 and 6 -> 4 take the same links, one each way (full duplex)
    assert around.bottleneck_bps == pytest.approx(100 * GBPS)
