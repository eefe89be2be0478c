"""The ground-track figure: a few satellites' tracks coloured by sunlight, over the South
Atlantic Anomaly and the ground stations' visibility circles, on a lat/lon grid."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from kubesat.core.orbits import EARTH_RADIUS_KM
from kubesat.sim.plot_run import (
    FloatArray,
    _run_steps,
    _satellite,
    _satellite_label,
    _title,
    representative_satellites,
)
from kubesat.sim.plot_style import PENUMBRA_COLOUR, SUN_COLOUR, UMBRA_COLOUR

if TYPE_CHECKING:
    from kubesat.sim.run import Environment, Scenario

MAX_TRACK_SATELLITES: Final = 4
TRACK_ORBITS: Final = 2.0


def _wrap_breaks(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Insert NaNs where a track jumps across the ±180° meridian, so lines do not streak."""
    jumps = np.flatnonzero(np.abs(np.diff(lon)) > 180.0) + 1
    return np.insert(lon, jumps, np.nan), np.insert(lat, jumps, np.nan)


def _visibility_circle(
    lat_deg: float, lon_deg: float, altitude_km: float, mask_deg: float
) -> tuple[FloatArray, FloatArray]:
    """Points under which a satellite at `altitude_km` is above a station's mask.

    Earth central angle of the circle: lambda = arccos(R cos(e) / (R + h)) - e
    (spherical Earth, Wertz & Larson, SMAD eq. 5-15).
    """
    e = math.radians(mask_deg)
    central = math.acos(EARTH_RADIUS_KM * math.cos(e) / (EARTH_RADIUS_KM + altitude_km)) - e
    phi, lam = math.radians(lat_deg), math.radians(lon_deg)
    bearing = np.linspace(0, 2 * np.pi, 241)
    lat2 = np.arcsin(
        math.sin(phi) * math.cos(central) + math.cos(phi) * math.sin(central) * np.cos(bearing)
    )
    lon2 = lam + np.arctan2(
        np.sin(bearing) * math.sin(central) * math.cos(phi),
        math.cos(central) - math.sin(phi) * np.sin(lat2),
    )
    lon_deg2 = (np.degrees(lon2) + 180.0) % 360.0 - 180.0
    return _wrap_breaks(lon_deg2, np.degrees(lat2))


def _saa_flux(
    scenario: Scenario, altitude_km: float
) -> tuple[FloatArray, FloatArray, FloatArray] | None:
    """AP8 >10 MeV proton flux on a lat/lon grid at `altitude_km`, drifted to the run's year.

    Only when the scenario has radiation on: `prepare` has then built the cached grid.
    """
    c = scenario.constellation
    if not c.radiation.enabled:
        return None
    from kubesat.core.radiation import ProtonFluxGrid, decimal_year, solar_phase

    grid = ProtonFluxGrid.load_or_build(solar_phase(c.radiation.model))
    year = decimal_year(c.clock.start_utc)  # as prepare() does
    altitude = float(np.clip(altitude_km, grid.spec.altitude_min_km, grid.spec.altitude_max_km))
    lat = np.linspace(-89.0, 89.0, 179)
    lon = np.linspace(-180.0, 180.0, 241)
    flux = grid.flux(lat[:, None], lon[None, :], altitude, year)
    return lon, lat, np.asarray(flux, dtype=np.float64)


def ground_track_figure(scenario: Scenario, environment: Environment) -> Figure:
    """Tracks of a few satellites over two orbits, coloured by sunlight, over the SAA."""
    c = environment.conditions
    constellation = scenario.constellation
    steps_total = c.illumination.shape[1]
    satellites = representative_satellites(environment, MAX_TRACK_SATELLITES)
    periods = [
        constellation.satellites[_satellite(environment, s)].period_minutes for s in satellites
    ]
    span = max(2, min(steps_total, round(TRACK_ORBITS * max(periods) * 60 / c.step_seconds) + 1))
    altitude = float(np.median(c.altitude_km[:, : _run_steps(environment)]))
    threshold = constellation.radiation.saa_flux_threshold

    figure = Figure(figsize=(13, 6.6), layout="constrained")
    ax = figure.subplots()
    ax.set_facecolor("#f4f6fa")
    ax.set_axisbelow(True)  # the lat/lon grid under the SAA and the tracks
    saa = _saa_flux(scenario, altitude)
    if saa is not None and float(saa[2].max()) > threshold:
        lon, lat, flux = saa
        log_flux = np.log10(np.maximum(flux, 1e-3))
        top = float(log_flux.max())
        levels = np.linspace(math.log10(threshold), top, 8)
        shading = ax.contourf(lon, lat, log_flux, levels=levels, cmap="Reds", alpha=0.55)
        ax.contour(
            lon, lat, log_flux, levels=[math.log10(threshold)], colors="#a50f15", linewidths=1.2
        )
        bar = figure.colorbar(shading, cax=ax.inset_axes((1.015, 0.1, 0.018, 0.8)))
        ticks = list(range(math.ceil(levels[0]), math.floor(top) + 1))
        bar.set_ticks(ticks, labels=[f"$10^{{{t}}}$" for t in ticks])
        bar.set_label(
            f"AP8{constellation.radiation.model[-3:].upper()} proton flux >10 MeV at "
            f"{altitude:.0f} km, cm$^{{-2}}$ s$^{{-1}}$ (SAA: > {threshold:g})"
        )
    cmap = LinearSegmentedColormap.from_list(
        "sunlight", [UMBRA_COLOUR, PENUMBRA_COLOUR, SUN_COLOUR]
    )
    for sat in satellites:
        lon = c.longitude_deg[sat, :span].astype(np.float64)
        lat = c.latitude_deg[sat, :span].astype(np.float64)
        light = c.illumination[sat, :span].astype(np.float64)
        line_lon, line_lat = _wrap_breaks(lon, lat)
        ax.plot(line_lon, line_lat, color="0.45", lw=0.6, zorder=2)
        ax.scatter(lon, lat, c=light, cmap=cmap, vmin=0, vmax=1, s=5, lw=0, zorder=3)
        ax.plot(lon[0], lat[0], marker="o", ms=7, mfc="white", mec="black", zorder=4)
        ax.annotate(
            _satellite_label(scenario, environment, sat),
            (lon[0], lat[0]),
            xytext=(6, 4),
            textcoords="offset points",
            fontsize=8,
            zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        )
    for station in constellation.stations:
        circle_lon, circle_lat = _visibility_circle(
            station.latitude_deg, station.longitude_deg, altitude, station.min_elevation_deg
        )
        ax.plot(circle_lon, circle_lat, color="#2a6f4e", lw=1.0, ls=(0, (4, 2)), zorder=2)
        lon0 = (station.longitude_deg + 180.0) % 360.0 - 180.0
        ax.plot(
            lon0, station.latitude_deg, marker="^", ms=9, color="#2a6f4e", mec="white", zorder=4
        )
        ax.annotate(
            station.name,
            (lon0, station.latitude_deg),
            xytext=(6, -10),
            textcoords="offset points",
            fontsize=8,
            color="#1d4d36",
            zorder=5,
        )
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(-180, 181, 30))
    ax.set_yticks(np.arange(-90, 91, 30))
    ax.xaxis.set_major_formatter(_degree_formatter("E", "W"))
    ax.yaxis.set_major_formatter(_degree_formatter("N", "S"))
    ax.grid(True, color="white", lw=1.0)
    ax.axhline(0, color="0.6", lw=0.8, zorder=1)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    hours = (span - 1) * c.step_seconds / 3600
    ax.legend(
        handles=[
            Line2D([], [], ls="", marker="o", color=SUN_COLOUR, label="full sun"),
            Line2D([], [], ls="", marker="o", color=PENUMBRA_COLOUR, label="penumbra"),
            Line2D([], [], ls="", marker="o", color=UMBRA_COLOUR, label="umbra (eclipse)"),
            Line2D([], [], ls="", marker="o", mfc="white", mec="black", label="start of track"),
            Line2D([], [], ls=(0, (4, 2)), color="#2a6f4e", marker="^", label="station visibility"),
            Patch(fc="#fc9272", ec="#a50f15", alpha=0.7, label="South Atlantic Anomaly"),
        ],
        loc="lower left",
        fontsize=8,
        framealpha=0.9,
    )
    figure.suptitle(
        _title(
            scenario,
            environment,
            f"ground tracks of {len(satellites)} satellites over the first {hours:.1f} h "
            f"(~{TRACK_ORBITS:g} orbits)",
        ),
        fontsize=12,
    )
    return figure


def _degree_formatter(positive: str, negative: str) -> Any:
    """A tick formatter writing degrees with a hemisphere letter (30°N, 60°W, 0°)."""
    from matplotlib.ticker import FuncFormatter

    def format_degrees(value: float, _: Any) -> str:
        if abs(value) < 1e-9:
            return "0°"
        return f"{abs(value):g}°{positive if value > 0 else negative}"

    return FuncFormatter(format_degrees)
