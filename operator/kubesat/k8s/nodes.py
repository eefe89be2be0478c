"""The node agent: one Node per Satellite, kept true to the physics. No kubelet runs there.

Each satellite's Node carries labels (satellite, constellation, orbital plane as its
topology zone), the taint `kubesat.io/satellite=<name>:NoSchedule` so only tolerating pods
land there, GPU capacity (`nvidia.com/gpu`; allocatable drops while a GPU recovers from a
SEFI), and conditions:

- `Ready`: the payload computer runs (False while the battery is at its floor or the
  satellite power-cycles after a latch-up; the node-lifecycle controller then taints it);
- `Sunlit`, `PowerAvailable`, `GroundLink`, `RadiationUpset`.

Taints follow the policy: `kubesat.io/eclipse:NoSchedule` out of full sun (reactive),
`kubesat.io/low-power:NoSchedule` while the battery recovers, and
`kubesat.io/radiation-upset:NoSchedule` after an upset (reactive and predictive), so no
new pod lands there until the satellite recovers. Which running pods leave is the
engine's decision (reactive drains an upset satellite; predictive keeps the pods the
upset spared), not the taint-eviction controller's, so the operator does what the
simulator predicts.

A Lease in `kube-node-lease` is renewed every `lease_renew_seconds`, as a kubelet does, so
the node-lifecycle controller never marks the nodes unreachable. Status is written only
when a condition, the taints or the allocatable GPUs change, through the write queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np

from kubesat.core.timebase import iso_z
from kubesat.spec import CONSTELLATION_LABEL, GPU_RESOURCE, SATELLITE_TAINT_KEY

LEASE_NAMESPACE: Final = "kube-node-lease"
ECLIPSE_TAINT: Final = "kubesat.io/eclipse"
LOW_POWER_TAINT: Final = "kubesat.io/low-power"
UPSET_TAINT: Final = "kubesat.io/radiation-upset"
THERMAL_TAINT: Final = "kubesat.io/thermal-throttling"
OUR_TAINTS: Final = (
    SATELLITE_TAINT_KEY,
    ECLIPSE_TAINT,
    LOW_POWER_TAINT,
    UPSET_TAINT,
    THERMAL_TAINT,
)
CONDITION_TYPES: Final = ("Ready", "Sunlit", "PowerAvailable", "GroundLink", "RadiationUpset")
LABEL_SATELLITE: Final = SATELLITE_TAINT_KEY  # one key: the label and the taint name the satellite
LABEL_NAMESPACE: Final = "kubesat.io/namespace"
LABEL_PLANE: Final = "kubesat.io/plane"
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
REGION_LABEL: Final = "topology.kubernetes.io/region"
AGENT_VERSION: Final = "kubesat-node-agent/v1alpha1"
UPSET_NAMES: Final = {1: "sefi", 2: "latchup"}


def micro_time(when: datetime) -> str:
    """A Kubernetes MicroTime (leases want microseconds)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_labels(namespace: str, constellation: str, satellite: str, plane: int) -> dict[str, str]:
    return {
        "kubernetes.io/hostname": satellite,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "kubesat-gpu-satellite",
        LABEL_SATELLITE: satellite,
        CONSTELLATION_LABEL: constellation,
        LABEL_NAMESPACE: namespace,
        LABEL_PLANE: str(plane),
        ZONE_LABEL: f"{constellation}-plane-{plane}"[:63],
        REGION_LABEL: constellation[:63],
        "type": "kubesat",
    }


def selector(namespace: str, constellation: str) -> str:
    return f"{CONSTELLATION_LABEL}={constellation},{LABEL_NAMESPACE}={namespace}"


def resources(gpus: int) -> dict[str, str]:
    return {
        "cpu": "64",
        "memory": "512Gi",
        "pods": "110",
        "ephemeral-storage": "1Ti",
        GPU_RESOURCE: str(gpus),
    }


@dataclass(frozen=True)
class NodeState:
    """What the Node of one satellite should say now."""

    conditions: tuple[tuple[str, str, str, str], ...]  # (type, status, reason, message)
    taints: tuple[tuple[str, str, str], ...]  # (key, value, effect), ours only
    allocatable_gpus: int


def desired_state(
    *,
    satellite: str,
    policy: str,
    illumination: float,
    link: bool,
    powered: bool,
    down: bool,
    upset: bool,
    upset_kind: int,
    until: str | None,
    healthy_gpus: int,
    throttled_gpus: int | None = None,
    temperature_c: float | None = None,
) -> NodeState:
    """The Node's conditions, our taints and its allocatable GPUs. `throttled_gpus` (with a
    thermal model only): GPUs the radiator cannot carry now; it adds the condition
    `ThermalThrottling` and, under reactive and predictive, a NoSchedule taint."""
    if down:
        ready = (
            "False",
            "PowerCycling",
            "the satellite is power-cycling (latch-up recovery or payload restart)",
        )
    elif not powered:
        ready = (
            "False",
            "PayloadPoweredOff",
            "battery at its floor: the payload is off until the array recharges it",
        )
    else:
        ready = ("True", "KubeletReady", "kubesat node agent is posting ready status")
    # One reason for penumbra and umbra (a few seconds apart in LEO): one write per entry;
    # the Satellite's phase tells them apart.
    if illumination >= 1.0:
        sunlit = ("True", "FullSun", "the satellite sees the whole solar disc")
    else:
        sunlit = ("False", "Eclipse", "the satellite is in Earth's shadow: on battery")
    power = (
        ("True", "BatteryAboveFloor", "the battery carries the load")
        if powered
        else ("False", "BatteryAtFloor", "the battery reached its depth-of-discharge floor")
    )
    ground = (
        ("True", "InContact", "a ground station sees the satellite")
        if link
        else ("False", "NoContact", "no ground station in view")
    )
    if upset:
        kind = UPSET_NAMES.get(upset_kind, "upset")
        radiation = (
            "True",
            "SEFI" if kind == "sefi" else "Latchup",
            f"recovering from a radiation upset ({kind}) until {until}",
        )
    else:
        radiation = ("False", "NoUpset", "no radiation upset to recover from")
    conditions = tuple(
        (kind, *values)
        for kind, values in zip(
            CONDITION_TYPES, (ready, sunlit, power, ground, radiation), strict=True
        )
    )
    if throttled_gpus is not None:
        where = "" if temperature_c is None else f" at {temperature_c:.1f} C"
        thermal = (
            (
                "True",
                "RadiatorLimit",
                f"the radiator cannot carry {throttled_gpus} of the GPUs{where}: held off",
            )
            if throttled_gpus > 0
            else ("False", "BelowMaximum", "the radiator carries every GPU")
        )
        conditions = (*conditions, ("ThermalThrottling", *thermal))
    taints = [(SATELLITE_TAINT_KEY, satellite, "NoSchedule")]
    if policy == "reactive" and illumination < 1.0:
        taints.append((ECLIPSE_TAINT, "", "NoSchedule"))
    if policy != "none" and not powered:
        taints.append((LOW_POWER_TAINT, "", "NoSchedule"))
    if policy != "none" and upset:
        taints.append((UPSET_TAINT, UPSET_NAMES.get(upset_kind, "upset"), "NoSchedule"))
    if policy != "none" and throttled_gpus:
        taints.append((THERMAL_TAINT, "", "NoSchedule"))
    return NodeState(conditions, tuple(taints), int(healthy_gpus))


def conditions_body(
    state: NodeState, previous: NodeState | None, wall: datetime, since: dict[str, str]
) -> list[dict[str, str]]:
    """Node conditions; lastTransitionTime moves only for conditions whose status changed."""
    now = iso_z(wall).replace(".000Z", "Z")
    old = {c[0]: c[1] for c in previous.conditions} if previous else {}
    out = []
    for kind, status, reason, message in state.conditions:
        if old.get(kind) != status or kind not in since:
            since[kind] = now
        out.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": since[kind],
            }
        )
    return out


def taints_body(
    state: NodeState, current: list[dict[str, Any]], wall: datetime
) -> list[dict[str, Any]]:
    """Our taints replace our old ones; taints of others (node-lifecycle) are kept."""
    keep = [t for t in current if t.get("key") not in OUR_TAINTS]
    previous = {(t.get("key"), t.get("effect")): t for t in current}
    ours = []
    for key, value, effect in state.taints:
        taint: dict[str, Any] = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        if effect == "NoExecute":
            old = previous.get((key, effect))
            taint["timeAdded"] = (old or {}).get("timeAdded") or iso_z(wall).replace(".000Z", "Z")
        ours.append(taint)
    return keep + ours


def node_manifest(
    name: str,
    labels: dict[str, str],
    owner_uid: str,
    gpus: int,
    state: NodeState,
    wall: datetime,
) -> dict[str, Any]:
    since: dict[str, str] = {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "kubesat.io/satellite-uid": owner_uid,
            },
        },
        "spec": {"taints": taints_body(state, [], wall)},
        "status": {
            "capacity": resources(gpus),
            "allocatable": {**resources(gpus), GPU_RESOURCE: str(state.allocatable_gpus)},
            "conditions": conditions_body(state, None, wall, since),
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "kubesat simulated satellite",
                "kernelVersion": "",
                "kubeletVersion": AGENT_VERSION,
                "kubeProxyVersion": "",
                "containerRuntimeVersion": "kubesat://simulated",
                "bootID": "",
                "machineID": name,
                "systemUUID": name,
            },
            "addresses": [{"type": "Hostname", "address": name}],
        },
    }


def lease_manifest(name: str, node_uid: str, duration: int, wall: datetime) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}
            ],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": duration,
            "renewTime": micro_time(wall),
        },
    }


class NodeReplacedError(Exception):
    """The Node was deleted (and maybe created again by someone else) under our feet."""


class NodeAgent:
    """Registers the Nodes and Leases of one constellation and keeps them current."""

    def __init__(
        self,
        api: Any,
        names: tuple[str, ...],
        labels: list[dict[str, str]],
        gpus: int,
        lease_renew_seconds: float,
        lease_duration_seconds: int,
        on_conflict: Callable[[int, str], None],
    ) -> None:
        self.api = api
        self.names = names
        self.labels = labels
        self.gpus = gpus
        self.renew = lease_renew_seconds
        self.duration = lease_duration_seconds
        self.on_conflict = on_conflict
        n = len(names)
        self.registered = np.zeros(n, np.bool_)
        self.registering = np.zeros(n, np.bool_)
        self.conflict = np.zeros(n, np.bool_)
        self.node_uid: list[str | None] = [None] * n
        self.lease_ok = np.zeros(n, np.bool_)
        self.lease_due = np.zeros(n)  # monotonic-ish wall seconds of the next renewal
        self.written: list[NodeState | None] = [None] * n
        self.since: list[dict[str, str]] = [{} for _ in range(n)]
        self.taints_written: list[tuple[Any, ...] | None] = [None] * n

    # -- registration ------------------------------------------------------------------

    def register(self, i: int, owner_uid: str, state: NodeState, wall: datetime) -> None:
        """Create the Node (or adopt ours after a restart), then its Lease."""
        if self.registered[i] or self.registering[i] or self.conflict[i]:
            return
        name = self.names[i]
        body = node_manifest(name, self.labels[i], owner_uid, self.gpus, state, wall)
        self.registering[i] = True

        def create() -> Any:
            from kubernetes.client import ApiException

            try:
                return ("created", self.api.core.create_node(body))
            except ApiException as error:
                if error.status != 409:
                    raise
            existing = self.api.core.read_node(name)
            return ("existing", existing)

        def done(result: Any, error: BaseException | None) -> None:
            self.registering[i] = False
            if error is not None:
                return
            how, node = result
            labels = node.metadata.labels or {}
            mine = all(
                labels.get(k) == self.labels[i][k] for k in (CONSTELLATION_LABEL, LABEL_NAMESPACE)
            )
            if not mine:
                self.conflict[i] = True
                self.on_conflict(
                    i,
                    f"Node {name} exists and belongs to constellation "
                    f"{labels.get(LABEL_NAMESPACE)}/{labels.get(CONSTELLATION_LABEL)}",
                )
                return
            self.registered[i] = True
            self.node_uid[i] = node.metadata.uid
            if how == "created":
                self.written[i] = state
                self.since[i] = {
                    c["type"]: c["lastTransitionTime"] for c in body["status"]["conditions"]
                }
                self.taints_written[i] = state.taints
            else:  # adopted after a restart: rewrite what may have changed meanwhile
                self.written[i] = None
                self.since[i] = {
                    c.type: iso_z(c.last_transition_time).replace(".000Z", "Z")
                    for c in (node.status.conditions or [])
                    if c.last_transition_time is not None
                }
                self.taints_written[i] = None
            self.lease_due[i] = 0.0

        self.api.submit(("node", name), "create", "nodes", create, priority=0, on_done=done)

    # -- keeping them current ----------------------------------------------------------

    def write(self, i: int, state: NodeState, wall: datetime) -> None:
        """Queue what changed for node i: its status (conditions, GPUs), its taints."""
        if not self.registered[i]:
            return
        previous = self.written[i]
        if (
            previous is None
            or previous.conditions != state.conditions
            or (previous.allocatable_gpus != state.allocatable_gpus)
        ):
            self._write_status(i, state, previous, wall)
        if self.taints_written[i] != state.taints:
            self._write_taints(i, state, wall)

    def renew_leases(self, wall: datetime, wall_s: float) -> None:
        """Renew the leases that are due (each every `lease_renew_seconds`)."""
        for i in np.flatnonzero(self.registered & (self.lease_due <= wall_s)):
            if not self.api.pending(("lease", self.names[i])):
                self._renew_lease(int(i), wall, wall_s)

    def _write_status(
        self, i: int, state: NodeState, previous: NodeState | None, wall: datetime
    ) -> None:
        name = self.names[i]
        body = {
            "status": {
                "conditions": conditions_body(state, previous, wall, self.since[i]),
                "allocatable": {**resources(self.gpus), GPU_RESOURCE: str(state.allocatable_gpus)},
                "capacity": resources(self.gpus),
            }
        }
        self.written[i] = state

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None:
                self.written[i] = None
                if getattr(error, "status", 0) == 404:
                    self.forget(i)

        self.api.submit(
            ("node-status", name),
            "patch",
            "nodes/status",
            lambda: self.api.core.patch_node_status(name, body),
            priority=0,
            on_done=done,
        )

    def _write_taints(self, i: int, state: NodeState, wall: datetime) -> None:
        name = self.names[i]
        self.taints_written[i] = state.taints

        def call() -> Any:
            node = self.api.core.read_node(name)
            current = [t.to_dict() for t in (node.spec.taints or [])]
            current = [
                {
                    k: v
                    for k, v in {
                        "key": t.get("key"),
                        "value": t.get("value"),
                        "effect": t.get("effect"),
                        "timeAdded": iso_z(t["time_added"]).replace(".000Z", "Z")
                        if t.get("time_added")
                        else None,
                    }.items()
                    if v is not None
                }
                for t in current
            ]
            body = {
                "metadata": {"resourceVersion": node.metadata.resource_version},
                "spec": {"taints": taints_body(state, current, wall)},
            }
            self.api.requests[("patch", "nodes")] += 1
            return self.api.core.patch_node(name, body)

        def done(_: Any, error: BaseException | None) -> None:
            if error is not None:
                self.taints_written[i] = None  # retried at the next tick
                if getattr(error, "status", 0) == 404:
                    self.forget(i)

        self.api.submit(("node-taints", name), "get", "nodes", call, priority=0, on_done=done)

    def _renew_lease(self, i: int, wall: datetime, wall_s: float) -> None:
        name = self.names[i]
        self.lease_due[i] = wall_s + self.renew
        renew = micro_time(wall)
        exists = bool(self.lease_ok[i])

        def call() -> Any:
            from kubernetes.client import ApiException

            if exists:
                try:
                    return self.api.coordination.patch_namespaced_lease(
                        name,
                        LEASE_NAMESPACE,
                        {"spec": {"renewTime": renew, "holderIdentity": name}},
                    )
                except ApiException as error:
                    if error.status != 404:
                        raise
                # the lease is gone: with its node? (deleted by someone; leases follow
                # their node by ownerReference) then the node is registered again
                self.api.requests[("get", "nodes")] += 1
                node = self.api.core.read_node(name)
                if node.metadata.uid != self.node_uid[i]:
                    raise NodeReplacedError(name)
            body = lease_manifest(name, self.node_uid[i] or "", self.duration, wall)
            try:
                self.api.requests[("create", "leases")] += 1
                return self.api.coordination.create_namespaced_lease(LEASE_NAMESPACE, body)
            except ApiException as error:
                if error.status != 409:
                    raise
            self.api.requests[("patch", "leases")] += 1
            return self.api.coordination.patch_namespaced_lease(
                name,
                LEASE_NAMESPACE,
                {
                    "spec": {
                        "renewTime": renew,
                        "holderIdentity": name,
                        "leaseDurationSeconds": self.duration,
                    }
                },
            )

        def done(_: Any, error: BaseException | None) -> None:
            if error is None:
                self.lease_ok[i] = True
                return
            self.lease_ok[i] = False
            self.lease_due[i] = min(self.lease_due[i], wall_s + 1.0)
            if isinstance(error, NodeReplacedError) or getattr(error, "status", 0) == 404:
                self.forget(i)

        self.api.submit(("lease", name), "patch", "leases", call, priority=0, on_done=done)

    def forget(self, i: int) -> None:
        """The Node is gone (deleted by someone): register it again at the next tick."""
        self.registered[i] = False
        self.written[i] = None
        self.taints_written[i] = None
        self.lease_ok[i] = False

    def stagger(self, wall_s: float) -> None:
        """Spread the lease renewals of a freshly started fleet over one period."""
        n = len(self.names)
        if n:
            self.lease_due = wall_s + self.renew * (np.arange(n) / n)
