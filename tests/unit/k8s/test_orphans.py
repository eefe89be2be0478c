"""Which objects the orphan collection takes: the selection, without an API server."""

from __future__ import annotations

from types import SimpleNamespace as Obj

from kubesat.k8s.nodes import LABEL_NAMESPACE
from kubesat.k8s.orphans import orphan_leases, orphan_nodes, orphan_satellites
from kubesat.spec import CONSTELLATION_LABEL


def node(name: str, namespace: str | None, constellation: str | None) -> Obj:
    labels = {}
    if namespace is not None:
        labels[LABEL_NAMESPACE] = namespace
    if constellation is not None:
        labels[CONSTELLATION_LABEL] = constellation
    return Obj(metadata=Obj(name=name, labels=labels))


def lease(name: str, holder: str | None, owner: str | None) -> Obj:
    owners = [Obj(kind="Node", name=owner)] if owner else []
    return Obj(metadata=Obj(name=name, owner_references=owners), spec=Obj(holder_identity=holder))


def test_nodes_of_a_constellation_that_is_gone_are_orphans():
    nodes = [
        node("a-0", "ns1", "a"),
        node("b-0", "ns1", "b"),
        node("a-1", "ns2", "a"),  # same name, other namespace: that one is gone
        node("plain", None, None),  # not ours
    ]
    assert orphan_nodes(nodes, {("ns1", "a"), ("ns1", "b")}) == ["a-1"]
    assert orphan_nodes(nodes, set()) == ["a-0", "b-0", "a-1"]


def test_only_node_agent_leases_whose_node_is_gone_are_orphans():
    leases = [
        lease("sat-0", "sat-0", "sat-0"),  # ours, Node there
        lease("sat-1", "sat-1", "sat-1"),  # ours, Node gone
        lease("worker", "worker", None),  # not owned by a Node
        lease("other", "someone-else", "other"),  # held by another
    ]
    assert orphan_leases(leases, {"sat-0"}) == ["sat-1"]


def test_satellites_whose_owner_uid_is_gone_are_orphans():
    def sat(name: str, uid: str | None) -> dict:
        owners = [{"kind": "Constellation", "uid": uid}] if uid else []
        return {"metadata": {"namespace": "ns", "name": name, "ownerReferences": owners}}

    items = [sat("live", "u1"), sat("stale", "u0"), sat("unowned", None)]
    assert orphan_satellites(items, {"u1"}) == [("ns", "stale")]
