"""How many satellites one cluster takes, and refusing a larger shell from its counts alone
(before any satellite is built, so a 300,000-satellite shell costs nothing to refuse)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from kubesat.spec_fields import SpecError

# Nodes one Kubernetes cluster is tested with (kubernetes.io/docs/setup/best-practices/
# cluster-large): the most satellites the operator runs in one cluster unless told more,
# and the most one simulation takes before the fleet is split into domains.
TESTED_CLUSTER_NODES: Final = 5000


def _too_many(count: int, limit: int, path: str) -> SpecError:
    """The error for `count` satellites at `path`, more than `limit`."""
    return SpecError(
        f"{path}: {count:,} satellites, more than the {limit:,} this operator runs in one "
        f"cluster (its --max-satellites, the chart's maxSatellites; Kubernetes is tested to "
        f"{TESTED_CLUSTER_NODES:,} nodes): split the fleet into Constellations of whole planes"
    )


def _check_count(orbits: Mapping[str, Any], limit: int) -> None:
    """Refuse a generated shell larger than `limit` from its counts alone."""
    walker, sso = orbits.get("walkerDelta"), orbits.get("sunSynchronous")
    cluster = orbits.get("formation")
    if isinstance(cluster, Mapping):
        count = cluster.get("count")
        if isinstance(count, int) and count > limit:
            raise _too_many(count, limit, "spec.orbits.formation.count")
    if isinstance(walker, Mapping):
        planes, per_plane = walker.get("planes"), walker.get("perPlane")
        if isinstance(planes, int) and isinstance(per_plane, int) and planes * per_plane > limit:
            raise _too_many(planes * per_plane, limit, "spec.orbits.walkerDelta")
    if isinstance(sso, Mapping):
        count = sso.get("count")
        if isinstance(count, int) and count > limit:
            raise _too_many(count, limit, "spec.orbits.sunSynchronous.count")
