"""GroundStation objects drive the operator's contacts live, and link-bound pods leave
their satellite before loss of signal, on the real control plane.

Two satellites at 550 km (one plane, opposite each other), no `spec.groundStations`: no
contact at all until a GroundStation object appears. The test puts one under the ground
track of the first satellite a few simulated minutes ahead (computed with the same core
as the operator), moves it under the second, then deletes it. A Job annotated
`kubesat.io/needs-ground-link` runs only in those contacts and is checkpointed and moved
before each loss of signal: its pods' lives (the Job's progress history, simulated
times) lie within the station's contacts of their satellite, give or take one step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from kubesat.core.conditions import compute_conditions, compute_link
from kubesat.core.geometry import Sky
from kubesat.core.ground import GroundStation
from kubesat.core.orbits import Fleet
from kubesat.core.timebase import TimeGrid, parse_utc
from kubesat.k8s.satellites import satellite_names
from kubesat.spec import parse_constellation
from tests.e2e.conftest import GROUP, VERSION, Cluster, condition, constellation, gpu_job, wait_for

pytestmark = pytest.mark.controlplane

STEP_SECONDS = 20.0
SPEEDUP = 120.0
LEAD_SECONDS = 20 * 60.0  # the station goes under the track this far ahead (10 s of wall)


def sim_now(cluster: Cluster, name: str, start: datetime) -> datetime:
    status = cluster.constellation(name).get("status") or {}
    epoch = parse_utc(status["clock"]["epochWallTime"], "epochWallTime")
    return start + (datetime.now(UTC) - epoch) * SPEEDUP


def sub_point(fleet: Fleet, start: datetime, sat: int, when: datetime) -> tuple[float, float]:
    offset = (when - start).total_seconds()
    grid = TimeGrid(start, np.array([offset]))
    c = compute_conditions(fleet, Sky.on(grid))
    return float(c.latitude_deg[sat, 0]), float(c.longitude_deg[sat, 0])


def station_body(name: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "GroundStation",
        "metadata": {"name": name},
        "spec": {
            "latitudeDeg": round(lat, 4),
            "longitudeDeg": round(lon, 4),
            "minElevationDeg": 10,
        },
    }


def link_of(node: Any) -> str | None:
    found = condition(node, "GroundLink")
    return None if found is None else found.status


def test_ground_stations_live_and_link_bound_pods(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    body = constellation(
        "links",
        planes=1,
        per_plane=2,
        gpus=1,
        gpu_power_w=500.0,
        solar_w=3000.0,
        battery_wh=2000.0,
        speedup=SPEEDUP,
        step=STEP_SECONDS,
    )
    cluster.create(body)
    spec = parse_constellation({**body, "metadata": {"name": "links", "namespace": namespace}})
    names = satellite_names("links", spec.satellites)
    fleet = Fleet(spec.satellites)
    start = spec.clock.start_utc
    cluster.ready_nodes("links", 2)
    wait_for(
        "the clock in status",
        lambda: (
            (cluster.constellation("links").get("status") or {})
            .get("clock", {})
            .get("epochWallTime")
        ),
    )
    job = gpu_job("serve", gpus=1, work=1e7, interval=300, write=30)
    job["metadata"]["annotations"]["kubesat.io/needs-ground-link"] = "true"
    cluster.create(job)
    stations = cluster.custom

    def nodes() -> dict[str, Any]:
        return {n.metadata.name: n for n in cluster.nodes("links")}

    # no station: no contact, and the link-bound pod finds no satellite
    assert all(link_of(n) == "False" for n in nodes().values())
    assert not [p for p in cluster.pods("serve") if p.spec.node_name]

    # a station under satellite 0's track a few minutes ahead
    target = sim_now(cluster, "links", start) + timedelta(seconds=LEAD_SECONDS)
    lat, lon = sub_point(fleet, start, 0, target)
    stations.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "groundstations", station_body("gs", lat, lon)
    )
    first = GroundStation("gs", round(lat, 4), round(lon, 4), 0.0, 10.0)
    wait_for(
        "a GroundStationsChanged Event", lambda: cluster.events(reason="GroundStationsChanged")
    )
    wait_for(f"{names[0]} in contact", lambda: link_of(nodes()[names[0]]) == "True", timeout=60)
    assert link_of(nodes()[names[1]]) == "False"

    def moved_before_los() -> list[dict[str, Any]]:
        history = cluster.progress("serve").get("history") or []
        return [h for h in history if h["ended"] == "Checkpointed"]

    wait_for("the link-bound pod checkpointed before LOS", moved_before_los, timeout=60)
    evicting = cluster.events(reason="Evicting")
    assert evicting and all("contact ends in" in e.message for e in evicting), evicting

    # the station moves under satellite 1's track: satellite 1 gets the contact
    target = sim_now(cluster, "links", start) + timedelta(seconds=LEAD_SECONDS)
    lat, lon = sub_point(fleet, start, 1, target)
    stations.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "groundstations",
        "gs",
        {"spec": {"latitudeDeg": round(lat, 4), "longitudeDeg": round(lon, 4)}},
    )
    second = GroundStation("gs", round(lat, 4), round(lon, 4), 0.0, 10.0)
    wait_for(
        "a moved station",
        lambda: any("moved" in e.message for e in cluster.events(reason="GroundStationsChanged")),
    )
    wait_for(f"{names[1]} in contact", lambda: link_of(nodes()[names[1]]) == "True", timeout=60)
    wait_for(
        "a link-bound pod on the second satellite, moved before LOS",
        lambda: [h for h in moved_before_los() if h["node"] == names[1]],
        timeout=60,
    )

    # the station goes: no contact anywhere, and no link-bound pod runs
    stations.delete_namespaced_custom_object(GROUP, VERSION, namespace, "groundstations", "gs")
    wait_for(
        "a removed station",
        lambda: any("removed" in e.message for e in cluster.events(reason="GroundStationsChanged")),
    )
    wait_for("no contact", lambda: all(link_of(n) == "False" for n in nodes().values()), timeout=30)

    # every pod of the link-bound Job lived within a contact of its satellite (one step
    # of slack): contacts from the same core, with the station where it stood then
    history = cluster.progress("serve").get("history") or []
    assert history
    end = max(parse_utc(h["at"], "at") for h in history)
    steps = int((end - start).total_seconds() // STEP_SECONDS) + 2
    grid = TimeGrid(start, np.arange(steps) * STEP_SECONDS)
    sky = Sky.on(grid)
    in_contact = compute_link(fleet, sky, [first]) | compute_link(fleet, sky, [second])
    for entry in history:
        sat = names.index(entry["node"])
        begin = int(
            (parse_utc(entry["started"], "started") - start).total_seconds() // STEP_SECONDS
        )
        until = int((parse_utc(entry["at"], "at") - start).total_seconds() // STEP_SECONDS)
        outside = int((~in_contact[sat, begin:until]).sum())
        assert outside <= 1, (entry, outside)
