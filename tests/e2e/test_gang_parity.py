"""Gang parity: on the real control plane the operator runs a gang as `kubesat simulate`
predicts, and its members are bound together or not at all.

The scenario (tests/data/gang-12.yaml: 12 satellites in one plane linked fore and aft by
100 Gbps lasers, a 34-minute eclipse every orbit, radiation upsets) holds a gang of four
members of four GPUs and single pods beside it. It runs through the operator for three
simulated hours at 120x, then through the simulator for exactly the steps the operator
reached. Totals agree as in the engine's parity test (completed GPU-seconds within 3%;
evictions and failures by reason within 10% or 2), the gang's time computing, exchanging
gradients, checkpointing and waiting within 3% of the elapsed time, and every sample of
the API shows the gang's live pods bound to a node, all four or none of them (a sample
may catch a restart half written: at most a tenth of them).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesat.engine.job_stats import ACTIVITY_NAMES, Activity
from kubesat.k8s.state_store import read_state
from kubesat.sim.outcome import REFUSED_BY_PDB
from kubesat.sim.run import load_scenario, prepare, simulate
from tests.e2e.conftest import Cluster, constellation, gpu_job
from tests.e2e.test_parity import close, quantities_as_text
from tests.support.waiting import wait_for

pytestmark = pytest.mark.controlplane

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "gang-12.yaml"
CONSTELLATION = "three-body-12"
GANG = "train-1b"
SIMULATED_SECONDS = 3.0 * 3600.0
COMPLETED_TOLERANCE = 0.03
SHARE_TOLERANCE = 0.03  # of the elapsed time, per activity
PARTIAL_SAMPLES = 0.10  # samples that may catch a gang's restart half written
SAMPLE_SECONDS = 1.0  # wall
STEP_SECONDS = 10.0


def test_operator_runs_the_gang_as_the_simulator_predicts(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    documents = [d for d in yaml.safe_load_all(SCENARIO.read_text()) if d]
    constellation = next(d for d in documents if d["kind"] == "Constellation")
    speedup = constellation["spec"]["clock"]["speedup"]
    gang = next(d for d in documents if d["metadata"]["name"] == GANG)
    members = int(gang["spec"]["completions"])
    operator = start_operator(namespace)
    for document in documents:
        cluster.create(quantities_as_text(document))
    cluster.ready_nodes(CONSTELLATION, 12, timeout=120)

    def step() -> int:
        ref = cluster.constellation(CONSTELLATION).get("status", {}).get("stateRef") or {}
        return int(ref.get("step", 0))

    samples, partial, unbound = 0, 0, 0
    deadline = time.monotonic() + 2 * SIMULATED_SECONDS / speedup + 120
    while step() * STEP_SECONDS < SIMULATED_SECONDS:
        assert time.monotonic() < deadline, f"the operator reached step {step()} only"
        live = [
            p
            for p in cluster.pods(GANG)
            if p.status.phase in ("Pending", "Running") and p.metadata.deletion_timestamp is None
        ]
        samples += 1
        unbound += sum(1 for p in live if not p.spec.node_name)
        partial += len(live) not in (0, members)
        time.sleep(SAMPLE_SECONDS)
    operator.stop()
    status = cluster.constellation(CONSTELLATION)["status"]
    state = read_state(cluster.core, cluster.namespace, status)
    steps = int(state["step"])
    counters = state["counters"]
    completed = sum(sum(job["progress"]) for job in state["jobs"].values())
    gang_key = next(k for k in state["jobs"] if f"/{GANG}/" in k)
    seconds = state["jobs"][gang_key]["clock"]["seconds"]

    scenario = load_scenario(SCENARIO)
    environment = prepare(scenario, steps * STEP_SECONDS)
    predicted = simulate(scenario, environment, "predictive")
    report = predicted.jobs[GANG]
    expected = [report.compute_seconds, report.exchange_seconds]
    expected += [report.checkpoint_seconds, report.wait_seconds]

    print(
        f"gang parity over {steps * STEP_SECONDS / 3600:.2f} simulated hours: completed "
        f"{completed:.0f} / {predicted.completed_gpu_seconds:.0f} GPU-s; gang seconds "
        f"{dict(zip(ACTIVITY_NAMES, seconds, strict=True))} / "
        f"{dict(zip(ACTIVITY_NAMES, expected, strict=True))}; evictions "
        f"{counters['evictions']} / {predicted.evictions}; samples {samples}, partial "
        f"{partial}, unbound {unbound}"
    )
    assert completed == pytest.approx(predicted.completed_gpu_seconds, rel=COMPLETED_TOLERANCE)
    elapsed = steps * STEP_SECONDS
    for activity in Activity:
        assert abs(seconds[activity] - expected[activity]) <= SHARE_TOLERANCE * elapsed, (
            ACTIVITY_NAMES[activity],
            seconds,
            expected,
        )
    evictions = {k: v for k, v in predicted.evictions.items() if k != REFUSED_BY_PDB}
    for reason in set(evictions) | set(counters["evictions"]):
        assert close(counters["evictions"].get(reason, 0), evictions.get(reason, 0)), (
            reason,
            counters["evictions"],
            evictions,
        )
    for reason in set(predicted.pod_failures) | set(counters["failures"]):
        assert close(counters["failures"].get(reason, 0), predicted.pod_failures.get(reason, 0))
    # the scenario exercises what it claims to: the gang ran and moved, whole
    assert report.compute_seconds > 0 and report.exchange_seconds > 0
    assert predicted.evictions.get("runway", 0) >= members
    # the API showed the gang bound together or not at all
    assert unbound == 0
    assert partial <= PARTIAL_SAMPLES * samples, (partial, samples)
    scheduled = cluster.events(GANG, "GangScheduled")
    assert scheduled, "no GangScheduled Event on the gang's Job"
    assert f"all {members} members placed at once" in scheduled[0].message


def test_a_gang_the_controller_cannot_run_gets_a_warning_naming_the_field(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    cluster.create(constellation("pair", per_plane=2))
    cluster.ready_nodes("pair", 2, timeout=120)
    job = gpu_job("uneven-gang", gpus=2, parallelism=1, completions=2)
    job["metadata"]["annotations"]["kubesat.io/gang"] = "true"
    job["spec"]["managedBy"] = "kubesat.io/job-controller"
    job["spec"]["completionMode"] = "Indexed"
    cluster.create(job)

    def warned() -> list[Any]:
        return cluster.events("uneven-gang", "InvalidWork")

    events = wait_for("an InvalidWork Event on the Job", warned, timeout=60)
    assert events[0].type == "Warning"
    assert "spec.parallelism: a gang's members run at once" in events[0].message
    assert cluster.pods("uneven-gang") == []
