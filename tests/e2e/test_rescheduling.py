"""Predictive drains: checkpoint and evict before the power runs out; PDBs are honoured.

The satellites fly a Walker shell at 550 km with a battery too small to carry 4 GPUs
(2 kW) through a ~35-minute eclipse: 40 Wh usable runs them ~70 s, while the bus alone
(50 W) rides the eclipse out. At 120x an orbit takes 48 s of wall time.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.e2e.conftest import Cluster, constellation, gpu_job, wait_for

pytestmark = pytest.mark.controlplane


def test_predictive_drain_checkpoints_before_the_eclipse_and_resumes_elsewhere(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    cluster.create(constellation("pair", planes=2, per_plane=2, phasing=1, battery_wh=50.0))
    wait_for("4 nodes", lambda: len(cluster.nodes("pair")) == 4, timeout=60)
    # 90 simulated minutes of 4-GPU work: longer than any sunlit arc, so the pod must
    # move at least once; checkpoints every 5 minutes, 30 s to write one.
    interval, gpus = 300.0, 4
    cluster.create(gpu_job("train", gpus=gpus, work=4 * 5400.0, interval=interval, write=30))
    seen: dict[str, tuple[str | None, str | None]] = {}  # pod -> (DisruptionTarget, reason)

    def complete() -> bool:
        for pod in cluster.pods("train"):
            reasons = {c.type: c.reason for c in pod.status.conditions or []}
            if "DisruptionTarget" in reasons or pod.status.phase == "Failed":
                seen[pod.metadata.name] = (reasons.get("DisruptionTarget"), pod.status.reason)
        return cluster.job_complete("train")

    wait_for("Job train Complete", complete, timeout=240, interval=0.2)
    progress = cluster.final_progress("train", done=1)
    history = [h for h in progress["history"] if h["unit"] == "u0"]
    moves = [h for h in history if h["ended"] == "Checkpointed"]
    assert moves, f"the pod never moved: {history}"
    assert history[-1]["ended"] == "Completed"
    for before, after in itertools.pairwise(history):
        # each replacement resumed from where its predecessor's checkpoint stood ...
        assert after["from"] == pytest.approx(before["to"]), history
        # ... on another satellite
        assert after["node"] != before["node"], history
    # lost work: at most one checkpoint interval (here none: every move checkpointed)
    assert progress["lostGpuSeconds"] <= interval * gpus
    assert all(h["lost"] == 0 for h in moves), history
    assert progress["doneGpuSeconds"] == pytest.approx(4 * 5400.0)
    # the evictions happened before the satellite entered its eclipse, and say why
    evicting = cluster.events(reason="Evicting")
    assert len(evicting) >= len(moves)
    for event in evicting:
        assert "eclipse in" in event.message, event.message
        assert "power runway" in event.message
    draining = cluster.events(reason="Draining")
    assert {e.involved_object.kind for e in draining} == {"Satellite"}
    # the evicted pods carried the Eviction API's DisruptionTarget, then ended Failed
    # (reason Checkpointed) once their checkpoint was written
    evicted = {h["pod"] for h in moves}
    assert evicted <= set(seen), (evicted, seen)
    for name in evicted:
        assert seen[name][0] == "EvictionByEvictionAPI", seen
    assert any(seen[name][1] == "Checkpointed" for name in evicted), seen
    # no power was lost on the way: the node stayed powered
    assert not cluster.events(reason="PowerLost")


def test_pod_disruption_budget_is_never_violated_by_a_predictive_drain(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    """Two 2-GPU pods share the only satellite; a PDB keeps one of them available.

    Ahead of the eclipse the policy wants both off (first one, then the other): the first
    eviction is allowed, the second is refused (429) for as long as the budget has no
    disruption to spare, so that pod keeps running until the battery gives out (an
    involuntary disruption, not an eviction).
    """
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    cluster.create(constellation("solo", planes=1, per_plane=1, battery_wh=50.0))
    wait_for("the node", lambda: len(cluster.nodes("solo")) == 1, timeout=60)
    cluster.create(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "sweep"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "sweep"}}},
        }
    )
    cluster.create(
        gpu_job(
            "sweep",
            gpus=2,
            work=2 * 20000.0,
            interval=300,
            write=30,
            parallelism=2,
            completions=2,
            labels={"app": "sweep"},
        )
    )

    evictions: dict[str, int] = {}  # evicted pod -> healthy pods left at that moment

    def watch() -> list[Any]:
        pods = cluster.pods("sweep")
        healthy = [
            p.metadata.name
            for p in pods
            if p.status.phase == "Running"
            and p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]
        for pod in pods:
            reasons = {c.type: c.reason for c in pod.status.conditions or []}
            if reasons.get("DisruptionTarget") == "EvictionByEvictionAPI":
                evictions.setdefault(pod.metadata.name, len(healthy))
        return pods

    def refused_pod() -> Any:
        watch()
        names = {
            e.involved_object.name
            for e in cluster.events(reason="EvictionRefused")
            if e.involved_object.kind == "Pod"
        }
        return next(iter(names), None) if evictions else None

    refused = wait_for("an eviction the PDB refuses", refused_pod, timeout=180, interval=0.2)
    messages = [e.message for e in cluster.events(reason="EvictionRefused")]
    assert any("disruption budget" in m for m in messages), messages

    def power_lost() -> Any:
        watch()
        pod = cluster.core.read_namespaced_pod(refused, namespace)
        return pod if pod.status.phase == "Failed" else None

    # the refused pod is never evicted: it runs on until the battery reaches its floor
    pod = wait_for("the refused pod to lose power", power_lost, timeout=120, interval=0.2)
    reasons = {c.type: c.reason for c in pod.status.conditions or []}
    assert reasons.get("DisruptionTarget") == "PowerLost", reasons
    assert pod.status.reason == "PowerLost"
    assert refused not in evictions
    # and every eviction that did happen left minAvailable (1) pod healthy
    assert evictions, "no pod was evicted"
    assert all(left >= 1 for left in evictions.values()), evictions
