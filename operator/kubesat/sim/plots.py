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

from pathlib import Path
from typing import TYPE_CHECKING, Final

from kubesat.sim.plot_fleet import cumulative_energy_bound as cumulative_energy_bound
from kubesat.sim.plot_fleet import goodput_figure as goodput_figure
from kubesat.sim.plot_fleet import policies_figure as policies_figure
from kubesat.sim.plot_fleet import timeline_figure as timeline_figure
from kubesat.sim.plot_ground_track import ground_track_figure as ground_track_figure
from kubesat.sim.plot_jobs import draw_gang as draw_gang
from kubesat.sim.plot_jobs import draw_job as draw_job
from kubesat.sim.plot_jobs import formation_frame_m as formation_frame_m
from kubesat.sim.plot_jobs import gang_links_figure as gang_links_figure
from kubesat.sim.plot_jobs import is_formation as is_formation
from kubesat.sim.plot_jobs import jobs_figure as jobs_figure
from kubesat.sim.plot_jobs import progress_bound as progress_bound
from kubesat.sim.plot_jobs import widest_plane_km as widest_plane_km
from kubesat.sim.plot_run import representative_satellites as representative_satellites
from kubesat.sim.plot_run import sample_times_seconds as sample_times_seconds
from kubesat.sim.plot_style import DPI as DPI
from kubesat.sim.plot_style import POLICY_COLOURS as POLICY_COLOURS
from kubesat.sim.plot_style import _policy_colour as _policy_colour
from kubesat.sim.plot_style import _save as _save
from kubesat.sim.plot_style import _slug as _slug

if TYPE_CHECKING:
    from kubesat.sim.outcome import Outcome
    from kubesat.sim.run import Environment, Scenario

MAX_TIMELINE_SATELLITES: Final = 6


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
