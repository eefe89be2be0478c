"""PNG plots of a simulation: what each satellite lived through, and what each policy got.

Six kinds of figure, written by `write_plots`:

- `timeline-<policy>.png`: sunlight, battery state of charge and GPUs busy over the run
  for a few representative satellites (the least to the most sunlit), one file a policy.
- `goodput.png`: the fleet's cumulative useful GPU-hours per policy against the energy
  bound on each prefix of the run, and the running goodput ratio.
- `ground-track.png`: the ground tracks of a few satellites over two orbits, coloured by
  sunlight, over the South Atlantic Anomaly (AP8 flux at the constellation's altitude)
  and the ground stations' visibility circles. No basemap: a lat/lon grid only.
- `policies.png`: goodput ratio, completed and lost GPU-hours side by side per policy.
- With gang Jobs, `gang-links-<policy>.png`: where each gang last ran, on a picture of the
  fleet and its links that were up (a formation in its along-track / cross-track plane, a
  spread constellation in the plane of its widest spread), the gang's ring drawn in order;
  and `jobs.png`: each Job's progress over time per policy against its bound (every member
  computing without pause from the start), a marker where it finished.

Figures are built on matplotlib's object API with the Agg canvas: no pyplot state, no
display, safe in a server or a test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch
from numpy.typing import NDArray
from sgp4.api import SatrecArray

from kubesat.core.orbits import EARTH_RADIUS_KM
from kubesat.core.power import energy_bound_gpu_seconds
from kubesat.core.timebase import TimeGrid

if TYPE_CHECKING:
    from kubesat.core.workloads import JobSpec
    from kubesat.sim.outcome import GangView, Outcome
    from kubesat.sim.run import Environment, Scenario

DPI: Final = 110
MAX_TIMELINE_SATELLITES: Final = 6
MAX_TRACK_SATELLITES: Final = 4
TRACK_ORBITS: Final = 2.0
BOUND_PREFIXES: Final = 40  # points of the cumulative energy-bound curve
# Satellite-steps the prefix bounds may sort in total (~1 s); beyond it a spread subset
# of satellites gives the curve's shape and the exact fleet total scales it.
BOUND_BUDGET_SATELLITE_STEPS: Final = 20_000_000

FloatArray = NDArray[np.float64]

POLICY_COLOURS: Final = {"none": "#d62728", "reactive": "#ff7f0e", "predictive": "#1f77b4"}
OTHER_COLOURS: Final = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
SUNLIT_BG: Final = "#fff3c4"
ECLIPSE_BG: Final = "#c5cde0"
SOC_COLOUR: Final = "#7b2d8b"
GPU_COLOUR: Final = "#2a9d4b"
SUN_COLOUR: Final = "#f2a900"
PENUMBRA_COLOUR: Final = "#c06c84"
UMBRA_COLOUR: Final = "#1d2c5e"
FULL_SUN: Final = 0.999  # illuminated fraction counted as full sun in the plots
# A fleet within this distance of its centroid is a formation: drawn in its local frame
FORMATION_RADIUS_KM: Final = 100.0
METRES_PER_KM: Final = 1000.0
PROGRESS_AXIS_MIN: Final = 0.1  # the progress axis shows at least 0..0.1
MAX_JOB_PANELS: Final = 6  # Jobs drawn in jobs.png (the first ones of the scenario)
GANG_COLOUR: Final = "#d62728"
LINK_COLOUR: Final = "#9aa5b1"
FLEET_COLOUR: Final = "#8a8a8a"
BOUND_COLOUR: Final = "black"
LINKS_DRAWN_SOLID: Final = 100.0  # beyond this many links up, each is drawn fainter


def write_plots(
    directory: Path,
    scenario: Scenario,
    environment: Environment,
    outcomes: dict[str, Outcome],
) -> list[Path]:
    """Write the PNG figures of one simulation into `directory` (created); their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chosen = representative_satellites(environment, MAX_TIMELINE_SATELLITES)
    paths = []
    for policy, outcome in outcomes.items():
        figure = timeline_figure(scenario, environment, outcome, chosen)
        paths.append(_save(figure, directory / f"timeline-{_slug(policy)}.png"))
    if outcomes:
        paths.append(
            _save(goodput_figure(scenario, environment, outcomes), directory / "goodput.png")
        )
    paths.append(_save(ground_track_figure(scenario, environment), directory / "ground-track.png"))
    if outcomes:
        paths.append(
            _save(policies_figure(scenario, environment, outcomes), directory / "policies.png")
        )
    for policy, outcome in outcomes.items():
        if outcome.gang_views:
            figure = gang_links_figure(scenario, environment, outcome)
            paths.append(_save(figure, directory / f"gang-links-{_slug(policy)}.png"))
    if any(stats.gang for outcome in outcomes.values() for stats in outcome.jobs.values()):
        paths.append(_save(jobs_figure(scenario, environment, outcomes), directory / "jobs.png"))
    return paths


# ---------------------------------------------------------------------------- helpers


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI, facecolor="white")
    return path


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "policy"


def _policy_colour(policy: str, index: int) -> str:
    return POLICY_COLOURS.get(policy, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def _run_steps(environment: Environment) -> int:
    """Steps simulated (the conditions run on beyond them, for the lookahead)."""
    return max(1, min(environment.steps, int(environment.conditions.illumination.shape[1])))


def _title(scenario: Scenario, environment: Environment, what: str) -> str:
    c = environment.conditions
    start = c.grid.start_utc.strftime("%Y-%m-%d %H:%M UTC")
    hours = _run_steps(environment) * c.step_seconds / 3600.0
    return f"{scenario.constellation.name}: {what}  ({start}, {hours:g} h)"


def sample_times_seconds(environment: Environment, samples: int) -> tuple[FloatArray, FloatArray]:
    """Start and end offsets (s) of the steps the engine sampled its timeline at.

    `Cluster.run` records busy GPUs, state of charge and useful work after step k for
    every k divisible by `sample_every` (run.py: max(1, steps // 2000)), so S samples of a
    T-step run were taken every ceil(T / S) steps; sample i covers step i x that.
    """
    steps = _run_steps(environment)
    dt = environment.conditions.step_seconds
    every = max(1, math.ceil(steps / max(samples, 1)))
    start = np.arange(samples, dtype=np.float64) * (every * dt)
    return start, start + dt


def representative_satellites(environment: Environment, count: int) -> list[int]:
    """Up to `count` satellites spread from the least to the most sunlit over the run."""
    illumination = environment.conditions.illumination[:, : _run_steps(environment)]
    sunlit = (illumination >= FULL_SUN).mean(axis=1)
    order = np.argsort(sunlit, kind="stable")
    picks = np.unique(np.round(np.linspace(0, len(order) - 1, min(count, len(order)))))
    return sorted(int(order[int(p)]) for p in picks)


def _satellite(environment: Environment, row: int) -> int:
    """The fleet index of the satellite in row `row` of the kept conditions and timelines."""
    traced = environment.traced
    return int(traced[row]) if row < len(traced) else row


def _satellite_label(scenario: Scenario, environment: Environment, row: int) -> str:
    satellites = scenario.constellation.satellites
    index = _satellite(environment, row)
    return satellites[index].name if index < len(satellites) else f"satellite {index}"


# ---------------------------------------------------------------------------- timeline


def timeline_figure(
    scenario: Scenario, environment: Environment, outcome: Outcome, satellites: Sequence[int]
) -> Figure:
    """Per satellite, over a sunlit/eclipse background: state of charge, then GPUs busy."""
    c = environment.conditions
    power = scenario.constellation.power
    steps = _run_steps(environment)
    hours = c.grid.offsets_seconds[: steps + 1] / 3600.0
    soc = outcome.timeline.get("state_of_charge", np.zeros((len(c.illumination), 0)))
    busy = outcome.timeline.get("busy_gpus", np.zeros((len(c.illumination), 0)))
    starts, ends = sample_times_seconds(environment, soc.shape[1])
    rows = max(len(satellites), 1)
    figure = Figure(figsize=(12.5, 2.1 * rows + 1.2), layout="constrained")
    # per satellite a state-of-charge panel and a GPU strip; a blank row between satellites
    grid = figure.add_gridspec(3 * rows - 1, 1, height_ratios=([3.0, 1.2, 0.35] * rows)[:-1])
    first = None
    for row, sat in enumerate(satellites):
        charge_ax = figure.add_subplot(grid[3 * row], sharex=first)
        first = first or charge_ax
        gpu_ax = figure.add_subplot(grid[3 * row + 1], sharex=first)
        charge_ax.tick_params(axis="x", labelbottom=False)
        light = c.illumination[sat, :steps].astype(np.float64)
        lit = np.append(light >= FULL_SUN, light[-1] >= FULL_SUN)
        for ax in (charge_ax, gpu_ax):
            band = ax.get_xaxis_transform()
            ax.fill_between(
                hours, 0, 1, where=lit, step="post", color=SUNLIT_BG, lw=0, transform=band
            )
            ax.fill_between(
                hours, 0, 1, where=~lit, step="post", color=ECLIPSE_BG, lw=0, transform=band
            )
        if starts.size:
            charge_ax.plot(ends / 3600.0, 100.0 * soc[sat], color=SOC_COLOUR, lw=1.6)
            gpu_ax.fill_between(
                np.append(starts, ends[-1]) / 3600.0,
                np.append(busy[sat], busy[sat][-1]),
                step="post",
                color=GPU_COLOUR,
                alpha=0.75,
                lw=0,
            )
        charge_ax.axhline(100.0 * power.floor_soc, color="0.35", ls="--", lw=0.9)
        charge_ax.set_ylim(0, 105)
        charge_ax.set_yticks([0, 50, 100])
        charge_ax.set_ylabel("charge %", fontsize=9)
        charge_ax.tick_params(axis="x", length=0)
        gpu_ax.set_ylim(0, max(power.gpus, 1) * 1.1)
        gpu_ax.set_yticks(sorted({0, power.gpus // 2, power.gpus}))
        gpu_ax.set_ylabel("GPUs", fontsize=9)
        gpu_ax.tick_params(axis="y", labelsize=8)
        share = float(np.mean(light >= FULL_SUN))
        label = _satellite_label(scenario, environment, sat)
        charge_ax.set_title(
            f"{label}: {100 * share:.0f}% of the run in full sun",
            loc="left",
            fontsize=9.5,
            pad=3,
        )
        charge_ax.set_xlim(hours[0], hours[-1])
        if row < rows - 1:
            gpu_ax.tick_params(axis="x", labelbottom=False)
    if first is not None:
        figure.axes[-1].set_xlabel("hours since start")
    figure.suptitle(
        _title(scenario, environment, f"policy '{outcome.policy}', representative satellites"),
        fontsize=12,
    )
    figure.legend(
        handles=[
            Patch(color=SUNLIT_BG, label="full sun"),
            Patch(color=ECLIPSE_BG, label="eclipse (penumbra or umbra)"),
            Line2D([], [], color=SOC_COLOUR, lw=1.6, label="battery state of charge"),
            Line2D([], [], color="0.35", ls="--", lw=0.9, label="depth-of-discharge floor"),
            Patch(color=GPU_COLOUR, alpha=0.75, label="GPUs busy"),
        ],
        loc="outside lower center",
        ncols=5,
        frameon=False,
        fontsize=9,
    )
    return figure


# ---------------------------------------------------------------------------- goodput


def cumulative_energy_bound(
    scenario: Scenario,
    environment: Environment,
    total_gpu_seconds: float | None = None,
    prefixes: int = BOUND_PREFIXES,
    budget: int = BOUND_BUDGET_SATELLITE_STEPS,
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    """The energy bound on each prefix [0, t) of the run: times (s), GPU-seconds, a label.

    `energy_bound_gpu_seconds` on `prefixes` prefixes of the run (the bound of a prefix is
    what any schedule could have powered by then; it is not a running sum of one bound).
    If that would sort more than `budget` satellite-steps, it is computed on a subset of
    satellites spread over the fleet and scaled so its end equals the exact fleet total
    (`total_gpu_seconds`, the goodput denominator the report uses); the label says so.
    """
    c = environment.conditions
    power = scenario.constellation.power
    steps = _run_steps(environment)
    dt = c.step_seconds
    n = c.illumination.shape[0]
    fleet = len(scenario.constellation.satellites)  # the kept rows may be a spread subset
    lengths = np.unique(np.round(np.linspace(0, steps, prefixes + 1)).astype(np.int64))
    lengths = lengths[lengths > 0]
    cost = n * int(lengths.sum())
    subset = n if cost <= budget else max(1, int(n * budget / cost))
    chosen = np.unique(np.round(np.linspace(0, n - 1, subset)).astype(np.int64))
    illumination = c.illumination[chosen, :steps].astype(np.float64)
    initial = scenario.constellation.initial_state_of_charge
    bound = np.array(
        [energy_bound_gpu_seconds(power, illumination[:, :k], dt, initial).sum() for k in lengths]
    )
    label = f"energy bound (exact, {len(lengths)} prefixes)"
    if len(chosen) < fleet:
        if total_gpu_seconds is None and n < fleet:
            total_gpu_seconds = float(bound[-1]) * fleet / len(chosen)
        if total_gpu_seconds is None:
            total_gpu_seconds = float(
                energy_bound_gpu_seconds(
                    power, c.illumination[:, :steps].astype(np.float64), dt, initial
                ).sum()
            )
        scale = total_gpu_seconds / bound[-1] if bound[-1] > 0 else fleet / len(chosen)
        bound = bound * scale
        label = (
            f"energy bound ({len(chosen)} of {fleet} satellites, {len(lengths)} prefixes, "
            "scaled to the fleet total)"
        )
    times = np.concatenate([[0.0], lengths * dt])
    return times, np.concatenate([[0.0], bound]), label


def goodput_figure(
    scenario: Scenario, environment: Environment, outcomes: dict[str, Outcome]
) -> Figure:
    """Cumulative useful GPU-hours per policy against the energy bound; running goodput."""
    first = next(iter(outcomes.values()))
    bound_t, bound, bound_label = cumulative_energy_bound(
        scenario, environment, first.energy_bound_gpu_seconds or None
    )
    demand = first.demand_gpu_seconds
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.plot(bound_t / 3600, bound / 3600, color="black", ls="--", lw=1.5, label=bound_label)
    if 0 < demand < 1.2 * bound[-1]:
        top.axhline(demand / 3600, color="0.5", ls=":", lw=1.2, label="work the jobs ask for")
    reachable = np.minimum(bound, demand) if demand > 0 else bound
    for index, (policy, outcome) in enumerate(outcomes.items()):
        useful = np.asarray(outcome.timeline.get("useful_gpu_seconds", np.zeros(0)), float)
        _, ends = sample_times_seconds(environment, useful.size)
        colour = _policy_colour(policy, index)
        top.plot(
            ends / 3600,
            useful / 3600,
            color=colour,
            lw=2,
            label=f"{policy}: {outcome.completed_gpu_seconds / 3600:,.0f} GPU-h useful",
        )
        # ratio on the prefix grid: useful work by t over what was reachable by t
        at_bound = np.interp(bound_t[1:], ends, useful) if useful.size else bound_t[1:] * 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(reachable[1:] > 0, at_bound / reachable[1:], np.nan)
        bottom.plot(
            bound_t[1:] / 3600,
            ratio,
            color=colour,
            lw=2,
            marker="o",
            ms=3,
            label=f"{policy}: {outcome.goodput_ratio:.3f} at the end",
        )
    top.set_ylabel("cumulative GPU-hours")
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize=9)
    top.set_title("Useful work (kept progress of every job) vs. what the sunlight could power")
    bottom.set_ylabel("goodput ratio")
    bottom.set_xlabel("hours since start")
    bottom.set_ylim(0, 1.05)
    bottom.axhline(1.0, color="black", lw=0.8)
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="lower right", fontsize=9)
    bottom.set_title(
        "Goodput so far = useful GPU-seconds by t / min(energy bound by t, job demand)",
        fontsize=10,
    )
    bottom.set_xlim(0, bound_t[-1] / 3600)
    figure.suptitle(_title(scenario, environment, "fleet goodput"), fontsize=12)
    return figure


# ---------------------------------------------------------------------------- ground track


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
    from matplotlib.ticker import FuncFormatter

    def format_degrees(value: float, _: Any) -> str:
        if abs(value) < 1e-9:
            return "0°"
        return f"{abs(value):g}°{positive if value > 0 else negative}"

    return FuncFormatter(format_degrees)


# ---------------------------------------------------------------------------- policies


def policies_figure(
    scenario: Scenario, environment: Environment, outcomes: dict[str, Outcome]
) -> Figure:
    """Bars per policy: goodput ratio, completed GPU-hours against the bound, lost GPU-hours."""
    names = list(outcomes)
    colours = [_policy_colour(p, i) for i, p in enumerate(names)]
    x = np.arange(len(names))
    figure = Figure(figsize=(12, 4.8), layout="constrained")
    ratio_ax, done_ax, lost_ax = figure.subplots(1, 3)

    ratios = [o.goodput_ratio for o in outcomes.values()]
    bars = ratio_ax.bar(x, ratios, color=colours, width=0.6)
    ratio_ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=9)
    ratio_ax.set_ylim(0, 1.1)
    ratio_ax.set_title("goodput ratio\n(useful / min(energy bound, demand))", fontsize=10)

    completed = [o.completed_gpu_seconds / 3600 for o in outcomes.values()]
    bars = done_ax.bar(x, completed, color=colours, width=0.6)
    done_ax.bar_label(bars, fmt="{:,.0f}", padding=2, fontsize=9)
    bound = max(o.energy_bound_gpu_seconds for o in outcomes.values()) / 3600
    done_ax.axhline(bound, color="black", ls="--", lw=1.2)
    done_ax.annotate(
        f"energy bound {bound:,.0f}",
        (1.0, bound),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 4),
        textcoords="offset points",
        ha="right",
        fontsize=8.5,
    )
    done_ax.set_ylim(0, max([bound, *completed]) * 1.15 or 1)
    done_ax.set_title("useful work\n(GPU-hours)", fontsize=10)

    lost = [o.lost_gpu_seconds / 3600 for o in outcomes.values()]
    bars = lost_ax.bar(x, lost, color=colours, width=0.6)
    lost_ax.bar_label(bars, fmt="{:,.1f}", padding=2, fontsize=9)
    lost_ax.set_ylim(0, max(lost) * 1.15 or 1)
    lost_ax.set_title("work lost since the last checkpoint\n(GPU-hours)", fontsize=10)

    for ax in (ratio_ax, done_ax, lost_ax):
        ax.set_xticks(x, names)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    figure.suptitle(_title(scenario, environment, "policies compared"), fontsize=12)
    return figure


# ---------------------------------------------------------------------------- gangs


def is_formation(position_km: FloatArray) -> bool:
    """Whether every satellite is within FORMATION_RADIUS_KM of the fleet's centroid."""
    offsets = position_km - position_km.mean(axis=0)
    return bool(np.linalg.norm(offsets, axis=1).max() <= FORMATION_RADIUS_KM)


def formation_frame_m(position_km: FloatArray, velocity_km_s: FloatArray) -> FloatArray:
    """(N, 2) along-track and cross-track offsets from the centroid, in metres.

    The local orbital frame of the centroid: radial out from the Earth's centre, in-track
    along the mean velocity with its radial part removed, cross-track completing the
    right-handed triad (the orbit normal).
    """
    centroid = position_km.mean(axis=0)
    radial = centroid / np.linalg.norm(centroid)
    velocity = velocity_km_s.mean(axis=0)
    in_track = velocity - (velocity @ radial) * radial
    in_track /= np.linalg.norm(in_track)
    cross_track = np.cross(radial, in_track)
    offsets_m = (position_km - centroid) * METRES_PER_KM
    return np.column_stack([offsets_m @ in_track, offsets_m @ cross_track])


def widest_plane_km(position_km: FloatArray) -> FloatArray:
    """(N, 2) positions about the Earth's centre in the plane of the fleet's widest spread
    (the two principal axes: a single orbital plane is seen face on, as a ring)."""
    _, _, axes = np.linalg.svd(position_km - position_km.mean(axis=0), full_matrices=False)
    return np.asarray(position_km @ axes[:2].T, dtype=np.float64)


def _velocity_km_s(scenario: Scenario, at_seconds: float) -> FloatArray:
    """SGP4 TEME velocities (N, 3) of every satellite `at_seconds` after the clock's start."""
    grid = TimeGrid(scenario.constellation.clock.start_utc, np.array([at_seconds]))
    jd, fr = grid.jd_utc_parts()
    satrecs = SatrecArray([s.satrec for s in scenario.constellation.satellites])
    _, _, velocity = satrecs.sgp4(jd, fr)
    return np.asarray(velocity[:, 0, :], dtype=np.float64)


def gang_links_figure(scenario: Scenario, environment: Environment, outcome: Outcome) -> Figure:
    """One panel per gang: the fleet, its links up, the gang's satellites and ring."""
    views = list(outcome.gang_views.items())
    figure = Figure(figsize=(max(8.5, 6.4 * len(views)), 6.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, len(views)))
    for ax, (name, view) in zip(axes, views, strict=True):
        draw_gang(ax, scenario, name, view)
    figure.suptitle(
        _title(scenario, environment, f"where the gangs ran, {outcome.policy}"), fontsize=12
    )
    return figure


def draw_gang(ax: Axes, scenario: Scenario, name: str, view: GangView) -> None:
    """The fleet as grey dots, links up as thin lines, the gang highlighted, its ring in
    order (member 0 labelled, then the ring's direction)."""
    position_km = np.asarray(view.position_km, dtype=np.float64)
    if is_formation(position_km):
        xy = formation_frame_m(position_km, _velocity_km_s(scenario, view.at_seconds))
        ax.set_xlabel("along-track (m)")
        ax.set_ylabel("cross-track (m)")
    else:
        xy = widest_plane_km(position_km)
        ax.add_patch(Circle((0.0, 0.0), EARTH_RADIUS_KM, color="#dfe8f3", zorder=0, label="Earth"))
        ax.set_xlabel("km, in the plane of the fleet's widest spread")
        ax.set_ylabel("km")
    links = np.asarray(view.links_up, dtype=np.int64).reshape(-1, 2)
    ax.add_collection(
        LineCollection(
            list(xy[links]),
            colors=LINK_COLOUR,
            linewidths=0.6,
            alpha=min(0.8, LINKS_DRAWN_SOLID / max(links.shape[0], 1)),
            zorder=1,
            gid="links-up",
        )
    )
    ax.scatter(xy[:, 0], xy[:, 1], s=14, color=FLEET_COLOUR, zorder=2, gid="fleet")
    ring = np.asarray(view.satellites, dtype=np.int64)
    members = np.unique(ring)
    if ring.size:
        loop = xy[np.append(ring, ring[0])]
        ax.plot(loop[:, 0], loop[:, 1], color=GANG_COLOUR, lw=2.0, zorder=3, gid="ring")
        ax.scatter(
            xy[members, 0],
            xy[members, 1],
            s=70,
            color=GANG_COLOUR,
            edgecolor="black",
            zorder=4,
            gid="gang-satellites",
        )
        for order, sat in enumerate(ring):
            ax.annotate(str(order), xy[sat], xytext=(5, 5), textcoords="offset points", fontsize=8)
    step = "not running" if view.step_seconds is None else f"step {view.step_seconds:.2f} s"
    ax.set_title(
        f"{name}: {ring.size} members on {members.size} satellites, {step}\n"
        f"{links.shape[0]} links up, at {view.at_seconds / 3600.0:.1f} h",
        fontsize=10,
    )
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.grid(True, alpha=0.3)
    ax.legend(
        handles=[
            Line2D([], [], color=FLEET_COLOUR, marker="o", ls="", label="satellite"),
            Line2D([], [], color=LINK_COLOUR, lw=1, label="link up"),
            Line2D([], [], color=GANG_COLOUR, marker="o", lw=2, label="gang ring"),
        ],
        loc="upper right",
        fontsize=8,
    )


# ---------------------------------------------------------------------------- jobs


def progress_bound(spec: JobSpec, seconds: FloatArray) -> FloatArray:
    """A Job's progress if every member computed at full rate from its arrival (t = 0)."""
    waves = math.ceil(spec.completions / max(spec.parallelism, 1))
    full_rate_seconds = spec.work_gpu_seconds / spec.gpus_per_pod * waves
    return np.minimum(1.0, seconds / full_rate_seconds)


def jobs_figure(
    scenario: Scenario, environment: Environment, outcomes: dict[str, Outcome]
) -> Figure:
    """One panel per Job: its progress per policy over time, against its bound."""
    specs = list(scenario.jobs[:MAX_JOB_PANELS])
    figure = Figure(figsize=(11, 1.0 + 3.0 * max(len(specs), 1)), layout="constrained")
    axes = np.atleast_1d(figure.subplots(max(len(specs), 1), 1, squeeze=False)[:, 0])
    hours = _run_steps(environment) * environment.conditions.step_seconds / 3600.0
    for ax, spec in zip(axes, specs, strict=False):
        draw_job(ax, environment, spec, outcomes)
        ax.set_xlim(0, hours)
    axes[-1].set_xlabel("simulated hours")
    figure.suptitle(_title(scenario, environment, "Job progress"), fontsize=12)
    return figure


def draw_job(
    ax: Axes, environment: Environment, spec: JobSpec, outcomes: dict[str, Outcome]
) -> None:
    """Progress per policy (a dot where the Job finished) and the full-rate bound."""
    end_seconds = _run_steps(environment) * environment.conditions.step_seconds
    seconds = np.linspace(0.0, end_seconds, BOUND_PREFIXES * 5)
    bound = progress_bound(spec, seconds)
    highest = float(bound.max())
    ax.plot(
        seconds / 3600.0,
        bound,
        color=BOUND_COLOUR,
        ls="--",
        lw=1.2,
        label="bound: every member computing from the start",
        gid="bound",
    )
    for index, (policy, outcome) in enumerate(outcomes.items()):
        progress = outcome.job_progress.get(spec.name)
        if progress is None or progress.size == 0:
            continue
        _, ends = sample_times_seconds(environment, progress.size)
        colour = _policy_colour(policy, index)
        ax.plot(
            ends / 3600.0, progress, color=colour, lw=1.6, label=policy, gid=f"progress-{policy}"
        )
        stats = outcome.jobs.get(spec.name)
        if stats is not None and stats.finished and stats.finish_seconds is not None:
            ax.plot(
                stats.finish_seconds / 3600.0,
                1.0,
                marker="o",
                ms=8,
                color=colour,
                markeredgecolor="black",
                ls="",
                gid=f"finished-{policy}",
            )
    ax.set_ylim(0, max(PROGRESS_AXIS_MIN, min(1.05, 1.15 * highest)))
    kind = f"gang of {spec.parallelism}" if spec.gang else f"{spec.completions} completions"
    ax.set_title(f"{spec.name} ({kind} x {spec.gpus_per_pod} GPU)", fontsize=10)
    ax.set_ylabel("progress")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
