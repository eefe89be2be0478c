"""Chaos on the real control plane: the operator killed while drains are in flight, the API
server and etcd restarted, and the fleet still does what the simulator predicts.

tests/data/parity-12.yaml (12 satellites, an eclipse every orbit, radiation upsets, a
PodDisruptionBudget that refuses drains) runs through the operator at 120x for at least
three simulated hours, until the last disruption is done (two to three wall minutes).
Meanwhile, at seeded random moments, each taken when a drain is in flight (a pod being
evicted) when one comes within a few seconds:

- the operator is SIGKILLed and started again, KILLS times;
- kube-apiserver is restarted once, and etcd once (same ports, same data).

Afterwards, against `kubesat simulate` of the same file for the same simulated steps
(undisturbed):

- goodput: completed GPU-seconds within 5% of the prediction;
- no checkpointed work lost: no unit's checkpoint in a Job's progress ever went back, and
  the lost GPU-seconds are what the prediction loses (within 10% or 2);
- no pod ran twice for the same completion: never two live pods of one completion at a
  sample, and at most one Succeeded pod per completion;
- no Node left tainted or NotReady by a stale decision: after the last disruption every
  Node's taints agree with its own conditions, no Node carries the node-lifecycle
  controller's not-ready/unreachable taint, and every Lease is fresh.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
import yaml

from kubesat.k8s.state_store import read_state
from kubesat.sim.run import load_scenario, prepare, simulate
from tests.e2e.conftest import Cluster, Operators
from tests.e2e.test_parity import SCENARIO, close, quantities_as_text
from tests.support.prerequisites import missing
from tests.support.waiting import wait_for

pytestmark = pytest.mark.controlplane

SIMULATED_SECONDS = 3.0 * 3600.0
STEP_SECONDS = 10.0
KILLS = 5
GOODPUT_TOLERANCE = 0.05
DRAIN_WAIT_SECONDS = 10.0  # wall: how long a disruption waits for a drain in flight
DRAIN_POLL_SECONDS = 0.05
SAMPLE_SECONDS = 1.0  # wall
SETTLE_SECONDS = 15.0  # wall: for the last writes after the last disruption
LEASE_FRESH_SECONDS = 40.0  # the node-lifecycle controller's grace period
SEED = 20261130
# the durable state every wall second (default 5): a killed operator replays at most that
OPERATOR_FLAGS = ("--persist-seconds", "1")
CONSTELLATION = "sso-12"
LIFECYCLE_TAINTS = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
# a kubesat taint and the node condition (type, status) that must hold while it is there
TAINT_CONDITION = {
    "kubesat.io/low-power": ("PowerAvailable", "False"),
    "kubesat.io/radiation-upset": ("RadiationUpset", "True"),
}


def completion_of(pod: Any) -> tuple[str, str] | None:
    """(job, completion) of a pod kubesat's Job controller made: `<job>-<completion>-<attempt>`."""
    job = (pod.metadata.labels or {}).get("job-name")
    if not job or not pod.metadata.name.startswith(f"{job}-"):
        return None
    completion, _, _attempt = pod.metadata.name[len(job) + 1 :].partition("-")
    return job, completion


class Observer:
    """What the test samples while the run goes on."""

    def __init__(self, cluster: Cluster, jobs: list[str]) -> None:
        self.cluster = cluster
        self.jobs = jobs
        self.checkpoints: dict[tuple[str, str], float] = {}
        self.went_back: list[str] = []
        self.twice: list[str] = []
        self.samples = 0
        self.last_sample = -math.inf

    def sample_every(self, seconds: float) -> None:
        if time.monotonic() - self.last_sample >= seconds:
            self.sample()

    def pods(self) -> list[Any]:
        return self.cluster.core.list_namespaced_pod(self.cluster.namespace).items

    def draining(self) -> int:
        """Pods being evicted or stopped right now."""
        count = 0
        for pod in self.pods():
            conditions = {c.type for c in pod.status.conditions or []}
            if pod.metadata.deletion_timestamp or "DisruptionTarget" in conditions:
                count += pod.status.phase in ("Pending", "Running")
        return count

    def sample(self) -> None:
        """Checkpoints only move forward; one live pod per completion at most."""
        self.last_sample = time.monotonic()
        try:
            pods = self.pods()
            annotations = {
                name: (self.cluster.job(name).metadata.annotations or {}) for name in self.jobs
            }
        except Exception:
            return  # the API server is away: nothing to see
        self.samples += 1
        live = Counter(
            completion_of(p)
            for p in pods
            if p.status.phase == "Running" and not p.metadata.deletion_timestamp
        )
        self.twice += [f"{c} live {n}x" for c, n in live.items() if c is not None and n > 1]
        for name, notes in annotations.items():
            text = notes.get("kubesat.io/progress")
            if not text:
                continue
            for unit, entry in (json.loads(text).get("units") or {}).items():
                key = (name, unit)
                checkpoint = float(entry.get("checkpoint", 0.0))
                before = self.checkpoints.get(key, 0.0)
                if checkpoint + 1e-6 < before:
                    self.went_back.append(f"{name}/{unit}: {before} -> {checkpoint}")
                self.checkpoints[key] = max(before, checkpoint)


def disruption_plan(rng: random.Random, span_seconds: float) -> list[tuple[float, str]]:
    """(wall offset, what) for the run: KILLS kills, one API server and one etcd restart,
    at random moments spread over the run's first 85%."""
    kinds = ["kill"] * KILLS + ["apiserver", "etcd"]
    rng.shuffle(kinds)
    slot = 0.85 * span_seconds / len(kinds)
    return [(slot * (i + rng.uniform(0.2, 0.8)), kind) for i, kind in enumerate(kinds)]


def node_problems(cluster: Cluster) -> list[str]:
    """Taints that disagree with the node's own conditions; lifecycle taints; old Leases."""
    from kubernetes import client as k8s

    problems = []
    now = time.time()
    leases = {
        lease.metadata.name: lease
        for lease in k8s.CoordinationV1Api(cluster.api)
        .list_namespaced_lease("kube-node-lease")
        .items
    }
    for node in cluster.nodes(CONSTELLATION):
        name = node.metadata.name
        conditions = {c.type: c.status for c in node.status.conditions or []}
        taints = {t.key for t in node.spec.taints or []}
        ready = conditions.get("Ready")
        if ready not in ("True", "False"):
            problems.append(f"{name}: Ready={ready}")
        if ready == "True" and taints & LIFECYCLE_TAINTS:
            problems.append(f"{name}: Ready=True but {sorted(taints & LIFECYCLE_TAINTS)}")
        for taint, (kind, status) in TAINT_CONDITION.items():
            if (taint in taints) != (conditions.get(kind) == status):
                problems.append(f"{name}: taint {taint} {taint in taints}, {kind}={status}")
        lease = leases.get(name)
        renewed = lease.spec.renew_time.timestamp() if lease and lease.spec.renew_time else 0.0
        if now - renewed > LEASE_FRESH_SECONDS:
            problems.append(f"{name}: Lease renewed {now - renewed:.0f} s ago")
    return problems


def test_operator_kills_and_control_plane_restarts_during_drains(
    admin: Any, namespace: str, operators: Operators, kube_cluster: Any
) -> None:
    start_operator = operators.start
    if not hasattr(kube_cluster, "restart_apiserver"):
        missing("the chaos test restarts kube-apiserver and etcd: needs the local control plane")
    cluster = Cluster(admin, namespace)
    documents = [d for d in yaml.safe_load_all(SCENARIO.read_text()) if d]
    speedup = next(d for d in documents if d["kind"] == "Constellation")["spec"]["clock"]["speedup"]
    jobs = [d["metadata"]["name"] for d in documents if d["kind"] == "Job"]
    operator = start_operator(namespace, *OPERATOR_FLAGS)
    for document in documents:
        cluster.create(quantities_as_text(document))
    cluster.ready_nodes(CONSTELLATION, 12, timeout=120)
    observer = Observer(cluster, jobs)

    def step() -> int:
        try:
            status = cluster.constellation(CONSTELLATION).get("status", {})
        except Exception:
            return 0  # the API server is away
        return int((status.get("stateRef") or {}).get("step", 0))

    span = SIMULATED_SECONDS / speedup
    plan = disruption_plan(random.Random(SEED), span)
    started = time.monotonic()
    deadline = started + 3 * span + 120
    done: list[str] = []
    while step() * STEP_SECONDS < SIMULATED_SECONDS or plan:
        assert time.monotonic() < deadline, f"reached step {step()} only; done {done}"
        if plan and time.monotonic() - started >= plan[0][0]:
            _, kind = plan.pop(0)
            waited = time.monotonic()
            while not observer.draining() and time.monotonic() - waited < DRAIN_WAIT_SECONDS:
                observer.sample_every(SAMPLE_SECONDS)
                time.sleep(DRAIN_POLL_SECONDS)
            in_flight = observer.draining()
            if kind == "kill":
                operator.kill()
                operator = start_operator(namespace, *OPERATOR_FLAGS)
                took = time.monotonic() - waited
            else:
                before = datetime.now()
                if kind == "apiserver":
                    took = kube_cluster.restart_apiserver()
                else:
                    took = kube_cluster.restart_etcd()
                operators.restarting(before, datetime.now())
            done.append(
                f"{kind} at {time.monotonic() - started:.0f} s ({in_flight} draining, {took:.1f} s)"
            )
            continue
        observer.sample()
        time.sleep(SAMPLE_SECONDS)

    time.sleep(SETTLE_SECONDS)
    problems = wait_for_no_node_problems(cluster)
    operator.stop()  # a graceful stop persists the final state
    state = read_state(cluster.core, namespace, cluster.constellation(CONSTELLATION)["status"])
    steps = int(state["step"])
    counters = state["counters"]
    completed = sum(sum(job["progress"]) for job in state["jobs"].values())
    scenario = load_scenario(SCENARIO)
    predicted = simulate(scenario, prepare(scenario, steps * STEP_SECONDS), "predictive")
    succeeded = Counter(completion_of(p) for p in observer.pods() if p.status.phase == "Succeeded")

    print(
        f"chaos over {steps * STEP_SECONDS / 3600:.2f} simulated hours, "
        f"{time.monotonic() - started:.0f} wall s: {'; '.join(done)}\n"
        f"completed {completed:.0f} / predicted {predicted.completed_gpu_seconds:.0f} GPU-s "
        f"({completed / predicted.completed_gpu_seconds:.4f}), lost "
        f"{counters['lostGpuSeconds']:.0f} / {predicted.lost_gpu_seconds:.0f}, evictions "
        f"{counters['evictions']} / {predicted.evictions}, {observer.samples} samples"
    )
    assert len([d for d in done if d.startswith("kill")]) == KILLS
    assert any(d.startswith("apiserver") for d in done) and any(d.startswith("etcd") for d in done)
    assert completed == pytest.approx(predicted.completed_gpu_seconds, rel=GOODPUT_TOLERANCE)
    assert not observer.went_back, observer.went_back
    assert close(counters["lostGpuSeconds"], predicted.lost_gpu_seconds), (
        counters["lostGpuSeconds"],
        predicted.lost_gpu_seconds,
    )
    assert not observer.twice, observer.twice
    assert all(n <= 1 for c, n in succeeded.items() if c is not None), succeeded
    assert not problems, problems
    assert observer.samples > span / (2 * SAMPLE_SECONDS)


def wait_for_no_node_problems(cluster: Cluster, timeout: float = 30.0) -> list[str]:
    """The node problems that last `timeout` wall seconds (a write in flight may lag)."""
    problems: list[str] = []

    def clear() -> bool:
        nonlocal problems
        problems = node_problems(cluster)
        return not problems

    try:
        wait_for("the Nodes to agree with their conditions", clear, timeout=timeout)
    except pytest.fail.Exception:
        return problems
    return []
