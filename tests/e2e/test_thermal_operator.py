"""Heat in the operator, on the real control plane: a radiator-bound satellite's Node says
`ThermalThrottling` and takes the thermal taint (reactive), pods on GPUs held off end
`ThermalThrottled`, and the temperature survives an operator killed and restarted.

Two satellites in a dawn-dusk orbit (6 h LTAN) at the June solstice (no eclipse) carry four 500 W
GPUs, a 50 W bus and a one-sided 1 m^2 radiator that rejects about 630 W at its 60 C
maximum (no Earth load): the bus and one GPU. Their 20 kJ/K heat capacity takes them
from 20 C to the maximum in about ten simulated minutes of four GPUs, five seconds of
wall time at 120x. Under reactive nothing forecasts heat: the GPUs run until the
protection holds them off. kubesat-scheduler then says heat is why a pod waits, in the
words of the engine's own filters.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from kubesat.engine.plugins.framework import FilterReason
from kubesat.k8s.state_store import read_state
from tests.e2e.conftest import Cluster, condition, constellation, gpu_job, wait_for

pytestmark = pytest.mark.controlplane

MAX_K = 333.15
INITIAL_K = 293.15


def hot_constellation(policy: str = "reactive") -> dict[str, Any]:
    body = constellation(
        "hot",
        gpus=4,
        battery_wh=4000.0,
        policy=policy,
        start="2026-06-21T00:00:00Z",
        orbits={"sunSynchronous": {"altitudeKm": 650, "ltanHours": 6, "count": 2}},
    )
    body["spec"]["thermal"] = {
        "heatCapacityJPerK": 20000,
        "radiatorAreaM2": 1.0,
        "twoSided": False,
        "earthViewFactor": 0,
        "maxTemperatureC": 60,
        "initialTemperatureC": 20,
    }
    return body


def temperatures(cluster: Cluster) -> tuple[int, list[float]]:
    status = cluster.constellation("hot").get("status") or {}
    state = read_state(cluster.core, cluster.namespace, status) if status else {}
    return int(state.get("step", -1)), list((state.get("thermal") or {}).get("temperatureK", []))


def test_throttling_node_and_temperature_through_a_restart(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    first = start_operator(namespace)
    cluster.create(hot_constellation())
    cluster.ready_nodes("hot", 2)
    cluster.create(
        gpu_job("warm", gpus=1, work=1e7, interval=300, write=30, parallelism=8, completions=8)
    )

    def throttling() -> Any:
        for node in cluster.nodes("hot"):
            found = condition(node, "ThermalThrottling")
            taints = {t.key for t in node.spec.taints or []}
            hot = found is not None and found.status == "True"
            if hot and "kubesat.io/thermal-throttling" in taints:
                return node
        return None

    node = wait_for("a ThermalThrottling node with its taint", throttling, timeout=90)
    message = condition(node, "ThermalThrottling").message
    assert "radiator cannot carry" in message, message

    def hot() -> Any:
        step, temps = temperatures(cluster)
        return (step, temps) if temps and min(temps) > MAX_K - 15 else None

    step_before, temps_before = wait_for("hot satellites in the durable state", hot, timeout=60)
    assert max(temps_before) <= MAX_K + 1e-6
    first.kill()
    time.sleep(2)
    start_operator(namespace)

    def moved_on() -> Any:
        step, temps = temperatures(cluster)
        return (step, temps) if step > step_before + 5 else None

    _, temps_after = wait_for("the restarted operator's state", moved_on, timeout=60)
    # restored, not started over from 20 C: warm still, never above the maximum
    assert all(INITIAL_K + 15 < t <= MAX_K + 1e-6 for t in temps_after), temps_after
    # pods on the GPUs the protection switched off ended ThermalThrottled
    pods = cluster.pods("warm")
    failed = [p for p in pods if (p.status.reason or "") == "ThermalThrottled"]
    assert failed, [(p.metadata.name, p.status.phase, p.status.reason) for p in pods]
    assert all(p.status.phase == "Failed" for p in failed)


def test_kubesat_scheduler_names_heat_as_the_engines_filters_do(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    """Under `none` (no taints), a throttling satellite's held-off GPUs are not free: a
    pod that needs them stays Pending, and FailedScheduling says heat, not GPUs."""
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    cluster.create(hot_constellation("none"))
    cluster.ready_nodes("hot", 2)
    cluster.create(
        gpu_job("warm", gpus=1, work=1e7, interval=300, write=30, parallelism=8, completions=8)
    )

    def throttling() -> Any:
        nodes = cluster.nodes("hot")
        found = [condition(node, "ThermalThrottling") for node in nodes]
        return all(c is not None and c.status == "True" for c in found) or None

    wait_for("both satellites ThermalThrottling", throttling, timeout=90)
    cluster.create(gpu_job("wide", gpus=2, work=600))
    heat = str(FilterReason.HEAT_THROTTLING)

    def says_heat() -> Any:
        for pod in cluster.pods("wide"):
            for event in cluster.events(pod.metadata.name, "FailedScheduling"):
                if heat in event.message:
                    return event.message
        return None

    message = wait_for("FailedScheduling naming heat", says_heat, timeout=150)
    assert message.startswith("0/2 nodes are available:"), message
    pods = cluster.pods("wide")
    assert pods and all(p.status.phase == "Pending" for p in pods)
    assert all(not p.spec.node_name for p in pods)
