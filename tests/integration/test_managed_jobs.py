"""kubesat as the Job controller of `managedBy` Jobs, checked against a real API server.

A Job with `spec.managedBy: kubesat.io/job-controller` is left alone by the built-in Job
controller (JobManagedBy, GA in 1.35): no pods, no status. kubesat then creates the pods
itself, already bound to a node, and writes the Job's status. These tests send what the
pure renderers of `kubesat.k8s.job_objects` produce, unchanged, to the real API server,
and check that it is accepted through a whole life cycle, and that the server's
strengthened status validation for such Jobs is on: bodies the renderers never produce
are refused with 422.

There is no kubelet: the pods stay Pending on a Node that is a plain API object, and are
deleted with grace 0 at the end, as their kubelet would confirm.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest
from kubernetes import client as k8s

from kubesat.k8s.job_objects import (
    JobReason,
    JobState,
    is_indexed,
    is_managed,
    pod_name,
    render_job_status,
    render_pod,
)
from kubesat.spec import JOB_CONTROLLER_NAME
from tests.support.waiting import wait_for

pytestmark = pytest.mark.controlplane

MERGE_PATCH: Final = "application/merge-patch+json"
# What the client sends for a dict body when no content type is given.
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
UNPROCESSABLE: Final = 422
RFC3339: Final = "%Y-%m-%dT%H:%M:%SZ"
IMAGE: Final = "registry.invalid/kubesat/train:never-pulled"


# --- helpers ------------------------------------------------------------------------


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(RFC3339)


def job_manifest(name: str, *, indexed: bool, managed: bool = True, count: int = 2) -> k8s.V1Job:
    """A Job of `count` completions run `count` at a time, managed by kubesat if `managed`."""
    return k8s.V1Job(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1JobSpec(
            managed_by=JOB_CONTROLLER_NAME if managed else None,
            completion_mode="Indexed" if indexed else "NonIndexed",
            completions=count,
            parallelism=count,
            backoff_limit=0,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels={"app": name}),
                spec=k8s.V1PodSpec(
                    restart_policy="Never",
                    containers=[k8s.V1Container(name="train", image=IMAGE)],
                ),
            ),
        ),
    )


def job_dict(kube_api: Any, namespace: str, name: str) -> dict[str, Any]:
    """The Job as the API server has it, as a plain camelCase dict (what kubesat's watch sees)."""
    job = k8s.BatchV1Api(kube_api).read_namespaced_job(name, namespace)
    result: dict[str, Any] = kube_api.sanitize_for_serialization(job)
    return result


def pods_of(core: k8s.CoreV1Api, namespace: str, job_name: str) -> list[k8s.V1Pod]:
    return list(core.list_namespaced_pod(namespace, label_selector=f"job-name={job_name}").items)


def patch_status(
    kube_api: Any,
    namespace: str,
    name: str,
    body: dict[str, Any],
    content_type: str = MERGE_PATCH,
) -> k8s.V1Job:
    """Send a status body as a patch (JSON merge by default) to the Job's status subresource."""
    return k8s.BatchV1Api(kube_api).patch_namespaced_job_status(
        name, namespace, body, _content_type=content_type
    )


def refusal(call: Callable[[], Any]) -> tuple[int, str]:
    """HTTP status and message of the API error `call` raises; fails the test if it succeeds."""
    with pytest.raises(k8s.ApiException) as caught:
        call()
    message: str = json.loads(caught.value.body)["message"]
    return caught.value.status, message


def create_rendered_pod(kube_api: Any, pod: dict[str, Any]) -> k8s.V1Pod:
    """Create the rendered pod exactly as rendered (the client model must not change it)."""
    model = k8s.V1Pod.from_dict(pod)
    assert kube_api.sanitize_for_serialization(model) == pod
    created: k8s.V1Pod = k8s.CoreV1Api(kube_api).create_namespaced_pod(
        pod["metadata"]["namespace"], model
    )
    return created


def condition_types(job: k8s.V1Job) -> dict[str, str]:
    return {c.type: c.status for c in job.status.conditions or []}


def status_is_empty(kube_api: Any, job: k8s.V1Job) -> bool:
    return job.status is None or not kube_api.sanitize_for_serialization(job.status)


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
def node(kube_api: Any) -> Iterator[str]:
    """A plain Node object, as for a satellite whose kubelet kubesat plays."""
    core = k8s.CoreV1Api(kube_api)
    name = f"kubesat-managed-{uuid.uuid4().hex[:6]}"
    core.create_node(
        k8s.V1Node(metadata=k8s.V1ObjectMeta(name=name, labels={"kubernetes.io/hostname": name}))
    )
    try:
        yield name
    finally:
        with contextlib.suppress(k8s.ApiException):
            core.delete_node(name)


@pytest.fixture
def pod_namespace(kube_api: Any, namespace: str) -> Iterator[str]:
    """`namespace`, once pods may be created in it; its pods are deleted with grace 0 after."""
    core = k8s.CoreV1Api(kube_api)

    def default_service_account() -> bool:
        # The ServiceAccount admission plugin refuses pods until the controller made it.
        names = [sa.metadata.name for sa in core.list_namespaced_service_account(namespace).items]
        return "default" in names

    wait_for(f"the default ServiceAccount of {namespace}", default_service_account)
    yield namespace
    # Bound to a node without kubelet, the pods would wait forever for it to confirm.
    for pod in core.list_namespaced_pod(namespace).items:
        with contextlib.suppress(k8s.ApiException):
            core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)


def start_managed_job(
    kube_api: Any, namespace: str, name: str, *, indexed: bool, count: int = 2
) -> dict[str, Any]:
    """Create a kubesat-managed Job; prove the built-in controller leaves it alone."""
    batch = k8s.BatchV1Api(kube_api)
    core = k8s.CoreV1Api(kube_api)
    batch.create_namespaced_job(namespace, job_manifest(name, indexed=indexed, count=count))
    # A Job of the built-in controller, created after ours, as a witness: once the
    # controller has made its pod and written its status, it has seen ours too.
    witness = f"{name}-witness"
    batch.create_namespaced_job(
        namespace, job_manifest(witness, indexed=False, managed=False, count=1)
    )
    wait_for(
        f"the built-in Job controller to start Job {witness}",
        lambda: (
            pods_of(core, namespace, witness)
            and batch.read_namespaced_job_status(witness, namespace).status.start_time
        ),
        timeout=30,
    )
    assert pods_of(core, namespace, name) == []
    assert status_is_empty(kube_api, batch.read_namespaced_job_status(name, namespace))
    batch.delete_namespaced_job(witness, namespace, propagation_policy="Background")

    job = job_dict(kube_api, namespace, name)
    assert is_managed(job)
    assert is_indexed(job) is indexed
    return job


# --- tests --------------------------------------------------------------------------


@pytest.mark.parametrize("patch", [MERGE_PATCH, STRATEGIC_MERGE_PATCH], ids=["merge", "strategic"])
@pytest.mark.parametrize("indexed", [True, False], ids=["Indexed", "NonIndexed"])
def test_managed_job_life_cycle(
    kube_api: Any, pod_namespace: str, node: str, indexed: bool, patch: str
) -> None:
    namespace, name = pod_namespace, "train"
    core = k8s.CoreV1Api(kube_api)
    job = start_managed_job(kube_api, namespace, name, indexed=indexed)

    # kubesat creates the pods, bound to the node: the API server takes them as rendered.
    for unit in (0, 1):
        rendered = render_pod(job, unit, 0, node, indexed=indexed)
        created = create_rendered_pod(kube_api, rendered)
        assert created.metadata.name == pod_name(name, unit, 0)
        assert created.spec.node_name == node
        assert created.metadata.finalizers is None
        (owner,) = created.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid) == ("Job", name, job["metadata"]["uid"])
        assert owner.controller is True
        assert created.metadata.labels == rendered["metadata"]["labels"]
        assert created.metadata.annotations == rendered["metadata"]["annotations"]
    on_node = core.list_namespaced_pod(namespace, field_selector=f"spec.nodeName={node}").items
    assert sorted(p.metadata.name for p in on_node) == [pod_name(name, 0, 0), pod_name(name, 1, 0)]

    # The status through the life cycle, each body as rendered, each accepted.
    now = datetime.now(UTC)
    started, finished = rfc3339(now - timedelta(minutes=5)), rfc3339(now)

    def indexes(done: list[int]) -> list[int] | None:
        """Completed indexes are written for Indexed Jobs only."""
        return done if indexed else None

    running = render_job_status(
        start_time=started, active=2, ready=2, completed_indexes=indexes([])
    )
    patched = patch_status(kube_api, namespace, name, running, patch)
    assert (patched.status.active, patched.status.ready) == (2, 2)
    assert rfc3339(patched.status.start_time) == started
    assert patch_status(kube_api, namespace, name, running, patch).status.active == 2  # idempotent

    half = render_job_status(
        start_time=started, active=1, ready=1, succeeded=1, completed_indexes=indexes([0])
    )
    patched = patch_status(kube_api, namespace, name, half, patch)
    assert (patched.status.active, patched.status.succeeded) == (1, 1)
    assert patched.status.completed_indexes == ("0" if indexed else None)

    complete = render_job_status(
        start_time=started,
        succeeded=2,
        completed_indexes=indexes([0, 1]),
        state=JobState.COMPLETE,
        finished_at=finished,
    )
    patch_status(kube_api, namespace, name, complete, patch)
    patch_status(kube_api, namespace, name, complete, patch)  # a retried write is accepted too

    final = k8s.BatchV1Api(kube_api).read_namespaced_job_status(name, namespace)
    assert condition_types(final) == {"SuccessCriteriaMet": "True", "Complete": "True"}
    assert final.status.succeeded == 2
    assert not final.status.active
    assert not final.status.failed
    assert final.status.completed_indexes == ("0-1" if indexed else None)
    assert rfc3339(final.status.completion_time) == finished
    complete_condition = next(c for c in final.status.conditions if c.type == "Complete")
    assert complete_condition.reason == JobReason.COMPLETIONS_REACHED
    assert rfc3339(complete_condition.last_transition_time) == finished
    assert rfc3339(complete_condition.last_probe_time) == finished
    # The built-in controller never stepped in: only kubesat's two pods exist.
    assert len(pods_of(core, namespace, name)) == 2


def test_managed_job_failure(kube_api: Any, pod_namespace: str, node: str) -> None:
    namespace, name = pod_namespace, "flaky"
    job = start_managed_job(kube_api, namespace, name, indexed=False, count=1)
    create_rendered_pod(kube_api, render_pod(job, 0, 0, node, indexed=False))
    now = datetime.now(UTC)
    started, finished = rfc3339(now - timedelta(minutes=1)), rfc3339(now)
    patch_status(kube_api, namespace, name, render_job_status(start_time=started, active=1))
    failed = render_job_status(
        start_time=started,
        failed=1,
        state=JobState.FAILED,
        finished_at=finished,
        reason=JobReason.BACKOFF_LIMIT_EXCEEDED,
        message="Job has reached the specified backoff limit",
    )
    final = patch_status(kube_api, namespace, name, failed)
    assert condition_types(final) == {"FailureTarget": "True", "Failed": "True"}
    assert final.status.failed == 1
    assert final.status.completion_time is None

    # Failed is final: the server refuses a Job that would come back to life.
    code, message = refusal(
        lambda: patch_status(kube_api, namespace, name, {"status": {"conditions": [], "active": 1}})
    )
    assert code == UNPROCESSABLE
    assert "cannot disable the terminal Failed=True condition" in message


def _true(kind: str, at: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": "True",
        "reason": "CompletionsReached",
        "message": "",
        "lastProbeTime": at,
        "lastTransitionTime": at,
    }


def _bad_bodies(started: str, finished: str) -> dict[str, tuple[dict[str, Any], str]]:
    """Status bodies the renderer never produces, and what the API server says of each."""
    met, complete = _true("SuccessCriteriaMet", finished), _true("Complete", finished)
    done = {
        "active": 0,
        "ready": 0,
        "succeeded": 2,
        "completedIndexes": "0-1",
        "completionTime": finished,
    }
    return {
        "Complete without SuccessCriteriaMet": (
            {**done, "conditions": [complete]},
            "cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
        ),
        "Complete without completionTime": (
            {**done, "completionTime": None, "conditions": [met, complete]},
            "completionTime is required for Complete jobs",
        ),
        "Complete with active pods": (
            {**done, "active": 1, "conditions": [met, complete]},
            "active>0 is invalid for finished job",
        ),
        "Failed without FailureTarget": (
            {"active": 0, "failed": 1, "conditions": [_true("Failed", finished)]},
            "cannot set Failed=True condition without the FailureTarget=true condition",
        ),
        "completionTime without Complete": (
            {"completionTime": finished},
            "cannot set completionTime when there is no Complete=True condition",
        ),
        "completionTime before startTime": (
            {**done, "completionTime": "2000-01-01T00:00:00Z", "conditions": [met, complete]},
            "must be equal to or after `startTime`",
        ),
        "more ready than active": ({"ready": 3}, "cannot set more ready pods than active"),
        "single index as an interval": ({"completedIndexes": "1-1"}, "non-increasing order"),
        "index beyond completions": ({"completedIndexes": "2"}, "too large index"),
        "startTime changed": (
            {"startTime": rfc3339(datetime.fromisoformat(started) + timedelta(seconds=1))},
            "field is immutable for unsuspended job once set",
        ),
    }


def test_server_refuses_statuses_the_renderer_never_writes(
    kube_api: Any, pod_namespace: str, node: str
) -> None:
    namespace, name = pod_namespace, "strict"
    job = start_managed_job(kube_api, namespace, name, indexed=True)
    for unit in (0, 1):
        create_rendered_pod(kube_api, render_pod(job, unit, 0, node, indexed=True))
    now = datetime.now(UTC)
    started, finished = rfc3339(now - timedelta(minutes=5)), rfc3339(now)
    running = render_job_status(start_time=started, active=2, ready=2, completed_indexes=[])
    patch_status(kube_api, namespace, name, running)

    for case, (status, expected) in _bad_bodies(started, finished).items():
        code, message = refusal(
            lambda s=status: patch_status(kube_api, namespace, name, {"status": s})
        )
        assert code == UNPROCESSABLE, (case, message)
        assert expected in message, (case, message)

    # Refusals change nothing: the Job is still running and can still complete.
    still = k8s.BatchV1Api(kube_api).read_namespaced_job_status(name, namespace)
    assert (still.status.active, still.status.conditions) == (2, None)
    complete = render_job_status(
        start_time=started,
        succeeded=2,
        completed_indexes=[0, 1],
        state=JobState.COMPLETE,
        finished_at=finished,
    )
    assert condition_types(patch_status(kube_api, namespace, name, complete))["Complete"] == "True"


def test_server_refuses_resent_fractional_start_time(kube_api: Any, namespace: str) -> None:
    """Why render_job_status writes whole seconds: the server stores them, then compares."""
    name = "fraction"
    k8s.BatchV1Api(kube_api).create_namespaced_job(
        namespace, job_manifest(name, indexed=False, count=1)
    )
    body = {"status": {"startTime": "2026-03-01T12:00:00.500000Z", "active": 1}}
    stored = patch_status(kube_api, namespace, name, body)
    assert rfc3339(stored.status.start_time) == "2026-03-01T12:00:00Z"
    code, message = refusal(lambda: patch_status(kube_api, namespace, name, body))
    assert code == UNPROCESSABLE
    assert "field is immutable for unsuspended job once set" in message
    # The rendered body carries the stored value, so it may be sent again and again.
    rendered = render_job_status(start_time="2026-03-01T12:00:00.500000Z", active=1)
    patch_status(kube_api, namespace, name, rendered)
    patch_status(kube_api, namespace, name, rendered)
