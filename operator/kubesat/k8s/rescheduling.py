"""Rescheduling: the policy's drains, through the Eviction API.

Each tick asks the policy how many busy GPUs each satellite may keep
(`kubesat.core.policy.gpus_to_keep`: reactive drains a satellite that left full sunlight
or was upset; predictive keeps what the sunlit-plus-battery runway still carries past a
checkpoint write and a margin), and evicts the cheapest pods beyond that (least work since
their last checkpoint first). The eviction's grace period stands for writing the
checkpoint; PodDisruptionBudgets are honoured by the API server: a 429 means refused,
and the pod is tried again a moment later (or dies when the power runs out, which is not
a voluntary disruption). Events on the pod and the Satellite say what happened and why.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from kubesat.core.policy import gpus_to_keep, runway_seconds
from kubesat.k8s.api import URGENT, status_of
from kubesat.k8s.fleet import PodRun

if TYPE_CHECKING:
    from kubesat.k8s.runtime import FleetRuntime

logger = logging.getLogger("kubesat.rescheduling")

RETRY_SECONDS = 1.0  # wall seconds before a refused eviction is tried again
REFUSAL_EVENT_SECONDS = 30.0


class Drainer:
    """Evicts the pods the policy wants off each satellite of one constellation."""

    def __init__(self, fleet: FleetRuntime) -> None:
        self.fleet = fleet
        self.in_flight: set[str] = set()
        self.retry_after: dict[str, float] = {}
        self.reported: dict[str, float] = {}

    def plan(self, view: Any) -> list[tuple[PodRun, str, str]]:
        """(pod, metrics reason, human reason) for each pod to evict now."""
        fleet = self.fleet
        state, spec = fleet.state, fleet.spec
        if spec.policy == "none":
            return []
        writes = [
            r.work.checkpoint_write_seconds
            for r in state.pods.values()
            if r.end is None and r.work is not None
        ]
        lead = max(writes, default=0.0) + spec.predictive_margin_seconds + state.step_seconds
        keep = gpus_to_keep(spec.policy, spec.power, view, lead)
        draining = fleet.pods.draining_gpus()
        excess = view.busy_gpus - draining - keep
        now = time.monotonic()
        out = []
        for sat in np.flatnonzero(excess > 0):
            candidates = [
                r
                for r in state.pods.values()
                if r.sat == sat
                and r.end is None
                and not r.deleting
                and r.eviction is None
                and r.uid not in self.in_flight
                and self.retry_after.get(r.uid, 0.0) <= now
            ]
            candidates.sort(key=lambda r: (r.since_checkpoint, r.name))
            reason, why = self._reason(int(sat), view, lead)
            freed = 0
            for run in candidates:
                if freed >= excess[sat]:
                    break
                out.append((run, reason, why))
                freed += run.gpus
        return out

    def _reason(self, sat: int, view: Any, lead: float) -> tuple[str, str]:
        fleet = self.fleet
        spec = fleet.spec
        if view.upset[sat]:
            return "upset", "the satellite is recovering from a radiation upset"
        if spec.policy == "reactive":
            return "eclipse", "the satellite left full sunlight (reactive policy)"
        runway = float(
            runway_seconds(
                spec.power,
                view.soc_wh[sat : sat + 1],
                view.busy_gpus[sat : sat + 1],
                view.seconds_to_shadow[sat : sat + 1],
                view.shadow_seconds[sat : sat + 1],
            )[0]
        )
        to_shadow = float(view.seconds_to_shadow[sat])
        shadow = float(view.shadow_seconds[sat])
        ahead = (
            "in eclipse"
            if to_shadow <= 0
            else f"eclipse in {to_shadow:.0f} s"
            if math.isfinite(to_shadow)
            else "no eclipse ahead"
        )
        return "runway", (
            f"power runway {runway:.0f} s with {int(view.busy_gpus[sat])} GPUs busy is within "
            f"the {lead:.0f} s a checkpoint write plus margin needs ({ahead}, "
            f"{shadow:.0f} s of shadow; battery "
            f"{100 * view.soc_wh[sat] / max(spec.power.battery_wh, 1e-9):.0f}%)"
        )

    def run(self, view: Any) -> None:
        for run, reason, why in self.plan(view):
            self._evict(run, reason, why)

    def _evict(self, run: PodRun, reason: str, why: str) -> None:
        from kubernetes import client

        fleet = self.fleet
        api = fleet.api
        write = run.work.checkpoint_write_seconds if run.work else 0.0
        grace = max(1, math.ceil(fleet.clock.wall_seconds(write)) + 1)
        body = client.V1Eviction(
            metadata=client.V1ObjectMeta(name=run.name, namespace=run.namespace),
            delete_options=client.V1DeleteOptions(
                grace_period_seconds=grace, preconditions=client.V1Preconditions(uid=run.uid)
            ),
        )
        self.in_flight.add(run.uid)
        satellite = fleet.names[run.sat]
        pod_ref = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": run.name, "namespace": run.namespace, "uid": run.uid},
        }

        def call() -> Any:
            response = api.core.create_namespaced_pod_eviction(
                run.name, run.namespace, body, _preload_content=False
            )
            response.release_conn()
            return response.status

        def done(_: Any, error: BaseException | None) -> None:
            self.in_flight.discard(run.uid)
            if error is None:
                run.eviction = reason
                state = fleet.state
                state.evictions[reason] = state.evictions.get(reason, 0) + 1
                state.start_drain(run)
                message = (
                    f"evicting {run.namespace}/{run.name} from {satellite}: {why}; "
                    f"checkpoint write {write:.0f} s (grace {grace} s)"
                )
                fleet.event(pod_ref, "Normal", "Evicting", message)
                fleet.event(fleet.satellite_ref(run.sat), "Normal", "Draining", message)
                return
            status = status_of(error)
            if status == 404:
                return
            self.retry_after[run.uid] = time.monotonic() + RETRY_SECONDS
            if status == 429:
                detail = _refusal(error)
                now = time.monotonic()
                if now - self.reported.get(run.uid, -math.inf) >= REFUSAL_EVENT_SECONDS:
                    self.reported[run.uid] = now
                    message = (
                        f"eviction of {run.namespace}/{run.name} from {satellite} "
                        f"refused: {detail}; will retry ({why})"
                    )
                    fleet.event(pod_ref, "Warning", "EvictionRefused", message)
                    fleet.event(fleet.satellite_ref(run.sat), "Warning", "EvictionRefused", message)
            else:
                logger.warning("eviction of %s/%s failed: %s", run.namespace, run.name, error)

        api.submit(
            ("pod-eviction", run.uid),
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
