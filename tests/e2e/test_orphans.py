"""A Constellation that goes while no operator runs leaves nothing behind.

- Deleted while the operator is down: it waits with kubesat's finalizer; the next operator
  runs its delete handler, so its Nodes, Leases and Satellites go, and a new one of the same
  name starts clean.
- Deleted while the operator is down and its finalizer removed by hand: its Nodes
  (cluster-scoped, owned by nothing) stay, until the next operator's startup collection
  deletes them and their Leases; a Constellation of the same name in another namespace then
  gets its Nodes, no `NodeConflict`.
- Deleted right after it was created, while its Nodes are being registered: none of them
  is created after the delete handler's sweep.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.e2e.conftest import GROUP, VERSION, Cluster, constellation, wait_for

pytestmark = pytest.mark.controlplane

LEASE_NAMESPACE = "kube-node-lease"


def leases(cluster: Cluster, names: set[str]) -> set[str]:
    found = k8s.CoordinationV1Api(cluster.api).list_namespaced_lease(LEASE_NAMESPACE).items
    return {lease.metadata.name for lease in found} & names


def nothing_left(cluster: Cluster, name: str, node_names: set[str]) -> bool:
    return (
        not cluster.nodes(name) and not cluster.satellites(name) and not leases(cluster, node_names)
    )


def delete_constellation(cluster: Cluster, name: str) -> None:
    cluster.custom.delete_namespaced_custom_object(
        GROUP, VERSION, cluster.namespace, "constellations", name
    )


@pytest.fixture
def other_namespace(admin: Any) -> Iterator[str]:
    core = k8s.CoreV1Api(admin)
    name = f"kubesat-e2e-other-{int(time.time() * 1000) % 10**8}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(name)


def test_deleted_while_no_operator_runs_is_cleaned_up_by_the_next_one(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    first = start_operator(namespace)
    cluster.create(constellation("gone"))
    nodes = {n.metadata.name for n in cluster.ready_nodes("gone", 2)}
    wait_for("their leases", lambda: leases(cluster, nodes) == nodes, timeout=60)
    first.kill()
    delete_constellation(cluster, "gone")
    time.sleep(2)
    stuck = cluster.constellation("gone")
    assert stuck["metadata"].get("deletionTimestamp"), "kubesat's finalizer holds it"
    assert len(cluster.nodes("gone")) == 2

    start_operator(namespace)
    wait_for(
        "the Constellation, its Nodes, Leases and Satellites to go",
        lambda: (
            nothing_left(cluster, "gone", nodes)
            and not cluster.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, "constellations"
            )["items"]
        ),
        timeout=60,
    )
    cluster.create(constellation("gone"))
    again = cluster.ready_nodes("gone", 2)
    assert {n.metadata.name for n in again} == nodes
    assert not cluster.events(reason="NodeConflict")


def test_finalizer_removed_by_hand_the_next_operator_collects_the_nodes(
    admin: Any, namespace: str, other_namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    first = start_operator(namespace)
    cluster.create(constellation("lost"))
    nodes = {n.metadata.name for n in cluster.ready_nodes("lost", 2)}
    wait_for("their leases", lambda: leases(cluster, nodes) == nodes, timeout=60)
    first.kill()
    delete_constellation(cluster, "lost")
    cluster.custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "constellations", "lost", {"metadata": {"finalizers": None}}
    )
    wait_for(
        "the Constellation to go",
        lambda: (
            not cluster.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, "constellations"
            )["items"]
        ),
        timeout=30,
    )
    time.sleep(2)
    assert {n.metadata.name for n in cluster.nodes("lost")} == nodes, "nothing collects them"

    # the next operator serves another namespace: its startup collection still takes them
    other = Cluster(admin, other_namespace)
    start_operator(other_namespace)
    wait_for("the Nodes and their Leases to go", lambda: nothing_left(cluster, "lost", nodes))
    other.create(constellation("lost"))
    again = other.ready_nodes("lost", 2)
    assert {n.metadata.name for n in again} == nodes
    assert not other.events(reason="NodeConflict")


def test_deleted_while_its_nodes_are_registered_leaves_none(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    cluster.create(constellation("brief", planes=2, per_plane=4))
    wait_for("the first of its Nodes", lambda: cluster.nodes("brief"), timeout=60, interval=0.02)
    delete_constellation(cluster, "brief")
    wait_for(
        "the Constellation to go",
        lambda: (
            not cluster.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, "constellations"
            )["items"]
        ),
        timeout=60,
    )
    time.sleep(3)  # a Node created late would show up within this
    assert not cluster.nodes("brief")
    wait_for("its Satellites to be collected", lambda: not cluster.satellites("brief"))
