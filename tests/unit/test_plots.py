"""`kubesat simulate --plots`: the PNG figures are written, valid, sized, and warning-free;
the gang and Job figures draw what the run recorded."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from kubesat.core.policy import POLICIES
from kubesat.sim.plots import (
    cumulative_energy_bound,
    gang_links_figure,
    is_formation,
    jobs_figure,
    progress_bound,
    sample_times_seconds,
    widest_plane_km,
    write_plots,
)
from kubesat.sim.run import Environment, Scenario, load_scenario, prepare, simulate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sso-12.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run() -> tuple[Scenario, Environment, dict]:
    scenario = load_scenario(EXAMPLE)
    environment = prepare(scenario, 2 * 3600.0)
    outcomes = {policy: simulate(scenario, environment, policy) for policy in POLICIES}
    return scenario, environment, outcomes


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the PNG signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_write_plots_writes_valid_pngs_without_warnings(run, tmp_path: Path) -> None:
    scenario, environment, outcomes = run
    target = tmp_path / "plots" / "nested"  # created by write_plots
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = write_plots(target, scenario, environment, outcomes)
    assert [str(w.message) for w in caught] == []
    names = sorted(p.name for p in paths)
    assert names == sorted(
        [f"timeline-{p}.png" for p in POLICIES]
        + ["goodput.png", "ground-track.png", "policies.png"]
    )
    for path in paths:
        assert path.parent == target and path.is_file()
        width, height = png_size(path)
        assert 800 <= width <= 3000, (path.name, width)
        assert 400 <= height <= 3000, (path.name, height)
        assert path.stat().st_size > 20_000, path.name  # drawn, not blank


def test_write_plots_with_one_policy(run, tmp_path: Path) -> None:
    scenario, environment, outcomes = run
    paths = write_plots(tmp_path, scenario, environment, {"predictive": outcomes["predictive"]})
    assert {p.name for p in paths} == {
        "timeline-predictive.png",
        "goodput.png",
        "ground-track.png",
        "policies.png",
    }


def test_sample_times_follow_the_engine_sampling(run) -> None:
    _, environment, outcomes = run
    samples = outcomes["none"].timeline["state_of_charge"].shape[1]
    starts, ends = sample_times_seconds(environment, samples)
    every = max(1, environment.steps // 2000)  # as run.simulate asks Cluster.run
    dt = environment.conditions.step_seconds
    assert samples == -(-environment.steps // every)
    np.testing.assert_allclose(starts, np.arange(samples) * every * dt)
    np.testing.assert_allclose(ends - starts, dt)


def test_cumulative_bound_ends_at_the_reported_bound(run) -> None:
    scenario, environment, outcomes = run
    total = outcomes["none"].energy_bound_gpu_seconds
    times, bound, label = cumulative_energy_bound(scenario, environment)
    assert "exact" in label
    assert times[0] == 0.0 and bound[0] == 0.0
    assert times[-1] == pytest.approx(environment.steps * environment.conditions.step_seconds)
    assert bound[-1] == pytest.approx(total, rel=1e-9)
    assert np.all(np.diff(bound) >= -1e-6)
    # over budget: a subset of satellites, scaled to the same exact total
    _, scaled, label = cumulative_energy_bound(scenario, environment, total, budget=10_000)
    assert "scaled" in label
    assert scaled[-1] == pytest.approx(total, rel=1e-9)


GANG_EXAMPLE = EXAMPLE.parent / "three-body-12.yaml"
FORMATION_EXAMPLE = EXAMPLE.parent / "suncatcher-formation-81.yaml"


@pytest.fixture(scope="module")
def gang_run() -> tuple[Scenario, Environment, dict]:
    scenario = load_scenario(GANG_EXAMPLE)
    environment = prepare(scenario, 2 * 3600.0)
    outcomes = {policy: simulate(scenario, environment, policy) for policy in POLICIES}
    return scenario, environment, outcomes


def test_gang_plots_are_written(gang_run, tmp_path: Path) -> None:
    scenario, environment, outcomes = gang_run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = write_plots(tmp_path, scenario, environment, outcomes)
    assert [str(w.message) for w in caught] == []
    assert all(outcome.gang_views for outcome in outcomes.values())
    names = {p.name for p in paths}
    assert {f"gang-links-{p}.png" for p in POLICIES} | {"jobs.png"} <= names
    for path in paths:
        if path.name.startswith(("gang-links-", "jobs")):
            width, height = png_size(path)
            assert 800 <= width <= 3000 and 400 <= height <= 3000, (path.name, width, height)
            assert path.stat().st_size > 20_000, path.name


def artist(figure, gid: str):
    [found] = [a for ax in figure.axes for a in ax.get_children() if a.get_gid() == gid]
    return found


def test_gang_links_figure_draws_the_gang_and_its_ring(gang_run) -> None:
    scenario, environment, outcomes = gang_run
    outcome = outcomes["predictive"]
    [view] = outcome.gang_views.values()
    figure = gang_links_figure(scenario, environment, outcome)
    highlighted = artist(figure, "gang-satellites").get_offsets()
    assert len(highlighted) == len(set(view.satellites)) == 8
    assert len(artist(figure, "fleet").get_offsets()) == 12
    assert len(artist(figure, "links-up").get_segments()) == len(view.links_up) > 0
    ring = artist(figure, "ring").get_xydata()
    assert len(ring) == len(view.satellites) + 1
    np.testing.assert_allclose(ring[0], ring[-1])  # the ring is closed
    # a spread constellation is seen in its plane: a single-plane ring keeps its radius
    xy = widest_plane_km(view.position_km)
    np.testing.assert_allclose(
        np.linalg.norm(xy, axis=1), np.linalg.norm(view.position_km, axis=1), rtol=0.01
    )
    assert not is_formation(view.position_km)


def test_a_formation_is_drawn_in_its_along_and_cross_track_plane() -> None:
    scenario = load_scenario(FORMATION_EXAMPLE)
    environment = prepare(scenario, 1800.0)
    outcome = simulate(scenario, environment, "predictive")
    [view] = outcome.gang_views.values()
    assert is_formation(view.position_km)
    figure = gang_links_figure(scenario, environment, outcome)
    assert figure.axes[0].get_xlabel() == "along-track (m)"
    offsets = artist(figure, "fleet").get_offsets()
    spread_m = np.ptp(np.asarray(offsets), axis=0)
    # about 1 km across, in metres; the ring of 24 members on distinct satellites
    assert 100.0 < spread_m.max() < 5000.0
    assert len(artist(figure, "gang-satellites").get_offsets()) == len(set(view.satellites))


def test_jobs_figure_draws_progress_under_its_bound(gang_run) -> None:
    scenario, environment, outcomes = gang_run
    [spec] = scenario.jobs
    figure = jobs_figure(scenario, environment, outcomes)
    bound_hours, bound = artist(figure, "bound").get_data()
    # 4 GPUs per member, 115,200 GPU-s each: 8 hours at full rate
    np.testing.assert_allclose(
        progress_bound(spec, np.array([0.0, 4 * 3600.0, 9 * 3600.0])), [0.0, 0.5, 1.0]
    )
    for policy, outcome in outcomes.items():
        hours, progress = artist(figure, f"progress-{policy}").get_data()
        np.testing.assert_allclose(progress, outcome.job_progress[spec.name])
        assert progress[-1] > 0
        assert np.all(progress <= np.interp(hours, bound_hours, bound) + 1e-6), policy
