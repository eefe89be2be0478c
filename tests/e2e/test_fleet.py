"""A constellation becomes Satellites and Ready Nodes that stay Ready; a GPU Job runs on it.

One 12-satellite Walker shell (3 planes of 4, 550 km) with a battery that carries its
GPUs through eclipse, at 60x, shared by the scenarios of this module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    Cluster,
    Operators,
    condition,
    constellation,
    gpu_job,
    node_ready,
    wait_for,
)

pytestmark = pytest.mark.controlplane

NAME = "shell12"


@pytest.fixture(scope="module")
def fleet(
    kube_cluster: Any,
    operator_kubeconfig: Any,
    e2e_namespace: str,
    tmp_path_factory: Any,
    request: pytest.FixtureRequest,
) -> Iterator[Cluster]:
    operators = Operators(operator_kubeconfig, tmp_path_factory.mktemp("operator"))
    api = kube_cluster.api_client()
    cluster = Cluster(api, e2e_namespace)
    failed = False
    try:
        operators.start(e2e_namespace)
        cluster.create(
            constellation(
                NAME,
                planes=3,
                per_plane=4,
                phasing=1,
                gpus=4,
                gpu_power_w=300.0,
                bus_power_w=200.0,
                solar_w=2500.0,
                battery_wh=2000.0,
                speedup=60.0,
                step=10.0,
            )
        )
        yield cluster
    except BaseException:
        failed = True
        raise
    finally:
        failed = failed or request.session.testsfailed > 0
        operators.close(kube_cluster, show_logs=failed)
        from tests.support.controlplane import close_api_client

        close_api_client(api)


def test_twelve_satellites_become_ready_nodes_that_stay_ready(fleet: Cluster) -> None:
    sats = wait_for(
        "12 Satellites",
        lambda: len(fleet.satellites(NAME)) == 12 and fleet.satellites(NAME),
        timeout=90,
    )
    nodes = fleet.ready_nodes(NAME, 12)
    names = {s["metadata"]["name"] for s in sats}
    assert {n.metadata.name for n in nodes} == names
    for node in nodes:
        labels = node.metadata.labels
        assert labels["kubesat.io/satellite"] == node.metadata.name
        assert labels["kubesat.io/constellation"] == NAME
        assert labels["topology.kubernetes.io/zone"].startswith(f"{NAME}-plane-")
        assert node.status.capacity["nvidia.com/gpu"] == "4"
        assert {
            "key": "kubesat.io/satellite",
            "value": node.metadata.name,
            "effect": "NoSchedule",
        } in [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.spec.taints]
        kinds = {c.type for c in node.status.conditions}
        assert {"Ready", "Sunlit", "PowerAvailable", "GroundLink", "RadiationUpset"} <= kinds
    # each Satellite reports its node, phase and battery
    wait_for(
        "Satellite status",
        lambda: all(
            s.get("status", {}).get("node") and s["status"].get("phase")
            for s in fleet.satellites(NAME)
        ),
        timeout=30,
    )
    from kubernetes import client as k8s

    coordination = k8s.CoordinationV1Api(fleet.api)
    first = {
        n: coordination.read_namespaced_lease(n, "kube-node-lease").spec.renew_time for n in names
    }
    # for 60 s of wall time (an hour simulated: eclipses come and go) no node goes
    # NotReady or unreachable, and every lease is renewed
    deadline = time.monotonic() + 62
    sunlit_seen: dict[str, set[str]] = {n: set() for n in names}
    while time.monotonic() < deadline:
        for node in fleet.nodes(NAME):
            assert node_ready(node), f"{node.metadata.name} not Ready: {condition(node, 'Ready')}"
            keys = {t.key for t in node.spec.taints or []}
            assert "node.kubernetes.io/unreachable" not in keys, node.metadata.name
            assert "node.kubernetes.io/not-ready" not in keys, node.metadata.name
            sunlit_seen[node.metadata.name].add(condition(node, "Sunlit").status)
        time.sleep(2)
    renewed = {
        n: coordination.read_namespaced_lease(n, "kube-node-lease").spec.renew_time for n in names
    }
    assert all(renewed[n] > first[n] for n in names), (first, renewed)
    # the physics moved the nodes' Sunlit condition both ways over the hour
    assert sum(1 for seen in sunlit_seen.values() if seen == {"True", "False"}) >= 6, sunlit_seen
    status = fleet.constellation(NAME)["status"]
    assert status["satellites"] == 12
    assert status["readyNodes"] == 12
    assert status["phase"] == "Running"


def test_gpu_job_is_scheduled_by_kubesat_scheduler_and_completes(fleet: Cluster) -> None:
    fleet.ready_nodes(NAME, 12)
    # 2 x 2 GPUs, 1200 GPU-s each: 600 simulated seconds, 10 s of wall time
    fleet.create(
        gpu_job("finetune", gpus=2, work=1200, interval=300, write=10, parallelism=2, completions=2)
    )
    # a pod no satellite can take stays Pending and says why
    fleet.create(gpu_job("too-big", gpus=8, work=600))
    wait_for("Job finetune Complete", lambda: fleet.job_complete("finetune"), timeout=120)
    pods = fleet.pods("finetune")
    nodes = {n.metadata.name for n in fleet.nodes(NAME)}
    assert len(pods) == 2
    for pod in pods:
        assert pod.spec.scheduler_name == "kubesat-scheduler"
        assert pod.spec.node_name in nodes
        assert pod.status.phase == "Succeeded"
        scheduled = fleet.events(pod.metadata.name, "Scheduled")
        assert scheduled, "no Scheduled event"
        assert scheduled[0].source.component == "kubesat-scheduler"
        assert f"to {pod.spec.node_name}" in scheduled[0].message
    progress = fleet.final_progress("finetune", done=2)
    assert progress["done"] == 2
    assert progress["doneGpuSeconds"] == pytest.approx(2400.0)
    assert progress["lostGpuSeconds"] == 0
    big = wait_for("the too-big pod", lambda: fleet.pods("too-big"), timeout=30)[0]
    events = wait_for(
        "FailedScheduling", lambda: fleet.events(big.metadata.name, "FailedScheduling")
    )
    assert "0/12 nodes are available: 12 Insufficient nvidia.com/gpu" in events[0].message
    assert fleet.core.read_namespaced_pod(big.metadata.name, fleet.namespace).status.phase == (
        "Pending"
    )
