"""Eclipse boundaries against an independent conical-shadow computation on Skyfield's own
GCRS positions (its TEME→GCRS rotation, its DE421 Sun), refined with scipy's brentq."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from kubesat.core.ephemeris import _ephemeris
from kubesat.core.forecast import eclipse_intervals
from kubesat.core.geometry import Sky
from kubesat.core.orbits import Fleet, parse_tle_text
from kubesat.core.sunlight import illuminated_fraction, sunlit_mask
from kubesat.core.timebase import TimeGrid, timescale

DATA = Path(__file__).parent.parent / "data"
R_EARTH_KM = 6378.137
R_SUN_KM = 695_700.0
TOLERANCE_SECONDS = 2.0


def _reference_margins(satellite, when: datetime) -> tuple[float, float]:
    """(c - (a+b), c - (b-a)) in radians from Skyfield's GCRS geometry, scalar, by hand."""
    ts = timescale()
    eph = _ephemeris()
    t = ts.from_datetime(when)
    sat = satellite.at(t).position.km
    sun = eph["earth"].at(t).observe(eph["sun"]).position.km
    to_sun = sun - sat
    a = math.asin(R_SUN_KM / float(np.linalg.norm(to_sun)))
    b = math.asin(R_EARTH_KM / float(np.linalg.norm(sat)))
    cos_c = float(np.dot(-sat, to_sun) / (np.linalg.norm(sat) * np.linalg.norm(to_sun)))
    c = math.acos(max(-1.0, min(1.0, cos_c)))
    return c - (a + b), c - (b - a)


def _reference_crossings(satellite, start: datetime, hours: float, which: int) -> list[float]:
    """Offsets (s) where the chosen margin changes sign, sampled at 20 s and root-found."""

    def margin(offset: float) -> float:
        return _reference_margins(satellite, start + timedelta(seconds=offset))[which]

    offsets = np.arange(0.0, hours * 3600.0 + 1.0, 20.0)
    values = [margin(float(x)) for x in offsets]
    roots = []
    for k in range(len(offsets) - 1):
        if (values[k] > 0) != (values[k + 1] > 0):
            roots.append(brentq(margin, offsets[k], offsets[k + 1], xtol=1e-3))
    return roots


CASES = [
    # name, start, hours: near each element set's epoch
    ("ISS (ZARYA)", datetime(2025, 11, 10, 0, 0, tzinfo=UTC), 6.0),
    ("STARLINK-30948", datetime(2024, 5, 31, 0, 0, tzinfo=UTC), 6.0),
    # dawn-dusk orbit in May: shallow penumbra-only eclipses, the hardest boundaries
    ("SENTINEL-1A", datetime(2025, 5, 9, 12, 0, tzinfo=UTC), 6.0),
    # the same orbit at the June solstice: full umbra eclipses
    ("SENTINEL-1A", datetime(2025, 6, 21, 0, 0, tzinfo=UTC), 6.0),
]


@pytest.mark.parametrize(("name", "start", "hours"), CASES)
def test_eclipse_boundaries_match_independent_conical_shadow(name, start, hours):
    from skyfield.api import EarthSatellite

    tles = {s.name: s for s in parse_tle_text((DATA / "reference.tle").read_text())}
    ours = tles[name]
    grid = TimeGrid.regular(start, hours * 3600.0, 10.0)
    shadows, umbras = eclipse_intervals(Fleet([ours]), Sky.on(grid))
    reference = EarthSatellite.from_satrec(ours.satrec, timescale())

    ours_penumbra = sorted(t for s, e in shadows.of(0) for t in (s, e) if 0.0 < t < hours * 3600.0)
    ref_penumbra = _reference_crossings(reference, start, hours, which=0)
    assert len(ref_penumbra) >= 4, "the case must contain eclipses"
    assert len(ours_penumbra) == len(ref_penumbra)
    assert np.max(np.abs(np.array(ours_penumbra) - ref_penumbra)) < TOLERANCE_SECONDS

    ours_umbra = sorted(t for s, e in umbras.of(0) for t in (s, e) if 0.0 < t < hours * 3600.0)
    ref_umbra = _reference_crossings(reference, start, hours, which=1)
    assert len(ours_umbra) == len(ref_umbra)
    if ref_umbra:
        assert np.max(np.abs(np.array(ours_umbra) - ref_umbra)) < TOLERANCE_SECONDS


def test_illuminated_fraction_limits_and_penumbra_is_partial():
    sun = np.array([1.496e8, 0.0, 0.0])
    r = 6928.137
    # behind the Earth on the Sun line: umbra; on the day side: full sun
    assert illuminated_fraction(np.array([-r, 0.0, 0.0]), sun) == 0.0
    assert illuminated_fraction(np.array([r, 0.0, 0.0]), sun) == 1.0
    # walk across the shadow edge: the fraction falls monotonically from 1 to 0
    angles = np.linspace(math.radians(100), math.radians(130), 3001)
    positions = np.stack([r * np.cos(angles), r * np.sin(angles), 0 * angles], axis=-1)
    fraction = illuminated_fraction(positions, sun)
    assert fraction[0] == 1.0
    assert fraction[-1] == 0.0
    assert np.all(np.diff(fraction) <= 1e-12)
    partial = (fraction > 0) & (fraction < 1)
    assert partial.sum() > 10
    # penumbra counts as not sunlit
    assert np.array_equal(sunlit_mask(positions, sun), fraction >= 1.0 - 1e-12)
