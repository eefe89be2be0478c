"""`kubesat simulate --plots`: the PNG figures are written, valid, sized, and warning-free."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from kubesat.core.policy import POLICIES
from kubesat.sim.plots import cumulative_energy_bound, sample_times_seconds, write_plots
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
