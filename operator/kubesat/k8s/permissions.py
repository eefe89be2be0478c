"""Every API permission the operator uses, and nothing more: the chart's ClusterRole is
rendered from the same list (a test keeps them equal)."""

from __future__ import annotations

from typing import Final

# (apiGroup, resources, verbs)
CLUSTER_RULES: Final[tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = (
    ("kubesat.io", ("constellations", "satellites", "groundstations"),
     ("get", "list", "watch", "create", "update", "patch", "delete")),
    ("kubesat.io", ("constellations/status", "satellites/status", "groundstations/status"),
     ("get", "update", "patch")),
    ("", ("nodes",), ("get", "list", "watch", "create", "update", "patch", "delete")),
    ("", ("nodes/status",), ("get", "update", "patch")),
    ("coordination.k8s.io", ("leases",), ("get", "list", "watch", "create", "update", "patch", "delete")),
    ("", ("pods",), ("get", "list", "watch", "patch", "delete")),
    ("", ("pods/status",), ("get", "update", "patch")),
    ("", ("pods/binding",), ("create",)),
    ("", ("pods/eviction",), ("create",)),
    ("batch", ("jobs",), ("get", "list", "watch", "patch")),
    ("policy", ("poddisruptionbudgets",), ("get", "list", "watch")),
    ("", ("events",), ("create", "patch")),
    ("events.k8s.io", ("events",), ("create", "patch")),
    ("", ("namespaces",), ("get", "list", "watch")),
    ("apiextensions.k8s.io", ("customresourcedefinitions",), ("get", "list", "watch")),
)
