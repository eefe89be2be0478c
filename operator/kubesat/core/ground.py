"""Ground stations and line of sight: elevation above a mask, contact windows (AOS/LOS).

Geometric elevation (no refraction) above the WGS-84 ellipsoid normal at the station,
station height included, as Skyfield's topocentric `altaz()` computes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.orbits import itrs_from_geodetic, teme_from_itrs

# Downlink rate of a station (bits/s) unless its spec says: X-band links of LEO satellites
# run at a few hundred Mbit/s (a stated assumption, at the low end of the 100-800 Mbit/s of
# Earth-observation missions)
DEFAULT_DATA_RATE_BPS: Final = 100e6


@dataclass(frozen=True)
class GroundStation:
    """A ground station: WGS-84 position and the lowest elevation it can track."""

    name: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float = 0.0
    min_elevation_deg: float = 10.0
    data_rate_bps: float = DEFAULT_DATA_RATE_BPS  # downlink rate while in contact

    def __post_init__(self) -> None:
        where = f"station {self.name!r}"
        if not self.name:
            raise ValueError("station name: must not be empty")
        if not -90.0 <= self.latitude_deg <= 90.0:
            raise ValueError(
                f"{where} latitudeDeg: must be within [-90, 90], got {self.latitude_deg}"
            )
        if not -180.0 <= self.longitude_deg <= 360.0:
            raise ValueError(
                f"{where} longitudeDeg: must be within [-180, 360], got {self.longitude_deg}"
            )
        if not -500.0 <= self.altitude_m <= 9000.0:
            raise ValueError(
                f"{where} altitudeM: must be within [-500, 9000], got {self.altitude_m}"
            )
        if not (self.data_rate_bps >= 0 and math.isfinite(self.data_rate_bps)):
            raise ValueError(f"{where} dataRateBps: must be >= 0, got {self.data_rate_bps}")
        if not 0.0 <= self.min_elevation_deg < 90.0:
            raise ValueError(
                f"{where} minElevationDeg: must be within [0, 90), got {self.min_elevation_deg}"
            )

    @property
    def itrs_km(self) -> NDArray[np.float64]:
        return itrs_from_geodetic(self.latitude_deg, self.longitude_deg, self.altitude_m / 1000.0)

    @property
    def up_itrs(self) -> NDArray[np.float64]:
        """Unit normal to the ellipsoid at the station (geodetic zenith)."""
        lat, lon = math.radians(self.latitude_deg), math.radians(self.longitude_deg)
        return np.array(
            [math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]
        )


def parse_station(text: str) -> GroundStation:
    """Parse NAME:LAT:LON[:ALT_M[:MIN_ELEV_DEG]] as `kubesat forecast --station` takes it."""
    parts = text.split(":")
    if len(parts) < 3 or len(parts) > 5 or not parts[0]:
        raise ValueError(f"--station: expected NAME:LAT:LON[:ALT_M[:MIN_ELEV_DEG]], got {text!r}")
    labels = ["latitude", "longitude", "altitude_m", "min_elevation_deg"]
    values: list[float] = []
    for label, part in zip(labels, parts[1:], strict=False):
        try:
            values.append(float(part))
        except ValueError:
            raise ValueError(
                f"--station {parts[0]}: {label} must be a number, got {part!r}"
            ) from None
    return GroundStation(parts[0], *values)


def elevation_rad(
    sat_teme_km: NDArray[np.float64], station: GroundStation, gmst_rad: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Elevation (rad) of satellites (..., T, 3) in TEME seen from a station, GMST (T,)."""
    site = teme_from_itrs(station.itrs_km, gmst_rad)  # (T, 3)
    up = teme_from_itrs(station.up_itrs, gmst_rad)
    rho = sat_teme_km - site
    distance = np.sqrt(np.einsum("...i,...i->...", rho, rho))
    sin_elevation = np.einsum("...i,...i->...", rho, up) / distance
    elevation: NDArray[np.float64] = np.arcsin(np.clip(sin_elevation, -1.0, 1.0))
    return elevation
