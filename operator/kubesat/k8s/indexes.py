"""Kopf's in-memory indexes over pods, Jobs and Satellites (no LIST calls in the loops).

- `satellite_pods`: pods that can run on satellites (they tolerate the satellite taint or
  name kubesat-scheduler), keyed by node name; "" holds the unbound ones.
- `gpu_jobs`: Jobs carrying kubesat work annotations, keyed by (namespace, name).
- `fleet_satellites`: Satellites keyed by (namespace, constellation).
- `disruption_budgets`: PodDisruptionBudgets keyed by namespace (the engine honours them).
- `ground_stations`: GroundStation objects keyed by namespace (the stations of every
  Constellation of that namespace, with its `spec.groundStations`).

Kopf fills every index before any other handler or daemon starts, so a restarted operator
sees the whole picture on its first tick. Indexes are live: daemons read them as they change.
"""

from __future__ import annotations

from typing import Any

import kopf

from kubesat.k8s.objects import budget_info, job_info, pod_info, satellite_info, station_info
from kubesat.spec import GROUP, VERSION

UNBOUND = ""


@kopf.index("pods", id="satellite_pods")
async def satellite_pods(body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[str, Any] | None:
    info = pod_info(body)
    if info is None:
        return None
    scheduler = getattr(memo, "scheduler", None)
    if scheduler is not None and not info.node and not info.terminal:
        scheduler.wake()
    return {info.node or UNBOUND: info}


@kopf.index("batch", "v1", "jobs", id="gpu_jobs")
async def gpu_jobs(body: kopf.Body, **_: Any) -> dict[tuple[str, str], Any]:
    info = job_info(body)
    return {(info.namespace, info.name): info}


@kopf.index(GROUP, VERSION, "satellites", id="fleet_satellites")
async def fleet_satellites(
    body: kopf.Body, namespace: str | None, **_: Any
) -> dict[tuple[str, str], Any]:
    assert namespace is not None  # a namespaced resource
    constellation, info = satellite_info(body)
    return {(namespace, constellation): info}


@kopf.index("policy", "v1", "poddisruptionbudgets", id="disruption_budgets")
async def disruption_budgets(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, Any]:
    assert namespace is not None  # a namespaced resource
    return {namespace: budget_info(body)}


@kopf.index(GROUP, VERSION, "groundstations", id="ground_stations")
async def ground_stations(
    body: kopf.Body, namespace: str | None, **_: Any
) -> dict[str, Any] | None:
    assert namespace is not None  # a namespaced resource
    station = station_info(body)
    return None if station is None else {namespace: station}
