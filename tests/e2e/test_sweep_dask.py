"""`kubesat sweep` on a real Dask cluster: a scheduler and two single-threaded workers
started as processes on loopback. The sweep's JSON is the same byte for byte whether the
points ran one after another in this process, on local processes or on Dask."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesat.cli import main
from tests.support.prerequisites import missing

try:
    import distributed
except ImportError:  # the sweep extra is part of dev; checked by the fixture
    distributed = None

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sso-12.yaml"
WORKERS = 2
START_TIMEOUT_SECONDS = 60.0
SWEEP = [
    str(EXAMPLE),
    "--set",
    "spec.hardware.batteryWh=400,800",
    "--set",
    "jobs.pretrain.annotations.kubesat.io/checkpoint-interval-seconds=600,1800",
    "--duration",
    "1h",
    "--policy",
    "all",
    "--seed",
    "3",
    "--quiet",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A Dask scheduler and WORKERS workers (nthreads=1) as processes; its address."""
    if distributed is None:
        missing("distributed is not installed: pip install -e '.[dev]' (the sweep extra)")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for _ in range(WORKERS):
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "distributed.cli.dask_worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with distributed.Client(address, timeout=START_TIMEOUT_SECONDS) as client:
            client.wait_for_workers(WORKERS, timeout=START_TIMEOUT_SECONDS)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_sweep_json_is_identical_serial_local_and_on_dask(scheduler: str, tmp_path: Path) -> None:
    serial, local, dask = tmp_path / "serial.json", tmp_path / "local.json", tmp_path / "dask.json"
    assert main(["sweep", *SWEEP, "--workers", "1", "--json", str(serial)]) == 0
    assert main(["sweep", *SWEEP, "--workers", "2", "--json", str(local)]) == 0
    started = time.monotonic()
    assert (
        main(
            [
                "sweep",
                *SWEEP,
                "--scheduler",
                scheduler,
                "--json",
                str(dask),
                "--plots",
                str(tmp_path / "plots"),
            ]
        )
        == 0
    )
    assert time.monotonic() - started < 600
    text = serial.read_bytes()
    assert local.read_bytes() == text
    assert dask.read_bytes() == text

    import json

    document = json.loads(text)
    assert len(document["points"]) == 4
    assert [p["index"] for p in document["points"]] == [0, 1, 2, 3]
    # the design shows in the results: a bigger battery powers more predictive work
    small, big = document["points"][0], document["points"][2]
    assert small["parameters"]["spec.hardware.batteryWh"] == 400
    assert big["design"]["battery_wh"] == 800
    assert (
        big["report"]["policies"]["predictive"]["completed_gpu_seconds"]
        >= small["report"]["policies"]["predictive"]["completed_gpu_seconds"]
    )
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {
        "sweep-batteryWh.png",
        "sweep-checkpoint-interval-seconds.png",
        "pareto.png",
    }


def test_the_workers_ran_the_points(scheduler: str) -> None:
    # every worker of the cluster is a separate process from this one
    import os

    with distributed.Client(scheduler, timeout=START_TIMEOUT_SECONDS) as client:
        pids = client.run(os.getpid)
    assert len(pids) == WORKERS and os.getpid() not in pids.values()


def test_split_simulation_is_identical_in_process_and_on_dask(
    scheduler: str, tmp_path: Path
) -> None:
    import yaml

    walker = EXAMPLE.parent / "walker-1000.yaml"
    documents = [d for d in yaml.safe_load_all(walker.read_text()) if d]
    documents[0]["spec"]["orbits"]["walkerDelta"].update(planes=4, perPlane=3)
    path = tmp_path / "walker-12.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    common = ["simulate", str(path), "--duration", "30m", "--policy", "predictive", "--quiet"]
    common += ["--split", "--domain-satellites", "3"]
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    assert main([*common, "--workers", "1", "--json", str(here)]) == 0
    assert main([*common, "--scheduler", scheduler, "--json", str(there)]) == 0
    assert here.read_bytes() == there.read_bytes()
    assert '"domains": 4' in here.read_text()
