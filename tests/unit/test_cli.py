"""The `kubesat` command: output contracts, determinism and one-line errors (exit 2)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from kubesat.cli import main

ROOT = Path(__file__).resolve().parents[2]
TLE = ROOT / "tests" / "data" / "reference.tle"
ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_forecast_json_contract(capsys):
    code, out, _ = run(
        capsys,
        "forecast",
        "--tle",
        str(TLE),
        "--start",
        "2025-11-10T00:00:00Z",
        "--hours",
        "12",
        "--station",
        "Canberra:-35.402:148.981:680:10",
        "--station",
        "Svalbard:78.229:15.407",
        "--json",
    )
    assert code == 0
    document = json.loads(out)
    satellites = document["satellites"]
    assert [s["name"] for s in satellites] == ["ISS (ZARYA)", "STARLINK-30948", "SENTINEL-1A"]
    iss = satellites[0]
    assert iss["period_minutes"] == pytest.approx(92.93, abs=0.01)
    assert 0.55 < iss["sunlit_fraction"] < 0.75
    assert len(iss["eclipses"]) >= 3
    for eclipse in iss["eclipses"]:
        assert set(eclipse) == {"start", "end", "umbra_start", "umbra_end"}
        assert eclipse["start"] < eclipse["end"]
        for key in ("start", "end"):
            assert re.match(ISO_Z, eclipse[key])
    for contact in (c for s in satellites for c in s["contacts"]):
        assert set(contact) == {"station", "aos", "los", "max_elevation_deg"}
        assert contact["station"] in {"Canberra", "Svalbard"}
        assert contact["max_elevation_deg"] >= 5.0
    assert any(s["contacts"] for s in satellites)
    # ISS crosses the South Atlantic Anomaly several times in twelve hours
    assert iss["saa_passes"]
    assert all(p["peak_flux"] > 0 for p in iss["saa_passes"])


def test_forecast_table_is_readable(capsys):
    code, out, _ = run(
        capsys,
        "forecast",
        "--tle",
        str(TLE),
        "--start",
        "2025-11-10T00:00:00Z",
        "--hours",
        "2",
        "--no-radiation",
    )
    assert code == 0
    assert "ISS (ZARYA)  period 92.93 min" in out
    assert "eclipse start" in out


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("tle", "message"),
    [
        (
            "ISS\n1 25544U 98067A   25313.96830531  .00008626  00000+0  16179-3 0  9993\n"
            "2 25544  51.6342 304.7042 0004075  52.7615 307.3745 15.49490024537771\n",
            "TLE line 1 of 'ISS': checksum 7 expected, got 3",
        ),
        ("ISS\n1 25544U 98067A\n2 25544\n", "expected 69 characters"),
        (
            "LOW\n1 25544U 98067A   25313.96830531  .00008626  00000+0  16179-3 0  9997\n"
            "2 25544  51.6342 304.7042 0004075  52.7615 307.3745 16.50000000537775\n",
            "perigee altitude must be >= 160 km",
        ),
    ],
)
def test_forecast_bad_tle_is_one_line_exit_2(capsys, tmp_path, tle, message):
    path = _write(tmp_path, "bad.tle", tle)
    code, _, err = run(
        capsys, "forecast", "--tle", str(path), "--start", "2025-11-10T00:00:00Z", "--hours", "1"
    )
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--station", "Pole:95:0"], "latitudeDeg: must be within [-90, 90], got 95"),
        (["--hours", "0"], "argument --hours: must be > 0, got 0"),
        (["--hours", "-3"], "argument --hours: must be > 0, got -3"),
        (["--hours", "soon"], "argument --hours: must be a number, got 'soon'"),
        (["--step", "-60"], "argument --step: must be > 0 seconds, got -60"),
        (["--start", "yesterday"], "--start: expected an ISO 8601 UTC time"),
    ],
)
def test_forecast_bad_arguments_name_the_field(capsys, argv, message):
    options = {"--tle": str(TLE), "--start": "2025-11-10T00:00:00Z", "--hours": "1"}
    options.update(zip(argv[::2], argv[1::2], strict=True))
    args = ["forecast", "--no-radiation", *[x for pair in options.items() for x in pair]]
    try:
        code = main(args)
    except SystemExit as exit_info:  # argparse rejects the value itself
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    if message.startswith("argument "):  # argparse names the flag once, the message not again
        assert err.split("error:", 1)[1].count(argv[0]) == 1
    assert "Traceback" not in err


def test_simulate_same_seed_gives_byte_identical_json(capsys, tmp_path):
    outputs = []
    for index in range(2):
        out = tmp_path / f"run{index}.json"
        code, stdout, _ = run(
            capsys,
            "simulate",
            str(ROOT / "examples" / "sso-12.yaml"),
            "--duration",
            "2h",
            "--policy",
            "all",
            "--seed",
            "7",
            "--json",
            str(out),
            "--quiet",
        )
        assert code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    document = json.loads(outputs[0])
    assert set(document["policies"]) == {"none", "reactive", "predictive"}
    for result in document["policies"].values():
        for key, kind in [
            ("goodput_ratio", float),
            ("completed_gpu_seconds", float),
            ("lost_gpu_seconds", float),
            ("energy_bound_gpu_seconds", float),
            ("evictions", int),
            ("jobs_completed", int),
            ("upsets", int),
        ]:
            assert isinstance(result[key], kind), key
        assert 0.0 <= result["goodput_ratio"] <= 1.0
    assert "predictive" in stdout and "goodput" in stdout
    # a different seed draws different upsets
    other = tmp_path / "other.json"
    run(
        capsys,
        "simulate",
        str(ROOT / "examples" / "sso-12.yaml"),
        "--duration",
        "2h",
        "--policy",
        "none",
        "--seed",
        "8",
        "--json",
        str(other),
        "--quiet",
    )
    assert (
        json.loads(other.read_bytes())["policies"]["none"]["upsets"]
        != (document["policies"]["none"]["upsets"])
    )


def _example_with(tmp_path: Path, edit) -> Path:
    documents = list(yaml.safe_load_all((ROOT / "examples" / "sso-12.yaml").read_text()))
    edit(documents)
    return _write(tmp_path, "edited.yaml", yaml.safe_dump_all(documents))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d[0]["spec"]["hardware"].update(batteryWh=-5),
            "document 1 (Constellation): spec.hardware.batteryWh: must be >= 0, got -5",
        ),
        (
            lambda d: d[0]["spec"].update(policy="yolo"),
            "spec.policy: must be one of none, reactive, predictive, got 'yolo'",
        ),
        (
            lambda d: d[0]["spec"]["groundStations"][0].update(latitudeDeg=95),
            "spec.groundStations[0].latitudeDeg: must be <= 90, got 95",
        ),
        (
            lambda d: d[1]["metadata"]["annotations"].update(
                {"kubesat.io/work-gpu-seconds": "lots"}
            ),
            "document 2 (Job): Job 'pretrain' metadata.annotations[kubesat.io/work-gpu-seconds]: "
            "expected a number, got 'lots'",
        ),
        (
            lambda d: d[4]["spec"].update(maxUnavailable=1, minAvailable=None),
            "spec.maxUnavailable: Job pods have no scale subresource",
        ),
    ],
)
def test_simulate_bad_input_is_one_line_naming_document_and_path(capsys, tmp_path, edit, message):
    path = _example_with(tmp_path, edit)
    code, _, err = run(capsys, "simulate", str(path), "--duration", "1h", "--quiet")
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


BAD_EXAMPLES = sorted((ROOT / "examples" / "bad").glob("*.yaml"))


@pytest.mark.parametrize("path", BAD_EXAMPLES, ids=lambda p: p.stem)
def test_every_bad_example_is_one_line_naming_the_field(capsys, path):
    """What admission refuses, the CLI refuses too: exit 2, one line naming the field (or
    the object holding it, for rules over several fields)."""
    field = re.search(r"^#\s*expect:\s*([^\s:]+)", path.read_text(), re.MULTILINE).group(1)
    holder = field.rsplit("[", 1)[0].rsplit(".", 1)[0]
    code, _, err = run(capsys, "simulate", str(path), "--duration", "1h", "--quiet")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert f"): {holder}" in err, err
    assert "Traceback" not in err


def test_simulate_bad_duration_and_missing_file(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", str(ROOT / "examples" / "sso-12.yaml"), "--duration", "soon"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --duration: expected a positive duration" in err
    assert err.split("error:", 1)[1].count("--duration") == 1
    code, _, err = run(capsys, "simulate", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "cannot read" in err


def test_a_gang_is_not_split_across_domains(capsys):
    code, _, err = run(
        capsys,
        "simulate",
        str(ROOT / "examples" / "three-body-12.yaml"),
        "--split",
        "--duration",
        "1h",
        "--quiet",
    )
    assert code == 2
    assert "--split: Job 'train-1b' is a gang" in err
    assert len(err.strip().splitlines()) == 1


def test_a_gang_without_kubesats_controller_is_one_line(capsys, tmp_path):
    documents = list(yaml.safe_load_all((ROOT / "examples" / "three-body-12.yaml").read_text()))
    del documents[1]["spec"]["managedBy"]
    path = tmp_path / "gang.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    code, _, err = run(capsys, "simulate", str(path), "--duration", "1h", "--quiet")
    assert code == 2
    assert "spec.managedBy: a gang (kubesat.io/gang) must be managed by" in err
    assert len(err.strip().splitlines()) == 1


def test_a_job_that_can_never_fit_is_named_before_the_run_and_the_rest_runs(capsys, tmp_path):
    def huge(documents: list) -> None:
        big = copy.deepcopy(documents[3])  # eval-sweep, 1 GPU pods
        big["metadata"]["name"] = "too-big"
        container = big["spec"]["template"]["spec"]["containers"][0]
        container["resources"]["limits"]["nvidia.com/gpu"] = 16
        documents.insert(4, big)

    edited = _example_with(tmp_path, huge)
    plain = ["--duration", "2h", "--policy", "predictive", "--seed", "3", "--quiet"]
    code, _, err = run(capsys, "simulate", str(edited), *plain, "--json", str(tmp_path / "a"))
    assert code == 0
    line = "warning: Job 'too-big' can never run: pods need 16 nvidia.com/gpu; a satellite has 4"
    assert line in err.splitlines()
    document = json.loads((tmp_path / "a").read_text())
    assert document["viability"]["never_fits"] == {
        "too-big": "pods need 16 nvidia.com/gpu; a satellite has 4"
    }
    result = document["policies"]["predictive"]
    big = result["jobs"]["too-big"]
    assert big["waiting"] == {"never-fits": big["seconds"]["wait"]} and big["progressRatio"] == 0
    assert big["achievableGpuSeconds"] == 0
    # the other Jobs do exactly what they do without it
    run(
        capsys,
        "simulate",
        str(ROOT / "examples" / "sso-12.yaml"),
        *plain,
        "--json",
        str(tmp_path / "b"),
    )
    alone = json.loads((tmp_path / "b").read_text())["policies"]["predictive"]
    assert result["completed_gpu_seconds"] == alone["completed_gpu_seconds"]
    for name, job in alone["jobs"].items():
        assert result["jobs"][name] == job, name


def test_every_job_says_why_it_waited_in_seconds_that_add_up(capsys, tmp_path):
    out = tmp_path / "run.json"
    argv = ["--duration", "6h", "--policy", "all", "--seed", "5", "--json", str(out), "--quiet"]
    code, stdout, _ = run(capsys, "simulate", str(ROOT / "examples" / "sso-12.yaml"), *argv)
    assert code == 0
    document = json.loads(out.read_text())
    waited_for_power = 0.0
    for policy, result in document["policies"].items():
        assert result["completed_gpu_seconds"] <= result["achievable_gpu_seconds"] + 1e-6
        for name, job in result["jobs"].items():
            total = sum(job["waiting"].values())
            assert total == pytest.approx(job["seconds"]["wait"], abs=0.01), (policy, name)
            if policy == "predictive":
                waited_for_power += job["waiting"].get("power", 0.0)
    assert waited_for_power > 0  # the eclipses hold pods under predictive
    assert "waited" in stdout and "(power" in stdout
