"""Rescheduling: the engine's drains, written through the Eviction API.

The engine decides (`kubesat.engine.fleet.FleetEngine`, the same step the simulator runs):
reactive drains a satellite that left full sunlight or was upset; predictive keeps the
GPUs whose sunlit-plus-battery runway still carries past a checkpoint write and a margin
and drains the cheapest pods beyond that. It honours PodDisruptionBudgets itself (the
same policy/v1 arithmetic as the API server), so a refused drain is retried at the next
step. This writer makes each drain an eviction (its grace period stands for the
checkpoint write) and says on the pod and the Satellite what happened and why.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.environment import Column
from kubesat.engine.events import Eviction, EvictionReason, EvictionRefused
from kubesat.k8s.api import URGENT, Api, status_of
from kubesat.k8s.fleet_refs import EventFunc, SatelliteUids

logger = logging.getLogger("kubesat.rescheduling")

REFUSAL_EVENT_SECONDS = 30.0


@dataclass(frozen=True)
class DrainerConfig:
    """What the drainer reads and writes of one constellation (the runtime's values)."""

    satellites: SatelliteUids  # names, and the Satellites the Events refer to
    api: Api
    event: EventFunc
    column: Callable[[], Column | None]  # the environment at the engine's step
    drain_lead_seconds: Callable[[], NDArray[np.float64]]  # per satellite (the engine's)
    soc_wh: Callable[[], NDArray[np.float64]]  # battery charge per satellite
    battery_wh: Callable[[], float]  # battery capacity of the current spec
    wall_seconds: Callable[[float], float]  # simulated -> wall seconds at the speedup


class Drainer:
    """Writes the engine's drains of one constellation through the Eviction API."""

    def __init__(self, config: DrainerConfig) -> None:
        self.config = config
        self.reported: dict[tuple[str, str], float] = {}

    def why(self, eviction: Eviction) -> str:
        """The human reason of a drain, for the Events."""
        config = self.config
        if eviction.reason is EvictionReason.UPSET:
            return "the satellite is recovering from a radiation upset"
        if eviction.reason is EvictionReason.ECLIPSE:
            return "the satellite left full sunlight (reactive policy)"
        if eviction.reason is EvictionReason.LINK:
            return (
                f"the pod needs a ground link and the satellite's contact ends in "
                f"{eviction.runway_seconds:.0f} s"
            )
        if eviction.reason is EvictionReason.GANG:
            return (
                "the satellite is kept for a gang waiting to run all its members at once "
                "(gangs go before single pods)"
            )
        if eviction.reason is EvictionReason.THERMAL:
            return (
                "the satellite would reach its maximum temperature within the time a "
                "checkpoint needs"
            )
        column = config.column()
        assert column is not None
        sat = eviction.sat
        to_shadow = float(column.seconds_to_shadow[sat])
        shadow = float(column.shadow_seconds[sat])
        ahead = (
            "in eclipse"
            if to_shadow <= 0
            else f"eclipse in {to_shadow:.0f} s"
            if math.isfinite(to_shadow)
            else "no eclipse ahead"
        )
        lead = float(config.drain_lead_seconds()[sat])
        battery = 100 * config.soc_wh()[sat] / max(config.battery_wh(), 1e-9)
        return (
            f"power runway {eviction.runway_seconds:.0f} s is within the {lead:.0f} s a "
            f"checkpoint write plus margin needs ({ahead}, {shadow:.0f} s of shadow; "
            f"battery {battery:.0f}%)"
        )

    def refused(self, refusal: EvictionRefused, key: tuple[str, str] | None) -> None:
        """A PodDisruptionBudget kept the pod: an Event now and then (the drain retries)."""
        if key is None:
            return
        now = time.monotonic()
        if now - self.reported.get(key, -math.inf) < REFUSAL_EVENT_SECONDS:
            return
        self.reported[key] = now
        config = self.config
        satellite = config.satellites.names[refusal.sat]
        message = (
            f"eviction of {key[0]}/{key[1]} from {satellite} refused: "
            f"the disruption budget {refusal.budget} allows no more disruptions; will retry"
        )
        pod_ref = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": key[1], "namespace": key[0]},
        }
        config.event(pod_ref, "Warning", "EvictionRefused", message)
        config.event(config.satellites.ref(refusal.sat), "Warning", "EvictionRefused", message)

    def evict(self, eviction: Eviction, key: tuple[str, str] | None, uid: str | None) -> None:
        """The engine drains the pod: evict it through the API (its grace period stands for
        the checkpoint write), and say why on the pod and the Satellite."""
        from kubernetes import client

        if key is None:
            return
        namespace, name = key
        config = self.config
        api = config.api
        write = eviction.write_seconds
        grace = max(1, math.ceil(config.wall_seconds(write)) + 1)
        body = client.V1Eviction(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace),
            delete_options=client.V1DeleteOptions(
                grace_period_seconds=grace,
                preconditions=client.V1Preconditions(uid=uid) if uid else None,
            ),
        )
        satellite = config.satellites.names[eviction.sat]
        why = self.why(eviction)
        message = (
            f"evicting {namespace}/{name} from {satellite}: {why}; "
            f"checkpoint write {write:.0f} s (grace {grace} s)"
        )
        pod_ref = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
        }
        config.event(pod_ref, "Normal", "Evicting", message)
        config.event(config.satellites.ref(eviction.sat), "Normal", "Draining", message)

        def call() -> Any:
            response: Any = api.core.create_namespaced_pod_eviction(
                name, namespace, body, _preload_content=False
            )
            response.release_conn()
            return response.status

        def done(_: Any, error: BaseException | None) -> None:
            if error is None or status_of(error) == 404:
                return
            # the engine has already drained the pod (it honours the same budgets); the
            # API server saw it otherwise: the pod still stops once its checkpoint is written
            logger.warning("eviction of %s/%s: %s", namespace, name, _refusal(error))

        api.submit(
            ("pod-eviction", namespace, name),
            "create",
            "pods/eviction",
            call,
            priority=URGENT,
            on_done=done,
        )


def _refusal(error: BaseException) -> str:
    """The API server's reason for a 429 (names the PodDisruptionBudget)."""
    body = getattr(error, "body", None)
    try:
        status = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return str(error)
    causes = [c.get("message", "") for c in (status.get("details") or {}).get("causes") or []]
    text = status.get("message") or "too many requests"
    return f"{text} {' '.join(c for c in causes if c)}".strip()
