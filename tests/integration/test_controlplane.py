"""Smoke tests proving the test control plane is a real Kubernetes.

A Node is created through the API the way a kubelet would register (status
through the status subresource, a Lease heartbeat); the Job controller creates
pods, the default scheduler binds them to the node by its ``nvidia.com/gpu``
capacity and taint, the garbage collector and the namespace controller delete
them, and RBAC refuses an identity without bindings.

There is no kubelet.  Deleting a pod bound to a node is graceful: the API
server only sets ``deletionTimestamp`` and waits for the node's kubelet to
confirm the stop with a zero-grace delete.  ``play_kubelet_finalize`` plays
that part, and only for pods whose deletion the controllers already started.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.support.controlplane import LocalControlPlane, close_api_client, pinned_versions
from tests.support.waiting import wait_for

pytestmark = pytest.mark.controlplane

GPU = "nvidia.com/gpu"
SAT_TAINT_KEY = "kubesat.io/satellite"


def status_of(call: Callable[[], Any]) -> int:
    """HTTP status of an API call (200 when it succeeds)."""
    try:
        call()
    except k8s.ApiException as exc:
        return exc.status
    return 200


def play_kubelet_finalize(core: k8s.CoreV1Api, namespace: str, label_selector: str) -> None:
    """Confirm the deletion of terminating pods, as their kubelet would (grace 0)."""
    for pod in core.list_namespaced_pod(namespace, label_selector=label_selector).items:
        if pod.metadata.deletion_timestamp is not None:
            try:
                core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
            except k8s.ApiException as exc:
                if exc.status != 404:
                    raise


@pytest.fixture
def gpu_node(kube_api: Any) -> Iterator[str]:
    """A Ready satellite node with 4 GPUs and the satellite taint (no kubelet)."""
    core = k8s.CoreV1Api(kube_api)
    name = f"kubesat-sat-{uuid.uuid4().hex[:6]}"
    node = core.create_node(
        k8s.V1Node(
            metadata=k8s.V1ObjectMeta(
                name=name,
                labels={"kubernetes.io/hostname": name, "kubesat.io/satellite": "true"},
            ),
            spec=k8s.V1NodeSpec(
                taints=[k8s.V1Taint(key=SAT_TAINT_KEY, value="true", effect="NoSchedule")]
            ),
        )
    )
    try:
        # Microseconds never 0: isoformat() would drop them, and a Lease's
        # MicroTime must carry them.
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond or 1)
        resources = {"cpu": "16", "memory": "64Gi", "pods": "110", GPU: "4"}
        node.status = k8s.V1NodeStatus(
            capacity=resources,
            allocatable=resources,
            conditions=[
                k8s.V1NodeCondition(
                    type="Ready",
                    status="True",
                    reason="KubeletReady",
                    message="kubesat test node",
                    last_heartbeat_time=now,
                    last_transition_time=now,
                )
            ],
        )
        # Spec and status are separate: status only through the subresource. A patch,
        # not a replace: the node-lifecycle controller may have touched the node already.
        core.patch_node_status(name, {"status": kube_api.sanitize_for_serialization(node.status)})
        # The kubelet's heartbeat, owned by the node as the kubelet does it.
        k8s.CoordinationV1Api(kube_api).create_namespaced_lease(
            "kube-node-lease",
            k8s.V1Lease(
                metadata=k8s.V1ObjectMeta(
                    name=name,
                    owner_references=[
                        k8s.V1OwnerReference(
                            api_version="v1", kind="Node", name=name, uid=node.metadata.uid
                        )
                    ],
                ),
                spec=k8s.V1LeaseSpec(
                    holder_identity=name, lease_duration_seconds=40, renew_time=now
                ),
            ),
        )
        yield name
    finally:
        core.delete_node(name)


def gpu_job(name: str) -> k8s.V1Job:
    return k8s.V1Job(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1JobSpec(
            backoff_limit=0,
            template=k8s.V1PodTemplateSpec(
                spec=k8s.V1PodSpec(
                    restart_policy="Never",
                    tolerations=[
                        k8s.V1Toleration(
                            key=SAT_TAINT_KEY, operator="Equal", value="true", effect="NoSchedule"
                        )
                    ],
                    containers=[
                        k8s.V1Container(
                            name="train",
                            image="registry.invalid/kubesat/train:never-pulled",
                            # Extended resources: limits only, requests default to them.
                            resources=k8s.V1ResourceRequirements(limits={GPU: "1"}),
                        )
                    ],
                )
            ),
        ),
    )


def test_version_is_the_pinned_release(kube_cluster: Any, kube_api: Any) -> None:
    info = k8s.VersionApi(kube_api).get_code()
    if isinstance(kube_cluster, LocalControlPlane):
        expected = pinned_versions()["kubernetes"]
        assert info.git_version == expected
        assert (info.major, info.minor) == ("1", expected.split(".")[1])
    assert info.git_version.startswith("v1.")


def test_rbac_refuses_identity_without_bindings(
    kube_cluster: Any, kube_api: Any, kube_nobody_api: Any, namespace: str
) -> None:
    nobody = k8s.CoreV1Api(kube_nobody_api)
    assert status_of(lambda: nobody.list_namespaced_pod(namespace)) == 403
    node = k8s.V1Node(metadata=k8s.V1ObjectMeta(name="kubesat-forbidden-node"))
    assert status_of(lambda: nobody.create_node(node)) == 403
    # Who the API server thinks we are: authenticated, but not an admin.
    review = k8s.AuthorizationV1Api(kube_nobody_api).create_self_subject_access_review(
        k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=k8s.V1ResourceAttributes(verb="create", resource="nodes")
            )
        )
    )
    assert review.status.allowed is False
    # The admin is allowed the same.
    assert status_of(lambda: k8s.CoreV1Api(kube_api).list_namespaced_pod(namespace)) == 200
    # Any other user, impersonated by the admin, is refused the same way.
    impostor = kube_cluster.api_client("kubesat-test-impersonated")
    try:
        assert status_of(lambda: k8s.CoreV1Api(impostor).list_namespaced_pod(namespace)) == 403
    finally:
        close_api_client(impostor)
    if isinstance(kube_cluster, LocalControlPlane):
        bad = kube_cluster.api_client_for_token("not-a-valid-token")
        try:
            assert status_of(lambda: k8s.CoreV1Api(bad).list_namespaced_pod(namespace)) == 401
        finally:
            close_api_client(bad)


def test_job_is_scheduled_on_gpu_node_and_collected(
    kube_api: Any, namespace: str, gpu_node: str
) -> None:
    core = k8s.CoreV1Api(kube_api)
    batch = k8s.BatchV1Api(kube_api)
    for job in ("gpu-a", "gpu-b"):
        batch.create_namespaced_job(namespace, gpu_job(job))

    def bound_pod(job: str) -> k8s.V1Pod | None:
        pods = core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
        return next((p for p in pods if p.spec.node_name), None)

    # Job controller creates the pods, the default scheduler binds them.
    for job in ("gpu-a", "gpu-b"):
        pod = wait_for(f"a pod of job {job} bound to a node", lambda j=job: bound_pod(j))
        assert pod.spec.node_name == gpu_node
        assert pod.spec.containers[0].resources.requests[GPU] == "1"

    # Garbage collector: deleting a Job (background propagation) deletes its pod.
    batch.delete_namespaced_job("gpu-a", namespace, propagation_policy="Background")

    def gc_started() -> bool:
        pods = core.list_namespaced_pod(namespace, label_selector="job-name=gpu-a").items
        return all(p.metadata.deletion_timestamp for p in pods)

    wait_for("the garbage collector to delete the pod of job gpu-a", gc_started)
    play_kubelet_finalize(core, namespace, "job-name=gpu-a")
    wait_for(
        "the pod of job gpu-a to be gone",
        lambda: not core.list_namespaced_pod(namespace, label_selector="job-name=gpu-a").items,
    )

    # Namespace controller: deleting the namespace deletes the Job and its pod.
    core.delete_namespace(namespace)

    def namespace_gone() -> bool:
        play_kubelet_finalize(core, namespace, "job-name=gpu-b")
        return status_of(lambda: core.read_namespace(namespace)) == 404

    wait_for(f"namespace {namespace} to be finalized", namespace_gone, timeout=90)
    assert not batch.list_job_for_all_namespaces(
        field_selector=f"metadata.namespace={namespace}"
    ).items
    assert not core.list_pod_for_all_namespaces(
        field_selector=f"metadata.namespace={namespace}"
    ).items
