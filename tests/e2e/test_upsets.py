"""Radiation upsets, injected through the Satellite's `kubesat.io/inject-upset` annotation.

A SEFI hangs a GPU: the pod on it dies (Failed, DisruptionTarget RadiationUpset), the node
is tainted `kubesat.io/radiation-upset:NoSchedule` so its replacement runs on the other
satellite, the pod the upset spared keeps running (the predictive policy does not drain
what an upset left working), and the node returns when the GPU has recovered. A latch-up
power-cycles the whole satellite: its node goes NotReady and comes back.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any

import pytest
from kubernetes.client import ApiException

from tests.e2e.conftest import GROUP, VERSION, Cluster, condition, constellation, gpu_job, wait_for

pytestmark = pytest.mark.controlplane

UPSET_TAINT = "kubesat.io/radiation-upset"


def taint(node: Any, key: str) -> Any:
    return next((t for t in node.spec.taints or [] if t.key == key), None)


def inject(cluster: Cluster, satellite: str, kind: str) -> None:
    """Annotate the Satellite once it exists (its Node can be Ready a moment before it)."""

    def exists() -> bool:
        try:
            cluster.custom.get_namespaced_custom_object(
                GROUP, VERSION, cluster.namespace, "satellites", satellite
            )
        except ApiException as error:
            if error.status == HTTPStatus.NOT_FOUND:
                return False
            raise
        return True

    wait_for(f"Satellite {satellite}", exists, timeout=30, interval=0.1)
    cluster.custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        cluster.namespace,
        "satellites",
        satellite,
        {"metadata": {"annotations": {"kubesat.io/inject-upset": kind}}},
    )


def test_injected_sefi_taints_the_node_and_the_lost_pod_is_replaced_elsewhere(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    # two satellites half an orbit apart; a battery that rides out every eclipse; a GPU
    # hung by a SEFI is back after 45 simulated minutes (45 s of wall time at 60x): longer
    # than the Job controller's backoff before it replaces two failed pods (10 s, 20 s)
    cluster.create(
        constellation(
            "duo",
            planes=1,
            per_plane=2,
            battery_wh=4000.0,
            speedup=60.0,
            step=10.0,
            radiation={"enabled": False, "sefiRecoverySeconds": 2700},
        )
    )
    nodes = cluster.ready_nodes("duo", 2)
    names = {n.metadata.name for n in nodes}
    # two 2-GPU pods: the predictive score packs them onto one satellite
    cluster.create(
        gpu_job(
            "pack", gpus=2, work=2 * 36000.0, interval=300, write=30, parallelism=2, completions=2
        )
    )

    def running() -> list[Any]:
        pods = [p for p in cluster.pods("pack") if p.status.phase == "Running"]
        return pods if len(pods) == 2 else []

    pods = wait_for("2 running pods", running, timeout=60)
    target = pods[0].spec.node_name
    on_target = {p.metadata.name for p in pods if p.spec.node_name == target}
    other = (names - {target}).pop()
    wait_for(
        "a checkpoint",
        lambda: any(
            u.get("checkpoint", 0) > 0 for u in cluster.progress("pack").get("units", {}).values()
        ),
        timeout=60,
    )
    inject(cluster, target, "sefi")
    injected = time.monotonic()

    def tainted() -> Any:
        node = cluster.core.read_node(target)
        return node if taint(node, UPSET_TAINT) else None

    node = wait_for("the upset taint", tainted, timeout=30, interval=0.1)
    assert taint(node, UPSET_TAINT).effect == "NoSchedule"
    assert condition(node, "RadiationUpset").status == "True"
    assert condition(node, "RadiationUpset").reason == "SEFI"
    # the annotation was consumed
    satellite = cluster.custom.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "satellites", target
    )
    assert "kubesat.io/inject-upset" not in (satellite["metadata"].get("annotations") or {})
    events = wait_for("the RadiationUpset event", lambda: cluster.events(target, "RadiationUpset"))
    assert "SEFI (injected)" in events[0].message

    # the pod on the hung GPU is replaced on the other satellite; the spared one stays
    def replaced() -> bool:
        current = cluster.pods("pack")
        live = [
            p
            for p in current
            if p.status.phase in ("Pending", "Running") and p.metadata.deletion_timestamp is None
        ]
        lost = [p for p in current if p.status.reason == "RadiationUpset"]
        spared = on_target - {p.metadata.name for p in lost}
        return (
            len(lost) == 1
            and len(live) == 2
            and all(p.status.phase == "Running" for p in live)
            and {p.metadata.name for p in live if p.spec.node_name == target} == spared
            and sum(p.spec.node_name == other for p in live) == 1
        )

    wait_for("a replacement on the other satellite beside the spared pod", replaced, timeout=60)
    killed = cluster.events(reason="RadiationUpset")
    assert any(e.involved_object.kind == "Pod" for e in killed), [e.message for e in killed]

    # the node returns once the GPU has recovered: taint gone, condition False
    def recovered() -> Any:
        node = cluster.core.read_node(target)
        return node if taint(node, UPSET_TAINT) is None else None

    node = wait_for("the node to return", recovered, timeout=120)
    assert 30 < time.monotonic() - injected < 100
    assert condition(node, "RadiationUpset").status == "False"
    assert condition(node, "Ready").status == "True"
    assert cluster.events(target, "Recovered")


def test_injected_latchup_power_cycles_the_satellite(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    cluster.create(
        constellation(
            "solo",
            planes=1,
            per_plane=1,
            battery_wh=4000.0,
            speedup=60.0,
            step=10.0,
            radiation={"enabled": False, "latchupRecoverySeconds": 600},
        )
    )
    (node,) = cluster.ready_nodes("solo", 1)
    name = node.metadata.name
    inject(cluster, name, "latchup")

    def down() -> Any:
        node = cluster.core.read_node(name)
        power_cycling = condition(node, "Ready").status == "False" and taint(node, UPSET_TAINT)
        return node if power_cycling else None

    node = wait_for("NotReady", down, timeout=30, interval=0.1)
    assert condition(node, "Ready").reason == "PowerCycling"
    assert taint(node, UPSET_TAINT).value == "latchup"

    def power_cycling() -> Any:
        (satellite,) = cluster.satellites("solo")
        return satellite if satellite.get("status", {}).get("phase") == "PowerCycling" else None

    sat = wait_for("phase PowerCycling", power_cycling, timeout=30)
    assert sat["status"]["upsets"]["latchup"] == 1

    def back() -> bool:
        node = cluster.core.read_node(name)
        return condition(node, "Ready").status == "True" and not taint(node, UPSET_TAINT)

    wait_for("Ready again", back, timeout=60)
