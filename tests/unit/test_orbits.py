"""Orbit construction, TLE checking and published orbital facts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from kubesat.core.forecast import eclipse_intervals
from kubesat.core.geometry import Sky
from kubesat.core.orbits import (
    Fleet,
    formation,
    geodetic,
    itrs_from_geodetic,
    parse_tle_text,
    sun_synchronous,
    sun_synchronous_inclination_deg,
    tle_checksum,
    walker_delta,
)
from kubesat.core.timebase import TimeGrid

DATA = Path(__file__).parent.parent / "data"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
ISS = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   25313.96830531  .00008626  00000+0  16179-3 0  9997\n"
    "2 25544  51.6342 304.7042 0004075  52.7615 307.3745 15.49490024537771\n"
)


def test_reference_tles_parse_with_published_periods():
    satellites = {s.name: s for s in parse_tle_text((DATA / "reference.tle").read_text())}
    # period = 1440 / mean motion (rev/day) from line 2
    assert satellites["ISS (ZARYA)"].period_minutes == pytest.approx(1440 / 15.49490024, 1e-6)
    assert satellites["SENTINEL-1A"].period_minutes == pytest.approx(98.68, abs=0.01)
    assert 400 < satellites["ISS (ZARYA)"].perigee_altitude_km < 430


def test_checksum_failure_names_line_and_digits():
    bad = ISS.replace("0  9997", "0  9993")
    with pytest.raises(
        ValueError, match=r"TLE line 1 of 'ISS \(ZARYA\)': checksum 7 expected, got 3"
    ):
        parse_tle_text(bad)
    assert tle_checksum(ISS.splitlines()[1]) == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            ISS.replace("2 25544  51", "2 25545  51").replace("537771", "537772"),
            "catalogue numbers differ",
        ),
        ("ISS\n1 25544U short\n2 25544 short\n", "expected 69 characters"),
        ("just one line\n", "incomplete element set"),
        ("", "no element sets"),
    ],
)
def test_malformed_tles_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_tle_text(text)


def test_decayed_orbit_is_refused():
    # mean motion 16.5 rev/day: perigee ~ 140 km, below the 160 km floor
    line2 = "2 25544  51.6342 304.7042 0004075  52.7615 307.3745 16.50000000537771"
    line2 = line2[:68] + str(tle_checksum(line2))
    text = "LOW\n" + ISS.splitlines()[1] + "\n" + line2 + "\n"
    with pytest.raises(ValueError, match="perigee altitude must be >= 160 km"):
        parse_tle_text(text)


def test_walker_delta_layout():
    shell = walker_delta(550.0, 53.0, planes=4, per_plane=5, phasing=1, epoch_utc=EPOCH)
    assert len(shell) == 20
    assert sorted({s.plane for s in shell}) == [0, 1, 2, 3]
    raan = sorted({round(np.degrees(s.satrec.nodeo), 6) for s in shell})
    assert raan == [0.0, 90.0, 180.0, 270.0]
    # 550 km circular: period ~95.6 min (Kepler, a = 6928 km)
    assert shell[0].period_minutes == pytest.approx(95.65, abs=0.1)
    assert shell[0].inclination_deg == pytest.approx(53.0)
    with pytest.raises(ValueError, match="phasing: must be within"):
        walker_delta(550.0, 53.0, planes=4, per_plane=5, phasing=4, epoch_utc=EPOCH)
    with pytest.raises(ValueError, match="altitudeKm: must be >= 160"):
        walker_delta(120.0, 53.0, planes=1, per_plane=1, phasing=0, epoch_utc=EPOCH)


def test_sun_synchronous_inclination_matches_published_values():
    # Sentinel-1 (693 km): 98.18°; Sentinel-2 (786 km): 98.62° (ESA mission facts)
    assert sun_synchronous_inclination_deg(693.0) == pytest.approx(98.18, abs=0.05)
    assert sun_synchronous_inclination_deg(786.0) == pytest.approx(98.57, abs=0.1)


def test_550_km_53_deg_longest_eclipse_and_sunlit_fraction():
    """A 550 km orbit is eclipsed at most ~35.6 min a 95.6 min orbit (beta = 0):
    cylindrical estimate 2·asin(R/a)/360 · period = 35.6 min; penumbra adds ~10 s a side."""
    shell = walker_delta(550.0, 53.0, planes=6, per_plane=1, phasing=0, epoch_utc=EPOCH)
    grid = TimeGrid.regular(EPOCH, 86400.0 * 3, 30.0)
    shadows, _ = eclipse_intervals(Fleet(shell), Sky.on(grid))
    durations = (shadows.end_seconds - shadows.start_seconds)[
        (shadows.start_seconds > 0) & (shadows.end_seconds < grid.offsets_seconds[-1])
    ] / 60.0
    assert 35.0 < durations.max() < 36.5
    sunlit = 1 - (shadows.end_seconds - shadows.start_seconds).sum() / (6 * 3 * 86400)
    assert 0.62 < sunlit < 0.75


def test_dawn_dusk_650_km_is_mostly_sunlit_over_a_year():
    """Suncatcher's 650 km dawn-dusk orbit: ~96% sunlit over a year, an eclipse season of
    ~90 days with eclipses up to ~20 min."""
    satellite = sun_synchronous(650.0, 18.0, count=1, epoch_utc=EPOCH)
    grid = TimeGrid.regular(EPOCH, 365 * 86400.0, 60.0)
    shadows, _ = eclipse_intervals(Fleet(satellite), Sky.on(grid))
    dark = (shadows.end_seconds - shadows.start_seconds).sum()
    assert 1 - dark / (365 * 86400.0) == pytest.approx(0.96, abs=0.02)
    assert (shadows.end_seconds - shadows.start_seconds).max() / 60 == pytest.approx(20, abs=3)
    season_days = len(np.unique((shadows.start_seconds // 86400).astype(int)))
    assert 70 <= season_days <= 110


def test_geodetic_round_trip():
    for lat, lon, alt in [
        (0.0, 0.0, 0.0),
        (51.5, -0.1, 0.05),
        (-33.9, 151.2, 550.0),
        (89.0, 45.0, 650.0),
    ]:
        got = geodetic(itrs_from_geodetic(lat, lon, alt))
        assert np.allclose([float(g) for g in got], [lat, lon, alt], atol=1e-6)


def test_fleet_chunks_cover_everything():
    fleet = Fleet(walker_delta(550.0, 53.0, 3, 7, 1, EPOCH))
    covered = [i for where in fleet.chunks(4) for i in range(len(fleet))[where]]
    assert covered == list(range(21))


def test_formation_holds_together_for_a_day():
    """Suncatcher's cluster: 81 satellites within 1 km at 650 km dawn-dusk, SGP4 for 24 h.

    Measured every 30 s: the farthest satellite from the centroid stays within 1.0 km (the
    layout's radius) and the closest pair is about 18 m apart at worst (over the poles,
    where the cross-track offsets vanish and the staggered rows keep them apart).
    """
    cluster = formation(650.0, 18.0, 81, 1.0, EPOCH, prefix="suncatcher")
    assert len(cluster) == 81
    assert {s.plane for s in cluster} == {0}
    assert len({s.name for s in cluster}) == 81
    assert all(s.inclination_deg == pytest.approx(97.98, abs=0.05) for s in cluster)
    grid = TimeGrid(EPOCH, np.arange(0.0, 86400.0 + 1.0, 30.0))
    position = Fleet(cluster).teme_km(grid)
    from_centroid = np.linalg.norm(position - position.mean(axis=0), axis=-1)
    assert from_centroid[:, 0].max() == pytest.approx(1.0, abs=0.01)
    assert from_centroid.max() < 2.0
    i, j = np.triu_indices(81, 1)
    apart = np.linalg.norm(position[i] - position[j], axis=-1)
    assert apart.min() > 0.010
    assert apart[:, 0].min() > 0.1  # at the node the grid is laid out whole


def test_formation_refuses_bad_sizes():
    with pytest.raises(ValueError, match="radiusKm: must be > 0"):
        formation(650.0, 18.0, 4, 0.0, EPOCH)
    with pytest.raises(ValueError, match="count: must be >= 1"):
        formation(650.0, 18.0, 0, 1.0, EPOCH)
    (alone,) = formation(650.0, 18.0, 1, 1.0, EPOCH)
    assert alone.perigee_altitude_km == pytest.approx(650.0, abs=5.0)
