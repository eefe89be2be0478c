"""The radiator-bound example, simulated for 24 h: heat, not power, limits the GPUs.

`examples/radiator-sso-8.yaml` (README "Heat"): the heat bound lies below the energy bound
(the radiator binds), plain Kubernetes (`none`) throttles and loses pods to heat, the
predictive policy loses none, never passes the maximum temperature and keeps a goodput of
0.90 or more against the energy-and-heat bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesat.sim.report import report_document
from kubesat.sim.run import load_scenario, prepare, simulate, viability

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "radiator-sso-8.yaml"


@pytest.fixture(scope="module")
def report() -> dict:
    scenario = load_scenario(EXAMPLE)
    environment = prepare(scenario, 24 * 3600.0)
    outcomes = {
        policy: simulate(scenario, environment, policy) for policy in ("none", "predictive")
    }
    return report_document(outcomes, viability(scenario, environment).as_json())


def test_the_radiator_binds(report: dict) -> None:
    design = report["viability"]
    assert design["viable"]
    assert 5.5 < design["thermal"]["sustained_gpus"] < 8  # of the 8 on board
    predictive = report["policies"]["predictive"]
    heat_and_energy = predictive["energy_bound_gpu_seconds"]
    energy_only = predictive["thermal"]["energy_only_bound_gpu_seconds"]
    assert heat_and_energy < 0.97 * energy_only


def test_throttling_appears_without_a_policy(report: dict) -> None:
    heat = report["policies"]["none"]["thermal"]
    assert heat["thermal_throttles"] > 0
    assert heat["throttled_satellites"] == 8
    assert heat["pods_lost_to_heat"] > 0
    assert report["policies"]["none"]["pod_failures_by_reason"]["thermal"] > 0
    assert heat["peak_temperature_c"] <= 60.0 + 1e-6


def test_predictive_stays_under_the_maximum_with_goodput(report: dict) -> None:
    predictive = report["policies"]["predictive"]
    heat = predictive["thermal"]
    assert heat["pods_lost_to_heat"] == 0
    assert heat["peak_temperature_c"] <= 60.0
    assert predictive["evictions_by_reason"].get("thermal", 0) > 0
    assert predictive["goodput_ratio"] >= 0.90
    assert predictive["goodput_ratio"] > report["policies"]["none"]["goodput_ratio"]
