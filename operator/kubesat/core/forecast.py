"""The forecast: each satellite's coming eclipses, ground contacts and high-radiation passes.

This is what lets kubesat act ahead of time. Times are offsets in seconds from the grid
start; windows cut by the start or end of the span are clipped to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.geometry import Sky
from kubesat.core.ground import GroundStation, elevation_rad
from kubesat.core.orbits import Fleet, geodetic, itrs_from_teme
from kubesat.core.sunlight import shadow_margins_rad, sunlit_mask
from kubesat.core.timebase import TimeGrid
from kubesat.core.windows import (
    Evaluate,
    Intervals,
    golden_section_max,
    windows_where_positive,
)

FluxModel = Callable[
    [NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]
]
"""Proton flux (cm⁻² s⁻¹) from latitude (deg), longitude (deg) and altitude (km)."""

# ~2.4 MB per (n, T, 3) float64 array: a chunk's temporaries stay in the CPU's cache, which
# makes the physics about a tenth faster than chunks of 1e6 (and two processes on one
# machine share its memory bandwidth less)
SATELLITE_STEPS_PER_CHUNK: Final = 100_000


@dataclass(frozen=True)
class Eclipse:
    """Loss of full sunlight: penumbra entry to full-sun return; the umbra inside, if any."""

    start_seconds: float
    end_seconds: float
    umbra_start_seconds: float | None
    umbra_end_seconds: float | None

    @property
    def duration_seconds(self) -> float:
        return self.end_seconds - self.start_seconds


@dataclass(frozen=True)
class Contact:
    """A pass over a ground station above its elevation mask."""

    station: str
    aos_seconds: float
    los_seconds: float
    max_elevation_deg: float


@dataclass(frozen=True)
class RadiationPass:
    """A passage through trapped-proton flux above the threshold (the SAA in LEO)."""

    start_seconds: float
    end_seconds: float
    peak_flux: float


@dataclass(frozen=True)
class SatelliteForecast:
    """Everything one satellite will go through over the forecast span."""

    name: str
    period_minutes: float
    sunlit_fraction: float
    eclipses: tuple[Eclipse, ...]
    contacts: tuple[Contact, ...]
    radiation_passes: tuple[RadiationPass, ...]


def chunk_size_for(grid: TimeGrid) -> int:
    """Satellites per propagation chunk so that one chunk holds about 1e5 satellite-steps."""
    return max(1, SATELLITE_STEPS_PER_CHUNK // max(len(grid), 1))


def sunlit_flags(fleet: Fleet, sky: Sky) -> NDArray[np.bool_]:
    """(N, T) True where the satellite sees the whole solar disc. Chunked: 1 byte a step."""
    out = np.empty((len(fleet), len(sky.grid)), dtype=np.bool_)
    for where in fleet.chunks(chunk_size_for(sky.grid)):
        out[where] = sunlit_mask(fleet.teme_km(sky.grid, where), sky.sun_teme_km)
    return out


def eclipse_intervals(
    fleet: Fleet, sky: Sky, tolerance_seconds: float = 1e-3
) -> tuple[Intervals, Intervals]:
    """Penumbra-or-umbra windows and umbra windows of every satellite, refined."""

    def penumbra(idx: NDArray[np.int64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        return -shadow_margins_rad(fleet.teme_km_at(idx, sky.grid, t), sky.sun_at(t))[0]

    def umbra(idx: NDArray[np.int64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        return -shadow_margins_rad(fleet.teme_km_at(idx, sky.grid, t), sky.sun_at(t))[1]

    shadows, umbras = [], []
    offsets = sky.grid.offsets_seconds
    for where in fleet.chunks(chunk_size_for(sky.grid)):
        start = where.start

        def shifted(f: Evaluate, start: int = start) -> Evaluate:
            return lambda idx, t: f(idx + start, t)

        margin_pen, margin_umb = shadow_margins_rad(fleet.teme_km(sky.grid, where), sky.sun_teme_km)
        shadows.append(
            windows_where_positive(
                -margin_pen, offsets, shifted(penumbra), tolerance_seconds
            ).shifted(start)
        )
        umbras.append(
            windows_where_positive(-margin_umb, offsets, shifted(umbra), tolerance_seconds).shifted(
                start
            )
        )
    return Intervals.concat(shadows), Intervals.concat(umbras)


def contact_intervals(
    fleet: Fleet, sky: Sky, station: GroundStation, tolerance_seconds: float = 1e-3
) -> tuple[Intervals, NDArray[np.float64]]:
    """Passes above the station's mask, and each pass's maximum elevation (deg)."""
    mask_rad = np.radians(station.min_elevation_deg)

    def elevation(idx: NDArray[np.int64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        return elevation_rad(fleet.teme_km_at(idx, sky.grid, t), station, sky.gmst_at(t))

    parts = []
    offsets = sky.grid.offsets_seconds
    for where in fleet.chunks(chunk_size_for(sky.grid)):
        start = where.start
        margin = elevation_rad(fleet.teme_km(sky.grid, where), station, sky.gmst_rad) - mask_rad
        parts.append(
            windows_where_positive(
                margin,
                offsets,
                _offset_elevation(elevation, start, mask_rad),
                tolerance_seconds,
            ).shifted(start)
        )
    passes = Intervals.concat(parts)
    if not len(passes):
        return passes, np.zeros(0)
    _, peak = golden_section_max(
        elevation, passes.satellite, passes.start_seconds, passes.end_seconds
    )
    return passes, np.degrees(peak)


def _offset_elevation(elevation: Evaluate, start: int, mask_rad: float) -> Evaluate:
    """Elevation margin above the mask of chunk-local satellite indices."""

    def margin(idx: NDArray[np.int64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        return elevation(idx + start, t) - mask_rad

    return margin


def radiation_intervals(
    fleet: Fleet, sky: Sky, flux_model: FluxModel, threshold: float
) -> tuple[Intervals, NDArray[np.float64]]:
    """Windows where the flux exceeds `threshold`, and the peak flux sampled in each.

    Boundaries are interpolated on log flux between samples: the flux model's own
    resolution (a few degrees) does not warrant root finding.
    """
    parts, peaks = [], []
    offsets = sky.grid.offsets_seconds
    for where in fleet.chunks(chunk_size_for(sky.grid)):
        itrs = itrs_from_teme(fleet.teme_km(sky.grid, where), sky.gmst_rad[None, :])
        lat, lon, alt = geodetic(itrs)
        flux = np.asarray(flux_model(lat, lon, alt), dtype=np.float64)
        margin = np.log10(np.maximum(flux, 1e-12)) - np.log10(threshold)
        windows = windows_where_positive(margin, offsets, None)
        for sat, t0, t1 in zip(
            windows.satellite, windows.start_seconds, windows.end_seconds, strict=True
        ):
            inside = (offsets >= t0) & (offsets <= t1)
            peaks.append(float(flux[sat][inside].max()) if inside.any() else threshold)
        parts.append(windows.shifted(where.start))
    return Intervals.concat(parts), np.array(peaks)


def forecast(
    fleet: Fleet,
    sky: Sky,
    stations: Sequence[GroundStation] = (),
    flux_model: FluxModel | None = None,
    flux_threshold: float = 10.0,
) -> list[SatelliteForecast]:
    """Eclipses, contacts and radiation passes of every satellite over the sky's grid."""
    shadows, umbras = eclipse_intervals(fleet, sky)
    span = float(sky.grid.offsets_seconds[-1] - sky.grid.offsets_seconds[0])
    contacts: list[list[Contact]] = [[] for _ in fleet.satellites]
    for station in stations:
        passes, peaks = contact_intervals(fleet, sky, station)
        for sat, aos, los, peak in zip(
            passes.satellite, passes.start_seconds, passes.end_seconds, peaks, strict=True
        ):
            contacts[sat].append(Contact(station.name, float(aos), float(los), float(peak)))
    radiation: list[list[RadiationPass]] = [[] for _ in fleet.satellites]
    if flux_model is not None:
        windows, peaks = radiation_intervals(fleet, sky, flux_model, flux_threshold)
        for sat, t0, t1, peak in zip(
            windows.satellite, windows.start_seconds, windows.end_seconds, peaks, strict=True
        ):
            radiation[sat].append(RadiationPass(float(t0), float(t1), float(peak)))
    result = []
    for index, satellite in enumerate(fleet.satellites):
        eclipses = _with_umbra(shadows.of(index), umbras.of(index))
        dark = sum(e.duration_seconds for e in eclipses)
        result.append(
            SatelliteForecast(
                name=satellite.name,
                period_minutes=satellite.period_minutes,
                sunlit_fraction=1.0 - dark / span if span > 0 else 1.0,
                eclipses=tuple(eclipses),
                contacts=tuple(sorted(contacts[index], key=lambda c: c.aos_seconds)),
                radiation_passes=tuple(radiation[index]),
            )
        )
    return result


def _with_umbra(
    shadows: list[tuple[float, float]], umbras: list[tuple[float, float]]
) -> list[Eclipse]:
    """Attach to each shadow window the umbra window it contains (umbra ⊂ penumbra)."""
    eclipses = []
    for start, end in shadows:
        inside = [(u0, u1) for u0, u1 in umbras if u0 >= start - 1e-6 and u1 <= end + 1e-6]
        if inside:
            eclipses.append(
                Eclipse(
                    float(start),
                    float(end),
                    float(min(u[0] for u in inside)),
                    float(max(u[1] for u in inside)),
                )
            )
        else:
            eclipses.append(Eclipse(float(start), float(end), None, None))
    return eclipses
