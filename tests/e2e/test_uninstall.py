"""`helm uninstall` with Constellations present leaves nothing stuck.

The chart is installed for real; its operator pod cannot run here (no kubelet), so the
operator runs as a subprocess with the release's own ServiceAccount token, as the pod
would: uninstalling the release deletes that account, and the process is stopped as the
pod would be.

- The documented order (README, "Uninstall"): delete the Constellations while the
  operator runs, then `helm uninstall`: no Node, Lease or Satellite is left, nothing of the
  release, and the Constellations' namespace deletes.
- The other order: `helm uninstall` first leaves the Constellations holding kubesat's
  finalizer, so their namespace stays Terminating; installing the chart again, the operator
  finishes the deletion, and nothing is left.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.e2e.conftest import GROUP, VERSION, Cluster, Operator, constellation, wait_for
from tests.integration.test_chart import CHART, Helm, find_helm
from tests.support.prerequisites import missing

pytestmark = [pytest.mark.controlplane, pytest.mark.helm]

LEASE_NAMESPACE = "kube-node-lease"


class Installed:
    """A release of the chart and the operator that runs as its ServiceAccount."""

    def __init__(self, helm: Helm, kube_cluster: Any, admin: Any, release_ns: str, log: Path):
        self.helm = helm
        self.kube_cluster = kube_cluster
        self.admin = admin
        self.release_ns = release_ns
        self.name = f"kst-{uuid.uuid4().hex[:6]}"
        self.log = log
        self.operator: Operator | None = None

    @property
    def service_account(self) -> str:
        return f"{self.name}-kubesat"

    def install(self, watch: str = "") -> Operator:
        """Install the release and start its operator on `watch` (all namespaces: the
        chart's default)."""
        self.helm.run("install", self.name, str(CHART), "--namespace", self.release_ns)
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        )
        token = (
            k8s.CoreV1Api(self.admin)
            .create_namespaced_service_account_token(self.service_account, self.release_ns, request)
            .status.token
        )
        kubeconfig = self.kube_cluster.kubeconfig_for_token(token, name=self.name)
        self.operator = Operator(kubeconfig, watch, self.log).start()
        return self.operator

    def uninstall(self) -> None:
        self.helm.run("uninstall", self.name, "--namespace", self.release_ns, "--wait")
        if self.operator is not None:  # the Deployment's pod goes with the release
            self.operator.stop()

    def leftovers(self) -> list[str]:
        selector = f"app.kubernetes.io/instance={self.name}"
        core, rbac = k8s.CoreV1Api(self.admin), k8s.RbacAuthorizationV1Api(self.admin)
        found = [
            *core.list_namespaced_service_account(self.release_ns, label_selector=selector).items,
            *k8s.AppsV1Api(self.admin)
            .list_namespaced_deployment(self.release_ns, label_selector=selector)
            .items,
            *rbac.list_cluster_role(label_selector=selector).items,
            *rbac.list_cluster_role_binding(label_selector=selector).items,
        ]
        return [o.metadata.name for o in found]


@pytest.fixture
def installed(
    kube_cluster: Any, admin: Any, namespace: str, tmp_path: Path, crds: None
) -> Iterator[Installed]:
    binary = find_helm()
    if binary is None:
        missing("no helm binary: run `make controlplane` (builds helm) or set KUBESAT_HELM")
    if not hasattr(kube_cluster, "kubeconfig_for_token"):
        missing("needs the local control plane (a token kubeconfig)")
    helm = Helm(binary, tmp_path / "helm-home", Path(kube_cluster.kubeconfig_path))
    release = Installed(helm, kube_cluster, admin, namespace, tmp_path / "operator.log")
    yield release
    if release.operator is not None:
        release.operator.kill()
    helm.run("uninstall", release.name, "--namespace", namespace, check=False)


@pytest.fixture
def workload_namespace(admin: Any) -> Iterator[str]:
    core = k8s.CoreV1Api(admin)
    name = f"kubesat-fleet-{uuid.uuid4().hex[:8]}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    # whatever the test left: no finalizer may hold the namespace
    custom = k8s.CustomObjectsApi(admin)
    with contextlib.suppress(k8s.ApiException):
        for item in custom.list_namespaced_custom_object(GROUP, VERSION, name, "constellations")[
            "items"
        ]:
            custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                name,
                "constellations",
                item["metadata"]["name"],
                {"metadata": {"finalizers": None}},
            )
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(name)


def namespace_gone(core: Any, name: str) -> bool:
    try:
        core.read_namespace(name)
    except k8s.ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def nothing_of_the_fleet(cluster: Cluster, name: str, nodes: set[str]) -> bool:
    lease_names = {
        lease.metadata.name
        for lease in k8s.CoordinationV1Api(cluster.api).list_namespaced_lease(LEASE_NAMESPACE).items
    }
    satellites = k8s.CustomObjectsApi(cluster.api).list_cluster_custom_object(
        GROUP, VERSION, "satellites", label_selector=f"kubesat.io/constellation={name}"
    )["items"]
    return not cluster.nodes(name) and not (lease_names & nodes) and not satellites


def test_constellations_first_then_helm_uninstall_leaves_nothing(
    installed: Installed, admin: Any, workload_namespace: str
) -> None:
    cluster = Cluster(admin, workload_namespace)
    installed.install(watch=workload_namespace)
    cluster.create(constellation("fleet"))
    nodes = {n.metadata.name for n in cluster.ready_nodes("fleet", 2)}

    started = time.monotonic()
    cluster.custom.delete_collection_namespaced_custom_object(
        GROUP, VERSION, workload_namespace, "constellations"
    )
    wait_for(
        "the Constellations to go",
        lambda: (
            not cluster.custom.list_namespaced_custom_object(
                GROUP, VERSION, workload_namespace, "constellations"
            )["items"]
        ),
        timeout=60,
    )
    installed.uninstall()
    print(f"delete Constellations + helm uninstall: {time.monotonic() - started:.1f} s")
    wait_for("nothing of the release", lambda: not installed.leftovers(), timeout=60)
    wait_for(
        "no Node, Lease or Satellite",
        lambda: nothing_of_the_fleet(cluster, "fleet", nodes),
        timeout=60,
    )
    core = k8s.CoreV1Api(admin)
    core.delete_namespace(workload_namespace)
    wait_for("the namespace to delete", lambda: namespace_gone(core, workload_namespace), 60)


def test_helm_uninstall_first_is_finished_by_the_next_install(
    installed: Installed, admin: Any, workload_namespace: str
) -> None:
    cluster = Cluster(admin, workload_namespace)
    core = k8s.CoreV1Api(admin)
    installed.install()
    cluster.create(constellation("fleet"))
    nodes = {n.metadata.name for n in cluster.ready_nodes("fleet", 2)}

    installed.uninstall()
    core.delete_namespace(workload_namespace)
    time.sleep(5)
    held = core.read_namespace(workload_namespace)
    assert held.status.phase == "Terminating", "the Constellation's finalizer holds it"
    assert len(cluster.nodes("fleet")) == 2

    installed.install()
    wait_for(
        "the namespace to finish deleting",
        lambda: namespace_gone(core, workload_namespace),
        timeout=90,
    )
    wait_for(
        "no Node, Lease or Satellite",
        lambda: nothing_of_the_fleet(cluster, "fleet", nodes),
        timeout=60,
    )
