"""Satellite orbits: TLE parsing, generated shells, and SGP4 propagation over a time grid.

Propagation is vectorised with sgp4's `SatrecArray` (satellites x times in one C call) and
chunked over satellites so memory stays bounded for large fleets.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import numpy as np
from numpy.typing import NDArray
from sgp4.api import WGS72, Satrec, SatrecArray

from kubesat.core.timebase import TimeGrid

EARTH_RADIUS_KM: Final = 6378.137  # WGS-84 equatorial radius
EARTH_FLATTENING: Final = 1 / 298.257223563  # WGS-84
MU_EARTH_KM3_S2: Final = 398600.4418  # WGS-84 gravitational parameter
J2: Final = 1.08262668e-3  # Earth's second zonal harmonic (EGM-96)
MIN_PERIGEE_KM: Final = 160.0  # below this an orbit decays within hours
TROPICAL_YEAR_SECONDS: Final = 365.2421897 * 86400.0
SGP4_EPOCH_JD: Final = 2433281.5  # 1949-12-31 00:00 UTC, the sgp4init epoch origin
SGP4_ERRORS: Final = {
    1: "mean eccentricity out of range",
    2: "mean motion below zero",
    3: "perturbed eccentricity out of range",
    4: "semi-latus rectum below zero",
    5: "epoch elements are sub-orbital",
    6: "satellite has decayed",
}


@dataclass(frozen=True)
class SatelliteOrbit:
    """One satellite's name, SGP4 elements and orbital plane index."""

    name: str
    satrec: Satrec = field(repr=False, compare=False)
    plane: int = 0

    @property
    def period_minutes(self) -> float:
        """Orbital period = 1440 / mean motion (rev/day), from the Kozai mean motion."""
        return 2.0 * math.pi / float(self.satrec.no_kozai)

    @property
    def perigee_altitude_km(self) -> float:
        """Perigee height above the equatorial radius, from the SGP4 mean elements."""
        return float(self.satrec.altp) * float(self.satrec.radiusearthkm) + (
            float(self.satrec.radiusearthkm) - EARTH_RADIUS_KM
        )

    @property
    def inclination_deg(self) -> float:
        return math.degrees(float(self.satrec.inclo))

    @property
    def epoch_utc(self) -> datetime:
        jd = float(self.satrec.jdsatepoch) + float(self.satrec.jdsatepochF)
        return datetime.fromtimestamp((jd - 2440587.5) * 86400.0, tz=UTC)


def tle_checksum(line: str) -> int:
    """TLE checksum: digits summed, each minus sign counts 1, modulo 10."""
    total = sum(int(c) if c.isdigit() else 1 if c == "-" else 0 for c in line[:68])
    return total % 10


def _check_line(line: str, number: int, name: str) -> str:
    line = line.rstrip()
    where = f"TLE line {number} of {name!r}"
    if len(line) != 69:
        raise ValueError(f"{where}: expected 69 characters, got {len(line)}")
    if line[0] != str(number) or line[1] != " ":
        raise ValueError(f"{where}: must start with '{number} ', got {line[:2]!r}")
    if not line[68].isdigit():
        raise ValueError(f"{where}: checksum column holds {line[68]!r}, not a digit")
    expected = tle_checksum(line)
    if int(line[68]) != expected:
        raise ValueError(f"{where}: checksum {expected} expected, got {line[68]}")
    return line


def satellite_from_tle(name: str, line1: str, line2: str, plane: int = 0) -> SatelliteOrbit:
    """Parse and check one TLE (checksums, catalogue numbers, orbit above 160 km)."""
    line1 = _check_line(line1, 1, name)
    line2 = _check_line(line2, 2, name)
    if line1[2:7] != line2[2:7]:
        raise ValueError(
            f"TLE of {name!r}: catalogue numbers differ, {line1[2:7]!r} on line 1 "
            f"and {line2[2:7]!r} on line 2"
        )
    try:
        satrec = Satrec.twoline2rv(line1, line2)
    except (ValueError, IndexError) as error:
        raise ValueError(f"TLE of {name!r}: {error}") from None
    if satrec.error:
        raise ValueError(f"TLE of {name!r}: {SGP4_ERRORS.get(satrec.error, satrec.error)}")
    satellite = SatelliteOrbit(name=name, satrec=satrec, plane=plane)
    _check_altitude(satellite)
    return satellite


def _check_altitude(satellite: SatelliteOrbit) -> None:
    perigee = satellite.perigee_altitude_km
    if not math.isfinite(perigee) or perigee < MIN_PERIGEE_KM:
        raise ValueError(
            f"orbit of {satellite.name!r}: perigee altitude must be >= {MIN_PERIGEE_KM:.0f} km "
            f"(lower orbits decay within hours), got {perigee:.1f} km"
        )


def parse_tle_text(text: str, source: str = "TLE") -> list[SatelliteOrbit]:
    """Parse 3-line (name, line 1, line 2) or bare 2-line element sets; blank lines ignored."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    satellites: list[SatelliteOrbit] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("1 ") and index + 1 < len(lines) and lines[index + 1].startswith("2 "):
            name, line1, line2 = line[2:7].strip(), line, lines[index + 1]
            index += 2
        elif index + 2 < len(lines):
            name, line1, line2 = line.strip().removeprefix("0 "), lines[index + 1], lines[index + 2]
            index += 3
        else:
            raise ValueError(
                f"{source}: incomplete element set at line {index + 1} ({line[:30]!r}); "
                "expected a name line followed by TLE lines 1 and 2"
            )
        satellites.append(satellite_from_tle(name, line1, line2))
    if not satellites:
        raise ValueError(f"{source}: no element sets found")
    names = [s.name for s in satellites]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{source}: satellite names must be unique, repeated: {duplicates}")
    return _assign_planes(satellites)


def _assign_planes(satellites: list[SatelliteOrbit], gap_deg: float = 5.0) -> list[SatelliteOrbit]:
    """Group TLE satellites into planes by right ascension of the ascending node."""
    raan = np.degrees([float(s.satrec.nodeo) for s in satellites]) % 360.0
    order = np.argsort(raan)
    plane_of = np.zeros(len(satellites), dtype=int)
    plane = 0
    for previous, current in itertools.pairwise(order):
        if raan[current] - raan[previous] > gap_deg:
            plane += 1
        plane_of[current] = plane
    # the first and last groups meet across 0/360 degrees
    if len(order) > 1 and plane > 0 and (raan[order[0]] + 360.0 - raan[order[-1]]) <= gap_deg:
        plane_of[plane_of == plane] = 0
    return [
        SatelliteOrbit(s.name, s.satrec, int(p)) for s, p in zip(satellites, plane_of, strict=True)
    ]


def circular_mean_motion_rad_per_min(altitude_km: float) -> float:
    """Keplerian mean motion of a circular orbit at `altitude_km`, rad/min."""
    a_km = EARTH_RADIUS_KM + altitude_km
    return math.sqrt(MU_EARTH_KM3_S2 / a_km**3) * 60.0


def sun_synchronous_inclination_deg(altitude_km: float) -> float:
    """Inclination whose J2 nodal precession follows the mean Sun (circular orbit).

    dΩ/dt = -3/2 J2 (R/a)² n cos i must equal 360° per tropical year (Vallado, eq. 9-37).
    """
    a_km = EARTH_RADIUS_KM + altitude_km
    n_rad_s = math.sqrt(MU_EARTH_KM3_S2 / a_km**3)
    node_rate_rad_s = 2.0 * math.pi / TROPICAL_YEAR_SECONDS
    cos_i = -node_rate_rad_s / (1.5 * J2 * (EARTH_RADIUS_KM / a_km) ** 2 * n_rad_s)
    if cos_i < -1.0:
        raise ValueError(
            f"altitude_km: no sun-synchronous orbit exists above about 5970 km, got {altitude_km}"
        )
    return math.degrees(math.acos(cos_i))


def mean_sun_right_ascension_deg(when: datetime) -> float:
    """Right ascension of the mean Sun (its mean longitude), degrees (Astronomical Almanac)."""
    days = (when.timestamp() / 86400.0 + 2440587.5) - 2451545.0
    return (280.46061837 + 0.98564736629 * days) % 360.0


def _circular_satrec(
    satnum: int,
    epoch_utc: datetime,
    altitude_km: float,
    inclination_deg: float,
    raan_deg: float,
    mean_anomaly_deg: float,
) -> Satrec:
    """SGP4 elements of a circular orbit (no drag: generated shells are station-kept)."""
    satrec = Satrec()
    epoch_jd = epoch_utc.timestamp() / 86400.0 + 2440587.5
    satrec.sgp4init(
        WGS72,
        "i",
        satnum,
        epoch_jd - SGP4_EPOCH_JD,
        0.0,  # bstar
        0.0,  # ndot
        0.0,  # nddot
        1e-7,  # eccentricity: circular
        0.0,  # argument of perigee
        math.radians(inclination_deg),
        math.radians(mean_anomaly_deg % 360.0),
        circular_mean_motion_rad_per_min(altitude_km),
        math.radians(raan_deg % 360.0),
    )
    return satrec


def _check_shell(altitude_km: float, planes: int, per_plane: int) -> None:
    if not altitude_km >= MIN_PERIGEE_KM:
        raise ValueError(f"altitudeKm: must be >= {MIN_PERIGEE_KM:.0f} km, got {altitude_km}")
    if altitude_km > 40000:
        raise ValueError(f"altitudeKm: must be <= 40000 km, got {altitude_km}")
    if planes < 1:
        raise ValueError(f"planes: must be >= 1, got {planes}")
    if per_plane < 1:
        raise ValueError(f"perPlane: must be >= 1, got {per_plane}")


def walker_delta(
    altitude_km: float,
    inclination_deg: float,
    planes: int,
    per_plane: int,
    phasing: int,
    epoch_utc: datetime,
    prefix: str = "sat",
    raan0_deg: float = 0.0,
) -> list[SatelliteOrbit]:
    """A Walker-delta shell i:t/p/f: planes spread over 360° of node, phasing f between planes."""
    _check_shell(altitude_km, planes, per_plane)
    if not 0.0 <= inclination_deg <= 180.0:
        raise ValueError(f"inclinationDeg: must be within [0, 180], got {inclination_deg}")
    if not 0 <= phasing < planes:
        raise ValueError(
            f"phasing: must be within [0, planes - 1] = [0, {planes - 1}], got {phasing}"
        )
    total = planes * per_plane
    satellites: list[SatelliteOrbit] = []
    for p in range(planes):
        raan = raan0_deg + 360.0 * p / planes
        for k in range(per_plane):
            anomaly = 360.0 * k / per_plane + 360.0 * phasing * p / total
            satrec = _circular_satrec(
                len(satellites) + 1, epoch_utc, altitude_km, inclination_deg, raan, anomaly
            )
            satellites.append(SatelliteOrbit(f"{prefix}-p{p:02d}-s{k:02d}", satrec, p))
    return satellites


def sun_synchronous(
    altitude_km: float,
    ltan_hours: float,
    count: int,
    epoch_utc: datetime,
    prefix: str = "sat",
    planes: int = 1,
) -> list[SatelliteOrbit]:
    """Sun-synchronous satellites at a local time of ascending node (18.0 = dawn-dusk).

    The inclination follows from J2; the node sits `ltan_hours - 12` hours east of the mean Sun.
    Several planes are spread by 360/planes degrees of mean anomaly offset, same node.
    """
    if not 0.0 <= ltan_hours < 24.0:
        raise ValueError(f"ltanHours: must be within [0, 24), got {ltan_hours}")
    if count < 1:
        raise ValueError(f"count: must be >= 1, got {count}")
    _check_shell(altitude_km, planes, max(count // planes, 1))
    inclination = sun_synchronous_inclination_deg(altitude_km)
    raan = mean_sun_right_ascension_deg(epoch_utc) + (ltan_hours - 12.0) * 15.0
    satellites = []
    for k in range(count):
        plane = k % planes
        anomaly = 360.0 * k / count
        satrec = _circular_satrec(k + 1, epoch_utc, altitude_km, inclination, raan, anomaly)
        satellites.append(SatelliteOrbit(f"{prefix}-{k:03d}", satrec, plane))
    return satellites


def formation(
    altitude_km: float,
    ltan_hours: float,
    count: int,
    radius_km: float,
    epoch_utc: datetime,
    prefix: str = "sat",
) -> list[SatelliteOrbit]:
    """`count` satellites flying as a cluster of about `radius_km` around a reference
    sun-synchronous circular orbit (a Suncatcher-like formation).

    The satellites sit on a near-square grid (ceil(sqrt(count)) columns) of along-track x
    cross-track offsets, scaled so the farthest is `radius_km` from the centre at the
    ascending node. Along-track offsets are mean-anomaly offsets (distance / semi-major
    axis); cross-track offsets are node offsets dΩ giving a dΩ sin i at the node. All share
    altitude, eccentricity and inclination, so J2 turns their nodes and perigees at one rate
    and the cluster holds together. The cross-track separation breathes with the argument
    of latitude u as a dΩ sin i cos u: full at the nodes, zero over the poles, where the
    cluster flattens into an along-track line. Each row of the grid is shifted along-track
    by a fraction of the column spacing, so no two satellites share an along-track offset
    and even over the poles the closest pair stays apart (by about the spacing / rows).
    Plane index 0 for all.
    """
    if count < 1:
        raise ValueError(f"count: must be >= 1, got {count}")
    if not (math.isfinite(radius_km) and radius_km > 0):
        raise ValueError(f"radiusKm: must be > 0, got {radius_km}")
    if not 0.0 <= ltan_hours < 24.0:
        raise ValueError(f"ltanHours: must be within [0, 24), got {ltan_hours}")
    _check_shell(altitude_km, 1, count)
    inclination = sun_synchronous_inclination_deg(altitude_km)
    raan0 = mean_sun_right_ascension_deg(epoch_utc) + (ltan_hours - 12.0) * 15.0
    a_km = EARTH_RADIUS_KM + altitude_km
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    cell = np.arange(count)
    row, column = cell // columns, cell % columns
    along = column + row / rows - (columns - 1 + (rows - 1) / rows) / 2.0
    across = row - (rows - 1) / 2.0
    reach = float(np.max(np.hypot(along, across)))
    spacing_km = radius_km / reach if reach > 0 else 0.0
    along_km, across_km = along * spacing_km, across * spacing_km
    sin_i, cos_i = math.sin(math.radians(inclination)), math.cos(math.radians(inclination))
    node_offset_rad = across_km / (a_km * sin_i)
    # a node offset also moves a satellite along-track by a dΩ cos i: take it out of the
    # anomaly so the grid is the one laid out
    anomaly_rad = along_km / a_km - node_offset_rad * cos_i
    satellites = []
    for k in range(count):
        satrec = _circular_satrec(
            k + 1,
            epoch_utc,
            altitude_km,
            inclination,
            raan0 + math.degrees(float(node_offset_rad[k])),
            math.degrees(float(anomaly_rad[k])),
        )
        satellites.append(SatelliteOrbit(f"{prefix}-{k:03d}", satrec, 0))
    return satellites


class Fleet:
    """An ordered set of satellites, propagated together."""

    def __init__(self, satellites: Sequence[SatelliteOrbit]) -> None:
        if not satellites:
            raise ValueError("satellites: a fleet needs at least one satellite")
        self.satellites: tuple[SatelliteOrbit, ...] = tuple(satellites)
        self.names: tuple[str, ...] = tuple(s.name for s in satellites)
        self.planes: NDArray[np.int64] = np.array([s.plane for s in satellites], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.satellites)

    def chunks(self, size: int) -> Iterator[slice]:
        """Slices of at most `size` satellites, to bound memory in propagation."""
        for start in range(0, len(self), size):
            yield slice(start, min(start + size, len(self)))

    def teme_km(
        self, grid: TimeGrid, where: slice | None = None, check: bool = True
    ) -> NDArray[np.float64]:
        """SGP4 positions (N, T, 3) in TEME, km, for the satellites in `where`."""
        chosen = self.satellites[where] if where is not None else self.satellites
        jd, fr = grid.jd_utc_parts()
        errors, positions, _ = SatrecArray([s.satrec for s in chosen]).sgp4(jd, fr)
        if check and errors.any():
            self._raise_sgp4_error(chosen, errors, grid)
        return np.asarray(positions, dtype=np.float64)

    def teme_km_at(
        self, indices: NDArray[np.int64], grid: TimeGrid, offsets_seconds: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Positions (K, 3) of satellite `indices[k]` at `offsets_seconds[k]` (refinement)."""
        out = np.empty((len(indices), 3))
        _, fr = grid.jd_utc_parts(offsets_seconds)
        whole = math.floor(grid.start_jd_utc)
        order = np.argsort(indices, kind="stable")
        sorted_idx = indices[order]
        bounds = np.flatnonzero(np.diff(sorted_idx)) + 1
        for group in np.split(order, bounds):
            if group.size == 0:
                continue
            satrec = self.satellites[int(indices[group[0]])].satrec
            _, r, _ = satrec.sgp4_array(np.full(group.size, float(whole)), fr[group])
            out[group] = r
        return out

    @staticmethod
    def _raise_sgp4_error(
        chosen: Sequence[SatelliteOrbit], errors: NDArray[np.uint8], grid: TimeGrid
    ) -> None:
        sat_index, time_index = (int(v[0]) for v in np.nonzero(errors))
        code = int(errors[sat_index, time_index])
        when = grid.instant(grid.offsets_seconds[time_index]).isoformat()
        raise ValueError(
            f"orbit of {chosen[sat_index].name!r}: SGP4 cannot propagate to {when}: "
            f"{SGP4_ERRORS.get(code, f'error {code}')}"
        )


def _rotate_z(vectors: NDArray[np.float64], angle_rad: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rotate (..., 3) vectors by `angle_rad` about z (broadcast over leading axes)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    x, y, z = np.broadcast_arrays(vectors[..., 0], vectors[..., 1], vectors[..., 2], c)[:3]
    return np.stack([c * x - s * y, s * x + c * y, z], axis=-1)


def itrs_from_teme(
    teme_km: NDArray[np.float64], gmst_rad: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rotate TEME positions (..., 3) into ITRS by GMST 1982 angles broadcast over (...)."""
    return _rotate_z(teme_km, -gmst_rad)


def teme_from_itrs(
    itrs_km: NDArray[np.float64], gmst_rad: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rotate Earth-fixed ITRS vectors (..., 3) into TEME by GMST 1982 angles."""
    return _rotate_z(itrs_km, gmst_rad)


def _bowring_latitude(
    beta: NDArray[np.float64],
    z: NDArray[np.float64],
    p: NDArray[np.float64],
    a: float,
    b: float,
    e2: float,
    ep2: float,
) -> NDArray[np.float64]:
    """One Bowring step: the latitude from the reduced latitude `beta` (cubes as products,
    since numpy's `** 3` calls pow(), ~40x slower)."""
    sin_beta, cos_beta = np.sin(beta), np.cos(beta)
    return np.asarray(
        np.arctan2(
            z + ep2 * b * (sin_beta * sin_beta * sin_beta),
            p - e2 * a * (cos_beta * cos_beta * cos_beta),
        ),
        dtype=np.float64,
    )


def geodetic(
    itrs_km: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """WGS-84 latitude (deg), longitude (deg, -180..180) and altitude (km) of ITRS positions.

    Bowring's method with two iterations: sub-metre in LEO.
    """
    a = EARTH_RADIUS_KM
    f = EARTH_FLATTENING
    b = a * (1 - f)
    e2 = f * (2 - f)
    ep2 = e2 / (1 - e2)
    x, y, z = itrs_km[..., 0], itrs_km[..., 1], itrs_km[..., 2]
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    beta = np.arctan2(z * a, p * b)
    lat = _bowring_latitude(beta, z, p, a, b, e2, ep2)
    beta = np.arctan2((1 - f) * np.sin(lat), np.cos(lat))
    lat = _bowring_latitude(beta, z, p, a, b, e2, ep2)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = a / np.sqrt(1 - e2 * sin_lat**2)
    alt = p * cos_lat + (z + e2 * n * sin_lat) * sin_lat - n
    return np.degrees(lat), np.degrees(lon), alt


def itrs_from_geodetic(lat_deg: float, lon_deg: float, altitude_km: float) -> NDArray[np.float64]:
    """ITRS position (3,) of a point given WGS-84 latitude, longitude and height."""
    f = EARTH_FLATTENING
    e2 = f * (2 - f)
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    n = EARTH_RADIUS_KM / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    return np.array(
        [
            (n + altitude_km) * math.cos(lat) * math.cos(lon),
            (n + altitude_km) * math.cos(lat) * math.sin(lon),
            (n * (1 - e2) + altitude_km) * math.sin(lat),
        ]
    )
