"""Collect what the operator made for Constellations that are gone: Nodes, Leases, Satellites.

A Constellation's Nodes are cluster-scoped, so no ownerReference can collect them; its
delete handler removes them, but only when an operator runs while the Constellation goes.
One deleted with no operator running whose finalizer was then removed by hand (or whose
namespace was force-emptied) leaves its Nodes behind, and a new Constellation of the same
name would find them. So the operator collects on startup, and every `period_seconds`
after that:

- Nodes labelled `kubesat.io/constellation` + `kubesat.io/namespace` whose Constellation
  does not exist (one being deleted is left to its delete handler);
- node Leases in `kube-node-lease` that kubesat's node agent wrote (held by their own
  name, owned by a Node of that name) whose Node is gone (the garbage collector takes
  them too, when the controller manager runs);
- Satellites whose owning Constellation (by ownerReference uid) is gone.

Each kind is listed before what it hangs on (Leases, Satellites, Nodes, then
Constellations): a Node listed before a Constellation list that lacks its owner belongs to a
Constellation that is gone, not to one being created.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Final

from kubesat.k8s.api import Api, status_of
from kubesat.k8s.nodes import LABEL_NAMESPACE, LEASE_NAMESPACE
from kubesat.spec import CONSTELLATION_LABEL, GROUP, VERSION

logger = logging.getLogger("kubesat.orphans")

COLLECT_PERIOD_SECONDS: Final = 300.0
RETRY_SECONDS: Final = 10.0  # after a failed collection (API server away)
NOT_FOUND: Final = 404


@dataclass
class Collected:
    """What one collection deleted, by name."""

    nodes: list[str] = field(default_factory=list)
    leases: list[str] = field(default_factory=list)
    satellites: list[str] = field(default_factory=list)  # "namespace/name"

    @property
    def total(self) -> int:
        return len(self.nodes) + len(self.leases) + len(self.satellites)


def orphan_nodes(nodes: list[Any], constellations: set[tuple[str, str]]) -> list[str]:
    """Names of the kubesat Nodes whose (namespace, name) Constellation is not there."""
    orphans = []
    for node in nodes:
        labels = node.metadata.labels or {}
        owner = (labels.get(LABEL_NAMESPACE), labels.get(CONSTELLATION_LABEL))
        if None in owner or "" in owner:
            continue
        if owner not in constellations:
            orphans.append(node.metadata.name)
    return orphans


def orphan_leases(leases: list[Any], nodes: set[str]) -> list[str]:
    """Names of the node-agent Leases (held by and owned by their Node) whose Node is gone."""
    orphans = []
    for lease in leases:
        name = lease.metadata.name
        owners = lease.metadata.owner_references or []
        ours = (lease.spec.holder_identity if lease.spec else None) == name and any(
            o.kind == "Node" and o.name == name for o in owners
        )
        if ours and name not in nodes:
            orphans.append(name)
    return orphans


def orphan_satellites(satellites: list[dict[str, Any]], uids: set[str]) -> list[tuple[str, str]]:
    """(namespace, name) of the Satellites whose owning Constellation uid is not there."""
    orphans = []
    for item in satellites:
        meta = item.get("metadata") or {}
        owners = [o for o in meta.get("ownerReferences") or [] if o.get("kind") == "Constellation"]
        if owners and not any(o.get("uid") in uids for o in owners):
            orphans.append((str(meta.get("namespace")), str(meta.get("name"))))
    return orphans


async def collect(api: Api) -> Collected:
    """Delete the Nodes, Leases and Satellites of Constellations that are gone."""
    core, custom = api.core, api.custom
    # each list before the list of what its objects depend on (see the module's docstring)
    leases = await api.call(
        "list", "leases", api.coordination.list_namespaced_lease, LEASE_NAMESPACE
    )
    satellites = await api.call(
        "list",
        "satellites",
        custom.list_cluster_custom_object,
        GROUP,
        VERSION,
        "satellites",
    )
    nodes = await api.call(
        "list", "nodes", core.list_node, label_selector=f"{CONSTELLATION_LABEL},{LABEL_NAMESPACE}"
    )
    listed = await api.call(
        "list",
        "constellations",
        custom.list_cluster_custom_object,
        GROUP,
        VERSION,
        "constellations",
    )
    items = listed.get("items", [])
    present = {(c["metadata"]["namespace"], c["metadata"]["name"]) for c in items}
    uids = {c["metadata"]["uid"] for c in items}
    done = Collected()
    for name in orphan_nodes(nodes.items, present):
        if await _delete(api, "nodes", core.delete_node, name):
            done.nodes.append(name)
    remaining = {n.metadata.name for n in nodes.items} - set(done.nodes)
    for name in orphan_leases(leases.items, remaining):
        deleted = await _delete(
            api, "leases", api.coordination.delete_namespaced_lease, name, LEASE_NAMESPACE
        )
        if deleted:
            done.leases.append(name)
    for namespace, name in orphan_satellites(satellites.get("items", []), uids):
        deleted = await _delete(
            api,
            "satellites",
            custom.delete_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "satellites",
            name,
        )
        if deleted:
            done.satellites.append(f"{namespace}/{name}")
    if done.total:
        logger.info(
            "collected what Constellations that are gone left: %d nodes, %d leases, %d satellites",
            len(done.nodes),
            len(done.leases),
            len(done.satellites),
        )
    return done


async def _delete(api: Api, resource: str, fn: Any, *args: Any) -> bool:
    """Delete one object; False when it was already gone."""
    try:
        await api.call("delete", resource, fn, *args)
    except Exception as error:
        if status_of(error) == NOT_FOUND:
            return False
        raise
    return True


async def collect_forever(api: Api, period_seconds: float = COLLECT_PERIOD_SECONDS) -> None:
    """Collect now and every `period_seconds`; a failure is logged and retried sooner."""
    while True:
        try:
            await collect(api)
            delay = period_seconds
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("collecting orphans failed (retrying): %s", error)
            delay = min(RETRY_SECONDS, period_seconds)
        await asyncio.sleep(delay)
