"""What every satellite experiences at every step: sunlight, link, radiation, shadow timing.

Computed once per run over the whole grid (chunked over satellites), so the simulator's
time loop only reads columns. float32 and bool keep 1000 satellites x 1 day near 250 MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Final, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from kubesat.core.forecast import FluxModel, chunk_size_for
from kubesat.core.geometry import Sky
from kubesat.core.ground import GroundStation, elevation_rad
from kubesat.core.orbits import Fleet, geodetic, itrs_from_teme
from kubesat.core.sunlight import illuminated_fraction
from kubesat.core.timebase import TimeGrid

FloatT = TypeVar("FloatT", bound=np.floating[Any])


@dataclass(frozen=True, kw_only=True)
class EnvironmentArrays(Generic[FloatT]):
    """The environment's per-satellite quantities, declared once for both shapes: a time
    series (N, T) in `FleetConditions`, one step (N,) in the engine's `Column`."""

    illumination: NDArray[FloatT]  # fraction of the solar disc visible, 0..1
    link: NDArray[np.bool_]  # a ground station sees the satellite above its mask
    flux: NDArray[FloatT]  # trapped-proton flux (cm⁻² s⁻¹), 0 without a flux model
    latitude_deg: NDArray[FloatT]
    longitude_deg: NDArray[FloatT]
    altitude_km: NDArray[FloatT]
    seconds_to_shadow: NDArray[FloatT]  # 0 in shadow, inf when none is forecast
    shadow_seconds: NDArray[FloatT]  # length of the coming (or remaining) shadow
    downlink_bps: NDArray[FloatT] | None = None  # best rate in view, 0 out of contact
    # TEME positions (km), a trailing axis of 3; kept only for links between satellites
    position_km: NDArray[FloatT] | None = None


ENVIRONMENT_FIELDS: Final = tuple(field.name for field in fields(EnvironmentArrays))


@dataclass(frozen=True, kw_only=True)
class FleetConditions(EnvironmentArrays[np.float32]):
    """The environment of every satellite at every step of `grid`: arrays of shape (N, T)
    (positions (N, T, 3)); the shadow timing has no steps when computed with
    `timing=False`."""

    grid: TimeGrid

    @property
    def step_seconds(self) -> float:
        offsets = self.grid.offsets_seconds
        return float(offsets[1] - offsets[0]) if len(offsets) > 1 else 0.0


def compute_link(fleet: Fleet, sky: Sky, stations: Sequence[GroundStation]) -> NDArray[np.bool_]:
    """(N, T): whether any station sees each satellite above its elevation mask (the
    link column of `compute_conditions`, alone: when the stations change)."""
    return compute_link_rate(fleet, sky, stations)[0]


def compute_link_rate(
    fleet: Fleet, sky: Sky, stations: Sequence[GroundStation]
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """(N, T) link, and the best downlink rate of the stations in view (bits/s)."""
    grid = sky.grid
    link = np.zeros((len(fleet), len(grid)), np.bool_)
    rate = np.zeros((len(fleet), len(grid)), np.float32)
    if not stations:
        return link, rate
    for where in fleet.chunks(chunk_size_for(grid)):
        teme = fleet.teme_km(grid, where)
        _station_visibility(teme, sky, stations, where, link, rate)
    return link, rate


def _station_visibility(
    teme: NDArray[np.float64],
    sky: Sky,
    stations: Sequence[GroundStation],
    where: slice,
    link: NDArray[np.bool_],
    rate: NDArray[np.float32],
) -> None:
    """Mark the satellites of `where` each station sees, and the best rate in view."""
    for station in stations:
        seen = elevation_rad(teme, station, sky.gmst_rad) > np.radians(station.min_elevation_deg)
        link[where] |= seen
        rate[where] = np.maximum(rate[where], np.where(seen, station.data_rate_bps, 0.0))


def compute_conditions(
    fleet: Fleet,
    sky: Sky,
    stations: Sequence[GroundStation] = (),
    flux_model: FluxModel | None = None,
    keep_positions: bool = False,
    timing: bool = True,
) -> FleetConditions:
    """Sample the environment of every satellite on the sky's (regular) grid.

    `keep_positions`: also return the TEME positions propagated on the way (float32,
    12 bytes per satellite and step), for the links between satellites. `timing=False`
    leaves out the shadow timing (its two arrays have no steps): for a caller that times
    shadows over more than this grid (`WindowedEnvironment`).
    """
    grid = sky.grid
    n, t = len(fleet), len(grid)
    illumination = np.empty((n, t), np.float32)
    link = np.zeros((n, t), np.bool_)
    rate = np.zeros((n, t), np.float32)
    flux = np.zeros((n, t), np.float32)
    lat = np.empty((n, t), np.float32)
    lon = np.empty((n, t), np.float32)
    height = np.empty((n, t), np.float32)
    position = np.empty((n, t, 3), np.float32) if keep_positions else None
    for where in fleet.chunks(chunk_size_for(grid)):
        teme = fleet.teme_km(grid, where)
        if position is not None:
            position[where] = teme
        illumination[where] = illuminated_fraction(teme, sky.sun_teme_km)
        _station_visibility(teme, sky, stations, where, link, rate)
        la, lo, alt = geodetic(itrs_from_teme(teme, sky.gmst_rad[None, :]))
        lat[where], lon[where], height[where] = la, lo, alt
        if flux_model is not None:
            flux[where] = flux_model(la, lo, alt)
    step = float(grid.offsets_seconds[1] - grid.offsets_seconds[0]) if t > 1 else 1.0
    to_shadow = np.empty((n, t if timing else 0), np.float32)
    shadow_length = np.empty((n, t if timing else 0), np.float32)
    for where in fleet.chunks(max(1, chunk_size_for(grid) // 4)) if timing else ():
        to_shadow[where], shadow_length[where] = shadow_timing(illumination[where] < 1.0, step)
    # in the order EnvironmentArrays declares its fields
    arrays = (illumination, link, flux, lat, lon, height, to_shadow, shadow_length, rate, position)
    environment: dict[str, Any] = dict(zip(ENVIRONMENT_FIELDS, arrays, strict=True))
    return FleetConditions(grid=grid, **environment)


def shadow_timing(
    shadow: NDArray[np.bool_], step_seconds: float
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Seconds until the next shadow step, and the length of that shadow (or what is left).

    Beyond the grid nothing is known: no further shadow counts as infinitely far.
    """
    t = shadow.shape[1]
    # step indices fit 32 bits (half the memory traffic of the default 64)
    index = np.arange(t, dtype=np.int32)
    never = np.int32(t + 10**9)
    next_shadow = np.minimum.accumulate(np.where(shadow, index, never)[:, ::-1], axis=1)[:, ::-1]
    next_sun = np.minimum.accumulate(np.where(~shadow, index, np.int32(t))[:, ::-1], axis=1)
    next_sun = next_sun[:, ::-1]
    to_shadow = np.where(next_shadow >= never, np.inf, (next_shadow - index) * step_seconds)
    start = np.minimum(next_shadow, np.int32(t - 1))
    sun_after = np.take_along_axis(next_sun, start, axis=1)
    length = np.where(next_shadow >= never, 0.0, (sun_after - start) * step_seconds)
    return to_shadow.astype(np.float32), length.astype(np.float32)
