"""The streaming simulator: bounded windows, policies in lock-step, traced satellites."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kubesat.engine.environment import WindowedEnvironment
from kubesat.sim.run import (
    load_scenario,
    longest_shadow_seconds,
    prepare,
    simulate,
    simulate_policies,
    traced_satellites,
    viability,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sso-12.yaml"


def test_the_window_holds_the_horizon_not_the_run() -> None:
    scenario = load_scenario(EXAMPLE)
    environment = prepare(scenario, 12 * 3600.0)
    source = environment.stream()
    assert isinstance(source, WindowedEnvironment)
    held = []
    for k in range(0, environment.steps, 7):
        source.column(k)
        held.append(source.end_step - source.first_step)
    # the window: now, the horizon, and the chunk each end falls in
    bound = (math.ceil(source.horizon_steps / source.chunk_steps) + 2) * source.chunk_steps
    assert max(held) <= bound < environment.steps
    assert source.first_step > 0  # it slid: what lies behind is gone


def test_policies_in_lock_step_equal_separate_runs() -> None:
    scenario = load_scenario(EXAMPLE)
    environment = prepare(scenario, 2 * 3600.0)
    together = simulate_policies(scenario, environment, ["none", "predictive"])
    for policy, outcome in together.items():
        alone = simulate(scenario, environment, policy)
        assert outcome.completed_gpu_seconds == alone.completed_gpu_seconds
        assert outcome.lost_gpu_seconds == alone.lost_gpu_seconds
        assert outcome.evictions == alone.evictions and outcome.upsets == alone.upsets
        np.testing.assert_array_equal(
            outcome.timeline["state_of_charge"], alone.timeline["state_of_charge"]
        )
    # the run records the longest shadow it streamed through; a separate pass agrees
    assert environment.longest_shadow_seconds == longest_shadow_seconds(environment)
    assert viability(scenario, environment).longest_eclipse_seconds > 30 * 60


def test_traced_satellites_are_all_of_a_small_fleet_and_a_spread_of_a_large_one() -> None:
    np.testing.assert_array_equal(traced_satellites(12), np.arange(12))
    large = traced_satellites(100_000, limit=256)
    assert len(large) == 256 and large[0] == 0 and large[-1] == 99_999
    assert np.all(np.diff(large) > 0)
