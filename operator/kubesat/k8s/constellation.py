"""Kopf handlers of Constellations: parse the spec, run the fleet, clean up on deletion.

- create/update/resume (`id="constellation"`): parse with `kubesat.spec.parse_constellation`
  (the same parser as `kubesat simulate`). A bad spec that got past admission (CEL cannot
  check TLE checksums) sets `status.phase: Invalid` with a condition, posts an Event naming
  the field and raises `kopf.PermanentError`: nothing is created. A good one registers a
  `FleetRuntime` in `memo.fleets` (or updates the running one in place).
- the daemon (`id="physics"`) runs that fleet's loop for as long as the Constellation lives.
- delete (`id="cleanup"`): the fleet stops, its Nodes go (Nodes are cluster-scoped and cannot
  be owned by a namespaced Satellite; their Leases follow them by ownerReference), and the
  Satellites are garbage-collected through their ownerReferences.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import kopf

from kubesat.k8s.nodes import selector
from kubesat.k8s.runtime import FleetRuntime
from kubesat.k8s.satellites import satellite_names
from kubesat.spec import (
    API_VERSION,
    CONSTELLATION_LABEL,
    GROUP,
    VERSION,
    SpecError,
    parse_constellation,
)

logger = logging.getLogger("kubesat.constellation")

SETTLE_SECONDS: Final = 30.0  # longest wait for a deleted fleet's writes in flight
SETTLE_POLL_SECONDS: Final = 0.1


def manifest(body: kopf.Body) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Constellation",
        "metadata": {
            "name": body["metadata"]["name"],
            "namespace": body["metadata"]["namespace"],
            "uid": body["metadata"]["uid"],
        },
        "spec": dict(body.get("spec") or {}),
    }


@kopf.on.create(GROUP, VERSION, "constellations", id="constellation")
@kopf.on.update(GROUP, VERSION, "constellations", id="constellation", field="spec")
@kopf.on.resume(GROUP, VERSION, "constellations", id="constellation")
async def constellation(
    body: kopf.Body,
    name: str,
    namespace: str | None,
    meta: kopf.Meta,
    status: kopf.Status,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """Parse the spec and start (or update) the constellation's fleet."""
    assert namespace is not None  # a namespaced resource
    key = (namespace, name)
    document = manifest(body)
    try:
        spec = parse_constellation(document, memo.options.max_satellites)
    except SpecError as error:
        message = f"Constellation {namespace}/{name}: {error}"
        running = memo.fleets.pop(key, None)
        if running is not None:
            await running.stop()
        patch.status["phase"] = "Invalid"
        patch.status["observedGeneration"] = meta.get("generation")
        patch.status["conditions"] = [
            {
                "type": "Ready",
                "status": "False",
                "reason": "InvalidSpec",
                "message": str(error),
            }
        ]
        kopf.event(body, type="Warning", reason="InvalidSpec", message=str(error))
        raise kopf.PermanentError(message) from None
    running = memo.fleets.get(key)
    if running is not None and running.uid == body["metadata"]["uid"]:
        if running.update_spec(spec):
            running.generation = meta.get("generation")
            kopf.event(
                body,
                type="Normal",
                reason="Updated",
                message=f"policy {spec.policy}, speedup {spec.clock.speedup:g}",
            )
            return
        # the satellites changed: start over with the new set (state matched by name);
        # the Nodes and Satellites of satellites that are gone go too
        await running.stop()
        memo.fleets.pop(key, None)
        keep = set(satellite_names(name, spec.satellites))
        await _delete_nodes(memo, namespace, name, keep=keep)
        await _delete_satellites(memo, namespace, name, keep=keep)
    fleet = FleetRuntime(memo, document, spec, memo.options)
    fleet.generation = meta.get("generation")
    memo.fleets[key] = fleet
    if status.get("phase") in (None, "Invalid"):
        patch.status["phase"] = "Pending"
        patch.status["satellites"] = fleet.n
        patch.status["conditions"] = [
            {
                "type": "Ready",
                "status": "False",
                "reason": "Starting",
                "message": f"registering {fleet.n} satellites and their nodes",
            }
        ]
    kopf.event(
        body,
        type="Normal",
        reason="Accepted",
        message=f"{fleet.n} satellites, policy {spec.policy}, speedup "
        f"{spec.clock.speedup:g}, step {spec.clock.step_seconds:g} s",
    )


# Kopf passes its indexes as keyword arguments named by their ids, which its DaemonFn
# protocol cannot declare: hence the one ignore.
@kopf.daemon(  # type: ignore[arg-type]
    GROUP,
    VERSION,
    "constellations",
    id="physics",
    cancellation_backoff=2.0,  # the loop notices `stopped` within a tick (<= 1 s)
    cancellation_timeout=30.0,
)
async def physics(
    name: str,
    namespace: str | None,
    status: kopf.Status,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    satellite_pods: kopf.Index[str, Any],
    gpu_jobs: kopf.Index[tuple[str, str], Any],
    fleet_satellites: kopf.Index[tuple[str, str], Any],
    disruption_budgets: kopf.Index[str, Any],
    ground_stations: kopf.Index[str, Any],
    **_: Any,
) -> None:
    """Tick the constellation's physics, nodes and pods while it exists."""
    assert namespace is not None  # a namespaced resource
    key = (namespace, name)
    indexes = {
        "satellite_pods": satellite_pods,
        "gpu_jobs": gpu_jobs,
        "fleet_satellites": fleet_satellites,
        "disruption_budgets": disruption_budgets,
        "ground_stations": ground_stations,
    }
    while not stopped:
        fleet = memo.fleets.get(key)
        if fleet is None or fleet.stopping:
            await asyncio.sleep(0.5)  # invalid spec, or being replaced
            continue
        if not fleet.prepared:
            await fleet.prepare(dict(status), gpu_jobs)
        await fleet.run(stopped, indexes)


@kopf.on.delete(GROUP, VERSION, "constellations", id="cleanup")
async def cleanup(name: str, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """Stop the fleet and delete its Nodes (Satellites go by ownerReference)."""
    assert namespace is not None  # a namespaced resource
    fleet = memo.fleets.pop((namespace, name), None)
    if fleet is not None:
        await fleet.stop()
        await _settle(memo.api, fleet)
    memo.snapshots.pop(f"{namespace}/{name}", None)
    await _delete_nodes(memo, namespace, name, keep=set())


async def _settle(api: Any, fleet: FleetRuntime) -> None:
    """Wait for the fleet's loop to end and its queued Node and Lease writes to be sent, so
    no Node is created after the list that deletes them (a Constellation deleted while its
    Nodes were being registered)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_SECONDS
    if fleet.prepared:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fleet.task_done.wait(), timeout=SETTLE_SECONDS)
    keys = [(kind, node) for node in fleet.names for kind in ("node", "lease")]
    while any(api.pending(key) for key in keys) and loop.time() < deadline:
        await asyncio.sleep(SETTLE_POLL_SECONDS)


async def _delete_nodes(memo: Any, namespace: str, name: str, keep: set[str]) -> None:
    api = memo.api
    nodes = await api.call(
        "list", "nodes", api.core.list_node, label_selector=selector(namespace, name)
    )
    from kubernetes.client import ApiException

    for node in nodes.items:
        if node.metadata.name in keep:
            continue
        try:
            await api.call("delete", "nodes", api.core.delete_node, node.metadata.name)
        except ApiException as error:
            if error.status != 404:
                raise kopf.TemporaryError(
                    f"deleting Node {node.metadata.name}: {error.reason}", delay=5
                ) from error
    if nodes.items:
        logger.info("deleted %d nodes of %s/%s", len(nodes.items), namespace, name)


async def _delete_satellites(memo: Any, namespace: str, name: str, keep: set[str]) -> None:
    """Delete the Satellites of a constellation that are not in `keep`."""
    from kubernetes.client import ApiException

    api = memo.api
    items = await api.call(
        "list",
        "satellites",
        api.custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        "satellites",
        label_selector=f"{CONSTELLATION_LABEL}={name}",
    )
    for item in items.get("items", []):
        satellite = item["metadata"]["name"]
        if satellite in keep:
            continue
        try:
            await api.call(
                "delete",
                "satellites",
                api.custom.delete_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                "satellites",
                satellite,
            )
        except ApiException as error:
            if error.status != 404:
                raise
