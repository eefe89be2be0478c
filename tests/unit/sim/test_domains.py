"""Splitting a constellation into scheduling domains of whole planes, and `simulate --split`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kubesat.cli import main
from kubesat.sim.domains import domain_scenario, domain_seed, merge, plane_domains
from kubesat.sim.outcome import Outcome
from kubesat.sim.run import load_scenario

WALKER = Path(__file__).resolve().parents[3] / "examples" / "walker-1000.yaml"


def small_walker(tmp_path: Path, planes: int, per_plane: int) -> Path:
    documents = [d for d in yaml.safe_load_all(WALKER.read_text()) if d]
    documents[0]["spec"]["orbits"]["walkerDelta"].update(planes=planes, perPlane=per_plane)
    for document in documents[1:]:
        if document["kind"] == "Job":
            document["spec"]["parallelism"] = 4
            document["spec"]["completions"] = 8
    path = tmp_path / "walker-small.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return path


def test_plane_domains_keep_planes_whole() -> None:
    planes = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert plane_domains(planes, 6) == [(0, 1, 2, 3, 4, 5), (6, 7, 8, 9, 10, 11)]
    assert plane_domains(planes, 7) == [(0, 1, 2, 3, 4, 5), (6, 7, 8, 9, 10, 11)]
    assert plane_domains(planes, 2) == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)]
    assert plane_domains(planes, 100) == [tuple(range(12))]
    with pytest.raises(ValueError, match="max_satellites"):
        plane_domains(planes, 0)


def test_domain_scenario_scales_the_jobs(tmp_path: Path) -> None:
    scenario = load_scenario(small_walker(tmp_path, 4, 3))
    half = domain_scenario(scenario, range(6), 1)
    assert [s.name for s in half.constellation.satellites] == [
        s.name for s in scenario.constellation.satellites[:6]
    ]
    assert half.constellation.name == "walker-1000-1"
    assert [(j.parallelism, j.completions) for j in half.jobs] == [(2, 4) for _ in scenario.jobs]
    assert domain_seed(1000, 0) != domain_seed(1000, 1)
    assert domain_seed(1000, 1) == domain_seed(1000, 1)


def test_merge_sums_the_domains() -> None:
    a = Outcome("predictive", 10.0, 1.0, 20.0, 30.0, {"runway": 2}, {"sefi": 1}, 1, 0, {"sefi": 3})
    b = Outcome("predictive", 5.0, 2.0, 10.0, 30.0, {"runway": 1, "eclipse": 4}, {}, 0, 1, {})
    a.achievable_gpu_seconds, b.achievable_gpu_seconds = 25.0, 15.0
    total = merge([a, b])
    assert total.completed_gpu_seconds == 15.0 and total.energy_bound_gpu_seconds == 30.0
    assert total.achievable_gpu_seconds == 40.0
    assert total.evictions == {"eclipse": 4, "runway": 3}
    assert total.jobs_completed == 1 and total.jobs_failed == 1
    assert total.goodput_ratio == pytest.approx(15.0 / 30.0)


def test_simulate_refuses_more_than_one_domain_without_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = small_walker(tmp_path, 4, 3)
    status = main(["simulate", str(path), "--domain-satellites", "6", "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert "12 satellites" in err and "--domain-satellites 6" in err and "--split" in err


def test_split_run_is_the_same_in_process_and_on_processes(tmp_path: Path) -> None:
    path = small_walker(tmp_path, 4, 3)
    common = ["simulate", str(path), "--duration", "30m", "--policy", "all", "--quiet"]
    common += ["--split", "--domain-satellites", "6"]
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main([*common, "--workers", "1", "--json", str(one)]) == 0
    assert main([*common, "--workers", "2", "--json", str(two)]) == 0
    assert one.read_bytes() == two.read_bytes()
    document = json.loads(one.read_text())
    assert document["domains"] == 2
    predictive = document["policies"]["predictive"]
    assert predictive["completed_gpu_seconds"] > 0
    assert predictive["energy_bound_gpu_seconds"] > 0
