"""The operator's own life: its permissions, a kill and a restart, and bad Constellations.

- It runs with the Helm chart's ServiceAccount and nothing more (every scenario does; here
  the ServiceAccount is also shown to be refused what the chart does not grant).
- Killed (SIGKILL) mid-Job and restarted, it continues the same timeline from the state it
  persisted, catches up the simulated time it missed, loses no progress and starts no
  second pod.
- A Constellation that passes admission but not the operator's parser (a TLE checksum,
  which CEL cannot check) ends Invalid with an Event naming the field, and creates nothing;
  one that admission refuses leaves the cluster as it was.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config

from kubesat.k8s.jobs import NEVER_FITS_REASON
from kubesat.k8s.state_store import read_state
from kubesat.spec import JOB_CONTROLLER_NAME
from tests.e2e.conftest import GROUP, VERSION, Cluster, constellation, gpu_job, wait_for
from tests.support.controlplane import close_api_client

pytestmark = pytest.mark.controlplane

REPO = Path(__file__).resolve().parents[2]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_service_account_has_only_the_charts_permissions(operator_kubeconfig: Path) -> None:
    api = config.new_client_from_config(config_file=str(operator_kubeconfig))
    try:
        core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
        core.list_node()  # granted
        for call in (
            lambda: core.list_secret_for_all_namespaces(),
            lambda: core.list_config_map_for_all_namespaces(),
            lambda: apps.list_deployment_for_all_namespaces(),
            lambda: core.create_namespaced_secret(
                "default", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}
            ),
            lambda: core.delete_namespaced_config_map("x", "default"),
            lambda: core.delete_namespace("default"),
        ):
            with pytest.raises(k8s.ApiException) as refused:
                call()
            assert refused.value.status == 403
    finally:
        close_api_client(api)


def test_killed_and_restarted_operator_loses_no_progress_and_duplicates_no_pod(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    first = start_operator(namespace)
    # a battery that carries the GPUs through every eclipse: the pod never has to move
    cluster.create(
        constellation("steady", planes=1, per_plane=2, battery_wh=4000.0, speedup=60.0, step=10.0)
    )
    wait_for("2 nodes", lambda: len(cluster.nodes("steady")) == 2, timeout=60)
    work, gpus = 4 * 3600.0, 4  # one simulated hour on 4 GPUs: a minute of wall time
    cluster.create(gpu_job("long", gpus=gpus, work=work, interval=300, write=30))

    def progressing() -> Any:
        units = cluster.progress("long").get("units", {})
        unit = units.get("u0", {})
        return unit if unit.get("checkpoint", 0) > 0 and unit.get("pod") else None

    before = wait_for("a checkpoint of the Job", progressing, timeout=60)
    pod = wait_for("the pod", lambda: cluster.pods("long"))[0]
    status_before = cluster.constellation("steady")["status"]
    # read now: the slot this status names is rewritten two persists later
    state_before = read_state(cluster.core, namespace, status_before)
    time.sleep(2)
    first.kill()
    killed_at = time.monotonic()
    time.sleep(5)  # five simulated minutes go by without an operator
    start_operator(namespace)

    def resumed() -> Any:
        status = cluster.constellation("steady")["status"]
        return (
            status
            if when(status["clock"]["simulatedTime"])
            > when(status_before["clock"]["simulatedTime"]) + _seconds(330)
            else None
        )

    status_after = wait_for("the clock to move on", resumed, timeout=60)
    # the same timeline: the anchor did not move, and simulated time kept pace with the wall
    assert status_after["clock"]["epochWallTime"] == status_before["clock"]["epochWallTime"]
    # the battery state came back (same satellites, a state of charge each)
    state_after = read_state(cluster.core, namespace, status_after)
    assert state_after["satellites"] == state_before["satellites"]
    assert state_after["step"] > state_before["step"]
    wait_for("Job long Complete", lambda: cluster.job_complete("long"), timeout=120)
    pods = cluster.pods("long")
    assert [p.metadata.uid for p in pods] == [pod.metadata.uid], "a second pod was started"
    assert pods[0].status.phase == "Succeeded"
    progress = cluster.final_progress("long", done=1)
    assert progress["lostGpuSeconds"] == 0
    (story,) = progress["history"]
    assert story["pod"] == pod.metadata.name
    assert story["from"] == 0 and story["to"] == pytest.approx(work)
    # no progress lost: the pod ran through the restart as if nothing happened; the work
    # took its length plus the checkpoint writes (30 s per 300 s), give or take a step
    elapsed = (when(story["at"]) - when(story["started"])).total_seconds()
    writes = 30.0 * (math.ceil(work / gpus / 300.0) - 1)  # none at the very end
    assert elapsed == pytest.approx(work / gpus + writes, abs=30.0), (elapsed, story, before)
    assert time.monotonic() - killed_at < 150


def _seconds(value: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value)


def test_constellation_that_fails_the_parser_is_invalid_and_creates_nothing(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    lines = (REPO / "tests" / "data" / "reference.tle").read_text().splitlines()[:3]
    bad_line2 = lines[2][:68] + str((int(lines[2][68]) + 1) % 10)  # wrong checksum
    body = constellation("badsum", orbits={"tle": "\n".join([lines[0], lines[1], bad_line2])})
    cluster.create(body)  # CEL checks lengths, not checksums: admitted

    def invalid() -> Any:
        status = cluster.constellation("badsum").get("status") or {}
        return status if status.get("phase") == "Invalid" else None

    status = wait_for("status phase Invalid", invalid, timeout=60)
    message = status["conditions"][0]["message"]
    assert "TLE line 2 of 'ISS (ZARYA)'" in message and "checksum" in message, message
    events = wait_for("the InvalidSpec event", lambda: cluster.events("badsum", "InvalidSpec"))
    assert "checksum" in events[0].message
    time.sleep(3)
    assert cluster.satellites("badsum") == []
    assert cluster.nodes("badsum") == []
    # fixing the spec brings the constellation up
    cluster.custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "constellations",
        "badsum",
        {"spec": {"orbits": {"tle": "\n".join(lines)}}},
    )
    wait_for(
        "the fixed constellation's Satellite", lambda: cluster.satellites("badsum"), timeout=60
    )
    wait_for("its node", lambda: cluster.nodes("badsum"), timeout=60)


def test_constellation_larger_than_the_cluster_limit_is_invalid_and_creates_nothing(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)  # the default limit: Kubernetes' tested 5,000 nodes
    # a 300,000-satellite shell: admitted by the schema, refused by the operator
    cluster.create(constellation("shell", planes=600, per_plane=500))

    def invalid() -> Any:
        status = cluster.constellation("shell").get("status") or {}
        return status if status.get("phase") == "Invalid" else None

    status = wait_for("status phase Invalid", invalid, timeout=60)
    message = status["conditions"][0]["message"]
    assert "300,000 satellites" in message and "5,000" in message, message
    events = wait_for("the InvalidSpec event", lambda: cluster.events("shell", "InvalidSpec"))
    assert "maxSatellites" in events[0].message and "5,000" in events[0].message
    time.sleep(3)
    assert cluster.satellites("shell") == []
    assert cluster.nodes("shell") == []


def test_the_satellite_limit_is_the_operators_flag(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace, "--max-satellites", "3")
    cluster.create(constellation("four", planes=2, per_plane=2))
    events = wait_for("the InvalidSpec event", lambda: cluster.events("four", "InvalidSpec"))
    assert "4 satellites, more than the 3" in events[0].message
    cluster.create(constellation("three", planes=1, per_plane=3))
    cluster.ready_nodes("three", 3)
    assert cluster.nodes("four") == []


def test_constellation_refused_at_admission_changes_nothing(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    path = REPO / "examples" / "bad" / "negative-battery.yaml"
    text = path.read_text()
    expected = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("# expect:")
    ]
    nodes_before = {n.metadata.name for n in cluster.core.list_node().items}
    with pytest.raises(k8s.ApiException) as refused:
        cluster.create(yaml.safe_load(text))
    assert refused.value.status == 422
    for fragment in expected:
        assert fragment in refused.value.body
    time.sleep(3)
    assert (
        cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "constellations")[
            "items"
        ]
        == []
    )
    assert (
        cluster.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "satellites")[
            "items"
        ]
        == []
    )
    assert {n.metadata.name for n in cluster.core.list_node().items} <= nodes_before
    assert cluster.events() == []


def test_stray_pod_of_a_managed_job_is_deleted_and_the_unit_runs_once(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    """A pod of one of kubesat's Jobs that the engine does not run (a late copy of a
    decision already undone) is deleted, not adopted: the unit runs once."""
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    cluster.create(
        constellation("strays", planes=1, per_plane=2, battery_wh=4000.0, speedup=60.0, step=10.0)
    )
    wait_for("2 nodes", lambda: len(cluster.nodes("strays")) == 2, timeout=60)
    job = gpu_job("managed", gpus=4, work=4 * 1800.0, interval=300, write=30)
    job["spec"]["managedBy"] = JOB_CONTROLLER_NAME
    cluster.create(job)
    (pod,) = wait_for("the Job's pod", lambda: cluster.pods("managed"), timeout=60)
    stray = admin.sanitize_for_serialization(pod)
    stray["metadata"] = {
        "name": f"{pod.metadata.name}-stray",
        "labels": pod.metadata.labels,
        "annotations": pod.metadata.annotations,
        "ownerReferences": stray["metadata"]["ownerReferences"],
    }
    stray.pop("status", None)
    cluster.core.create_namespaced_pod(namespace, stray)
    wait_for(
        "the stray pod deleted",
        lambda: [p.metadata.name for p in cluster.pods("managed")] == [pod.metadata.name],
        timeout=30,
    )
    wait_for("Job managed Complete", lambda: cluster.job_complete("managed"), timeout=120)
    (done,) = cluster.pods("managed")
    assert done.metadata.uid == pod.metadata.uid and done.status.phase == "Succeeded"
    # the durable state lives in ConfigMaps the Constellation owns, not in its status
    status = cluster.constellation("strays")["status"]
    assert "state" not in status
    ref = status["stateRef"]
    maps = [cluster.core.read_namespaced_config_map(n, namespace) for n in ref["configMaps"]]
    assert all(m.metadata.owner_references[0].kind == "Constellation" for m in maps)
    assert read_state(cluster.core, namespace, status)["step"] == ref["step"]


def test_a_managed_job_that_can_never_fit_gets_a_warning_and_the_others_run(
    admin: Any, namespace: str, start_operator: Any
) -> None:
    """A Job whose pods need more GPUs than a satellite has: a `NeverFits` Warning Event
    on it, in the simulator's words, and the Job beside it completes as usual."""
    cluster = Cluster(admin, namespace)
    start_operator(namespace)
    cluster.create(
        constellation("tight", planes=1, per_plane=2, battery_wh=4000.0, speedup=60.0, step=10.0)
    )
    wait_for("2 nodes", lambda: len(cluster.nodes("tight")) == 2, timeout=60)
    for name, gpus in (("huge", 16), ("fits", 2)):
        job = gpu_job(name, gpus=gpus, work=gpus * 900.0, interval=300, write=10)
        job["spec"]["managedBy"] = JOB_CONTROLLER_NAME
        cluster.create(job)
    (event,) = wait_for("NeverFits", lambda: cluster.events("huge", NEVER_FITS_REASON), timeout=60)
    assert event.type == "Warning"
    assert event.message == "can never run: pods need 16 nvidia.com/gpu; a satellite has 4"
    wait_for("Job fits Complete", lambda: cluster.job_complete("fits"), timeout=120)
    assert cluster.pods("huge") == []
