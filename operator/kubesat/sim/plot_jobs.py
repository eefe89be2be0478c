"""Figures of the Jobs: where each gang last ran, on the fleet and its links up, and each
Job's progress per policy against its full-rate bound."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle
from sgp4.api import SatrecArray

from kubesat.core.orbits import EARTH_RADIUS_KM
from kubesat.core.timebase import TimeGrid
from kubesat.sim.plot_run import (
    BOUND_PREFIXES,
    FloatArray,
    _run_steps,
    _title,
    sample_times_seconds,
)
from kubesat.sim.plot_style import (
    BOUND_COLOUR,
    FLEET_COLOUR,
    GANG_COLOUR,
    LINK_COLOUR,
    _policy_colour,
)

if TYPE_CHECKING:
    from kubesat.core.workloads import JobSpec
    from kubesat.sim.outcome import GangView, Outcome
    from kubesat.sim.run import Environment, Scenario

# A fleet within this distance of its centroid is a formation: drawn in its local frame
FORMATION_RADIUS_KM: Final = 100.0
METRES_PER_KM: Final = 1000.0
PROGRESS_AXIS_MIN: Final = 0.1  # the progress axis shows at least 0..0.1
MAX_JOB_PANELS: Final = 6  # Jobs drawn in jobs.png (the first ones of the scenario)
LINKS_DRAWN_SOLID: Final = 100.0  # beyond this many links up, each is drawn fainter


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
