"""Sweep planning: --set parsing, paths into the scenario, the cartesian product, and the
errors that name a bad path or value before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesat.cli import main
from kubesat.sim.run import parse_scenario
from kubesat.sim.sweep import Axis, load_documents, parse_set, plan_sweep, set_path
from kubesat.sim.sweep_plots import pareto_front
from kubesat.spec import SpecError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sso-12.yaml"
INTERVAL = "jobs.pretrain.annotations.kubesat.io/checkpoint-interval-seconds"


def test_parse_set_reads_yaml_scalars() -> None:
    axis = parse_set("spec.hardware.batteryWh=500, 1000,1500.5")
    assert axis == Axis("spec.hardware.batteryWh", (500, 1000, 1500.5))
    assert parse_set("spec.policy=none,predictive").values == ("none", "predictive")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec.hardware.batteryWh", "expected PATH=V1,V2"),
        ("=1,2", "expected PATH=V1,V2"),
        ("spec.hardware.batteryWh=1,,2", "empty value"),
        ("spec.hardware.batteryWh=1,1", "values repeat"),
        ("spec.hardware.batteryWh=[1]", "scalar values"),
    ],
)
def test_parse_set_rejects(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_set(text)


def test_plan_is_the_cartesian_product_in_order() -> None:
    documents = load_documents(EXAMPLE)
    axes = [parse_set("spec.hardware.batteryWh=500,800"), parse_set(f"{INTERVAL}=600,1200,1800")]
    points = plan_sweep(documents, axes, 3600.0, ["predictive"], seed=7)
    assert [p.index for p in points] == list(range(6))
    assert [dict(p.parameters) for p in points][:4] == [
        {"spec.hardware.batteryWh": 500, INTERVAL: 600},
        {"spec.hardware.batteryWh": 500, INTERVAL: 1200},
        {"spec.hardware.batteryWh": 500, INTERVAL: 1800},
        {"spec.hardware.batteryWh": 800, INTERVAL: 600},
    ]
    last = parse_scenario(list(points[-1].documents))
    assert last.constellation.power.battery_wh == 800
    pretrain = next(j for j in last.jobs if j.name == "pretrain")
    assert pretrain.checkpoint_interval_seconds == 1800
    # the file's documents are left alone
    assert parse_scenario(documents).constellation.power.battery_wh == 500
    assert all(p.seed == 7 for p in points)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("spec.hardware.batteryW", 1, "no field 'batteryW' in spec.hardware"),
        ("spec.nothing.here", 1, "no field 'nothing' in spec"),
        ("spec.hardware", 1, "a dict, not a value"),
        ("jobs.missing.annotations.kubesat.io/work-gpu-seconds", 1, "no Job named 'missing'"),
        ("jobs.pretrain.annotations.example.com/x", 1, "not a kubesat Job annotation"),
    ],
)
def test_bad_paths_are_named(path: str, value: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        set_path(load_documents(EXAMPLE), path, value)


def test_bad_values_fail_while_planning() -> None:
    documents = load_documents(EXAMPLE)
    with pytest.raises(SpecError, match=r"batteryWh=-1: .*spec.hardware.batteryWh: must be >= 0"):
        plan_sweep(documents, [parse_set("spec.hardware.batteryWh=500,-1")], 3600.0, ["none"])


def test_a_point_larger_than_one_cluster_is_refused() -> None:
    documents = load_documents(EXAMPLE)
    axis = parse_set("spec.orbits.sunSynchronous.count=12,6000")
    with pytest.raises(SpecError, match=r"count=6000: 6,000 satellites; .* at most 5,000"):
        plan_sweep(documents, [axis], 3600.0, ["none"])


def test_cli_names_the_bad_path_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["sweep", str(EXAMPLE), "--set", "spec.hardware.batteryW=1,2", "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "spec.hardware.batteryW" in err


def test_pareto_front_keeps_the_undominated() -> None:
    import numpy as np

    cost = np.array([[500, 2000], [800, 2000], [500, 2500], [800, 2500]], dtype=float)
    value = np.array([700.0, 760.0, 700.0, 790.0])
    # [500, 2500] costs more than [500, 2000] for the same value: dominated
    assert pareto_front(cost, value) == [0, 1, 3]
