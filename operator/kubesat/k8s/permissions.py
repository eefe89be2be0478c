"""Every API permission the operator uses, and nothing more: the chart's ClusterRole is
rendered from the same list (a test keeps them equal).

What each rule is for (the e2e scenarios run the operator with exactly these rules and
fail on any refused request):

- constellations: Kopf watches them, adds its finalizer and progress annotations (patch);
  the operator writes their status (phase, clock, where the durable state is).
- configmaps: the durable state, compressed and in shards the Constellation owns, read on
  start and replaced every few seconds.
- satellites: watched (an index), created from a Constellation, the fault-injection
  annotation removed (patch), deleted when a spec change drops a satellite; status written.
- nodes: one per satellite, created, read (taints are merged with the node-lifecycle
  controller's), patched (taints), listed and deleted by label on Constellation deletion
  and when their Constellation is gone (`orphans`); nodes/status: conditions and
  allocatable GPUs.
- leases (kube-node-lease): the node heartbeats, created and renewed; listed and deleted
  when their Node is gone (`orphans`).
- pods: watched (an index); created (bound) for the Jobs kubesat's Job controller runs;
  deleted with grace 0 once stopped (as a kubelet confirms a termination); pods/status:
  Running, Succeeded, Failed (the pod runtime), PodScheduled (kubesat-scheduler);
  pods/binding: kubesat-scheduler; pods/eviction: the drains.
- jobs: watched (an index); patched with the progress annotation; jobs/status: written
  for the Jobs whose `spec.managedBy` is kubesat's Job controller.
- poddisruptionbudgets: watched (an index): the engine honours them when it drains.
- groundstations: watched (an index): the stations of the Constellations of their
  namespace, applied live.
- events: what happened and why, on Constellations, Satellites and pods.
- customresourcedefinitions, namespaces: Kopf discovers and watches its resources'
  definitions and the namespaces it serves.
"""

from __future__ import annotations

from typing import Final

# (apiGroup, resources, verbs)
CLUSTER_RULES: Final[tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = (
    ("kubesat.io", ("constellations",), ("list", "watch", "patch")),
    ("kubesat.io", ("satellites",), ("list", "watch", "create", "patch", "delete")),
    ("kubesat.io", ("groundstations",), ("list", "watch")),
    ("kubesat.io", ("constellations/status", "satellites/status"), ("patch",)),
    ("", ("nodes",), ("get", "list", "create", "patch", "delete")),
    ("", ("nodes/status",), ("patch",)),
    ("coordination.k8s.io", ("leases",), ("list", "create", "patch", "delete")),
    ("", ("pods",), ("list", "watch", "create", "delete")),
    ("", ("pods/status",), ("patch",)),
    ("", ("pods/binding",), ("create",)),
    ("", ("pods/eviction",), ("create",)),
    ("batch", ("jobs",), ("list", "watch", "patch")),
    ("batch", ("jobs/status",), ("patch",)),
    ("policy", ("poddisruptionbudgets",), ("list", "watch")),
    ("", ("configmaps",), ("get", "create", "update")),
    ("", ("events",), ("create",)),
    ("apiextensions.k8s.io", ("customresourcedefinitions",), ("get", "list", "watch")),
    ("", ("namespaces",), ("list", "watch")),
)
