"""Parity: the operator on the real control plane does what `kubesat simulate` predicts.

The scenario (tests/data/parity-12.yaml: 12 satellites with a 34-minute eclipse every
orbit, radiation upsets, a PodDisruptionBudget that refuses drains) runs through the
operator for more than three simulated hours at 120x, then through the simulator for
exactly the steps the operator reached, from the same file and seed. Both drive the same
engine, so their totals must agree: completed GPU-seconds within 3%; lost GPU-seconds,
evictions and pod failures by reason within 10% or 2, whichever is larger. And no Job
sat for 10 simulated minutes with work left, no pod, and a satellite that could take it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesat.k8s.state_store import read_state
from kubesat.sim.outcome import REFUSED_BY_PDB
from kubesat.sim.run import load_scenario, prepare, simulate
from tests.e2e.conftest import Cluster, condition
from tests.support.waiting import wait_for

pytestmark = pytest.mark.controlplane

SCENARIO = Path(__file__).resolve().parents[1] / "data" / "parity-12.yaml"
SIMULATED_SECONDS = 3.1 * 3600.0
STARVED_LIMIT_SECONDS = 600.0  # simulated
COMPLETED_TOLERANCE = 0.03
COUNT_TOLERANCE, COUNT_SLACK = 0.10, 2
SAMPLE_SECONDS = 1.0  # wall


def quantities_as_text(document: dict[str, Any]) -> dict[str, Any]:
    """The client wants resource quantities as strings (kubectl takes `4` as well)."""
    pod_spec = ((document.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod_spec.get("containers") or []:
        for part in ("limits", "requests"):
            values = (container.get("resources") or {}).get(part) or {}
            for key, value in values.items():
                values[key] = str(value)
    return document


def close(operator: float, simulator: float) -> bool:
    return abs(operator - simulator) <= max(COUNT_TOLERANCE * abs(simulator), COUNT_SLACK)


def gpus_of(pod: Any) -> int:
    total = 0
    for container in pod.spec.containers:
        limits = (container.resources.limits or {}) if container.resources else {}
        total += int(limits.get("nvidia.com/gpu", 0))
    return total


def starved_jobs(cluster: Cluster, jobs: dict[str, dict[str, Any]]) -> set[str]:
    """Jobs with work left and no live pod while a satellite could clearly take one: in
    full sun, Ready, powered, not upset, battery above 90% and the GPUs free."""
    pods = cluster.core.list_namespaced_pod(cluster.namespace).items
    live = [p for p in pods if p.status.phase in ("Pending", "Running")]
    used: dict[str, int] = {}
    for pod in live:
        if pod.spec.node_name:
            used[pod.spec.node_name] = used.get(pod.spec.node_name, 0) + gpus_of(pod)
    battery = {
        s["metadata"]["name"]: s.get("status", {}).get("stateOfCharge", 0.0)
        for s in cluster.satellites("sso-12")
    }
    free: list[int] = []
    for node in cluster.nodes("sso-12"):
        statuses = {c.type: c.status for c in node.status.conditions or []}
        taints = {t.key for t in node.spec.taints or []} - {"kubesat.io/satellite"}
        clear = (
            statuses.get("Ready") == "True"
            and statuses.get("Sunlit") == "True"
            and statuses.get("PowerAvailable") == "True"
            and statuses.get("RadiationUpset") == "False"
            and not taints
            and battery.get(node.metadata.name, 0.0) > 0.9
        )
        if clear:
            allocatable = int(node.status.allocatable.get("nvidia.com/gpu", 0))
            free.append(allocatable - used.get(node.metadata.name, 0))
    starved = set()
    for name, job in jobs.items():
        status = cluster.job(name).status
        done = status.succeeded or 0
        running = sum(1 for p in live if (p.metadata.labels or {}).get("job-name") == name)
        gpus = job["gpus"]
        if done < job["completions"] and running == 0 and any(f >= gpus for f in free):
            starved.add(name)
    return starved


def test_operator_matches_the_simulator_over_three_simulated_hours(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    documents = [d for d in yaml.safe_load_all(SCENARIO.read_text()) if d]
    speedup = next(d for d in documents if d["kind"] == "Constellation")["spec"]["clock"]["speedup"]
    operator = start_operator(namespace)
    jobs = {}
    for document in documents:
        cluster.create(quantities_as_text(document))
        if document["kind"] == "Job":
            limits = document["spec"]["template"]["spec"]["containers"][0]["resources"]
            jobs[document["metadata"]["name"]] = {
                "gpus": int(limits["limits"]["nvidia.com/gpu"]),
                "completions": int(document["spec"]["completions"]),
            }
    cluster.ready_nodes("sso-12", 12, timeout=120)

    def step() -> int:
        ref = cluster.constellation("sso-12").get("status", {}).get("stateRef") or {}
        return int(ref.get("step", 0))

    step_seconds = 10.0
    since: dict[str, float] = {}
    longest: dict[str, float] = {}
    deadline = time.monotonic() + 2 * SIMULATED_SECONDS / speedup + 120
    while step() * step_seconds < SIMULATED_SECONDS:
        assert time.monotonic() < deadline, f"the operator reached step {step()} only"
        now = time.monotonic()
        starved = starved_jobs(cluster, jobs)
        for name in jobs:
            if name in starved:
                since.setdefault(name, now)
                longest[name] = max(longest.get(name, 0.0), (now - since[name]) * speedup)
            else:
                since.pop(name, None)
        time.sleep(SAMPLE_SECONDS)
    operator.stop()  # a graceful stop persists the final state (any persisted step will do)
    state = read_state(cluster.core, cluster.namespace, cluster.constellation("sso-12")["status"])
    steps = int(state["step"])
    counters = state["counters"]
    completed = sum(sum(job["progress"]) for job in state["jobs"].values())

    scenario = load_scenario(SCENARIO)
    environment = prepare(scenario, steps * step_seconds)
    predicted = simulate(scenario, environment, "predictive")

    print(
        f"parity over {steps * step_seconds / 3600:.2f} simulated hours: completed "
        f"{completed:.0f} / {predicted.completed_gpu_seconds:.0f} GPU-s, lost "
        f"{counters['lostGpuSeconds']:.0f} / {predicted.lost_gpu_seconds:.0f}, evictions "
        f"{counters['evictions']} / {predicted.evictions}, failures {counters['failures']} / "
        f"{predicted.pod_failures}, refused {counters['refusedEvictions']}, longest starved "
        f"{max(longest.values(), default=0.0):.0f} s"
    )
    assert completed == pytest.approx(predicted.completed_gpu_seconds, rel=COMPLETED_TOLERANCE)
    assert close(counters["lostGpuSeconds"], predicted.lost_gpu_seconds), (
        counters,
        predicted.lost_gpu_seconds,
    )
    evictions = {k: v for k, v in predicted.evictions.items() if k != REFUSED_BY_PDB}
    for reason in set(evictions) | set(counters["evictions"]):
        assert close(counters["evictions"].get(reason, 0), evictions.get(reason, 0)), (
            reason,
            counters["evictions"],
            evictions,
        )
    for reason in set(predicted.pod_failures) | set(counters["failures"]):
        assert close(counters["failures"].get(reason, 0), predicted.pod_failures.get(reason, 0)), (
            reason,
            counters["failures"],
            predicted.pod_failures,
        )
    assert close(counters["refusedEvictions"], predicted.evictions.get(REFUSED_BY_PDB, 0))
    # the scenario exercises what it claims to
    assert predicted.evictions.get("runway", 0) > 0
    assert predicted.evictions.get(REFUSED_BY_PDB, 0) > 0
    assert sum(predicted.pod_failures.values()) > 0
    assert all(v < STARVED_LIMIT_SECONDS for v in longest.values()), longest

    # what the API shows agrees with the engine: Jobs' succeeded counts
    def settled() -> bool:
        return all(
            (cluster.job(name).status.succeeded or 0)
            == len(state["jobs"][next(k for k in state["jobs"] if f"/{name}/" in k)]["done"])
            for name in jobs
        )

    wait_for("the Jobs' status to match the engine", settled, timeout=30)
    node = cluster.nodes("sso-12")[0]
    assert condition(node, "Sunlit") is not None
