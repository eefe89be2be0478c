"""Fixtures of the end-to-end scenarios: the operator as a subprocess on the real control plane.

Every scenario runs `kubesat operator --namespace <its namespace>` as a separate process
with the permissions of the Helm chart's ServiceAccount and nothing more: a
ServiceAccount bound to a ClusterRole made from `kubesat.k8s.permissions.CLUSTER_RULES`,
authenticated by a bound token (no admin rights, no impersonation). A scenario fails if
the operator's log shows a request the RBAC refused.

- `crds` (session): the CRDs of crds/, installed and Established.
- `operator_kubeconfig` (session): the ServiceAccount's kubeconfig.
- `e2e_namespace` (module) / `namespace` (test): where a scenario's objects live.
- `start_operator`: starts operators (`Operator`), stops them at the end of the test after
  deleting the scenario's Constellations (so their Nodes go too); `operators` is the group
  itself (a test that restarts the API server says when, see `Operators.restarting`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from kubesat.k8s.permissions import CLUSTER_RULES
from tests.support.controlplane import close_api_client, free_port
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"
GROUP, VERSION = "kubesat.io", "v1alpha1"
SYSTEM_NAMESPACE = "kubesat-e2e-system"
SERVICE_ACCOUNT = "kubesat-operator"
CLUSTER_ROLE = "kubesat-e2e-operator"
AUTHORIZER_WARMUP = timedelta(seconds=15)  # after an API server restart


# -- cluster-wide setup ----------------------------------------------------------------


@pytest.fixture(scope="session")
def crds(kube_cluster: Any) -> Iterator[None]:
    api = kube_cluster.api_client()
    ext = k8s.ApiextensionsV1Api(api)
    try:
        names = []
        for path in sorted(CRD_DIR.glob("*.yaml")):
            body = yaml.safe_load(path.read_text())
            names.append(body["metadata"]["name"])
            try:
                ext.create_custom_resource_definition(body)
            except k8s.ApiException as exc:
                if exc.status != 409:
                    raise
                current = ext.read_custom_resource_definition(body["metadata"]["name"])
                body["metadata"]["resourceVersion"] = current.metadata.resource_version
                ext.replace_custom_resource_definition(body["metadata"]["name"], body)

        def established(name: str) -> bool:
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            state = {c.type: c.status for c in conditions}
            return state.get("Established") == "True"

        for name in names:
            wait_for(f"CRD {name}", lambda name=name: established(name))
        yield
    finally:
        close_api_client(api)


@pytest.fixture(scope="session")
def operator_kubeconfig(kube_cluster: Any, crds: None, tmp_path_factory: Any) -> Iterator[Path]:
    """A kubeconfig with the token of a ServiceAccount that has the chart's ClusterRole."""
    api = kube_cluster.api_client()
    core, rbac = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api)
    try:
        with contextlib.suppress(k8s.ApiException):
            core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=SYSTEM_NAMESPACE)))
        with contextlib.suppress(k8s.ApiException):
            core.create_namespaced_service_account(
                SYSTEM_NAMESPACE,
                k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=SERVICE_ACCOUNT)),
            )
        rules = [
            k8s.V1PolicyRule(api_groups=[group], resources=list(resources), verbs=list(verbs))
            for group, resources, verbs in CLUSTER_RULES
        ]
        role = k8s.V1ClusterRole(metadata=k8s.V1ObjectMeta(name=CLUSTER_ROLE), rules=rules)
        try:
            rbac.create_cluster_role(role)
        except k8s.ApiException as exc:
            if exc.status != 409:
                raise
            rbac.replace_cluster_role(CLUSTER_ROLE, role)
        binding = k8s.V1ClusterRoleBinding(
            metadata=k8s.V1ObjectMeta(name=CLUSTER_ROLE),
            role_ref=k8s.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=CLUSTER_ROLE
            ),
            subjects=[
                k8s.RbacV1Subject(
                    kind="ServiceAccount", name=SERVICE_ACCOUNT, namespace=SYSTEM_NAMESPACE
                )
            ],
        )
        with contextlib.suppress(k8s.ApiException):
            rbac.create_cluster_role_binding(binding)
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=4 * 3600)
        )
        token = core.create_namespaced_service_account_token(
            SERVICE_ACCOUNT, SYSTEM_NAMESPACE, request
        ).status.token
        if hasattr(kube_cluster, "kubeconfig_for_token"):
            path = kube_cluster.kubeconfig_for_token(token, name="kubesat-operator-sa")
        else:  # an existing cluster: its kubeconfig's cluster, the ServiceAccount's token
            config = yaml.safe_load(Path(kube_cluster.kubeconfig_path).read_text())
            context = next(c for c in config["contexts"] if c["name"] == config["current-context"])[
                "context"
            ]
            cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])
            path = tmp_path_factory.mktemp("sa") / "operator.kubeconfig"
            path.write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "clusters": [cluster],
                        "users": [{"name": "sa", "user": {"token": token}}],
                        "contexts": [
                            {"name": "sa", "context": {"cluster": cluster["name"], "user": "sa"}}
                        ],
                        "current-context": "sa",
                    }
                )
            )
        yield Path(path)
    finally:
        close_api_client(api)


# -- namespaces ------------------------------------------------------------------------


def _new_namespace(api: Any) -> str:
    name = f"kubesat-e2e-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(api).create_namespace(
        k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels={"kubesat.io/test": "e2e"}))
    )
    return name


def _drop_namespace(api: Any, name: str) -> None:
    """Delete the scenario's Constellations (while an operator still runs), then the rest."""
    custom, core = k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
    with contextlib.suppress(k8s.ApiException):
        custom.delete_collection_namespaced_custom_object(GROUP, VERSION, name, "constellations")
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(name)


@pytest.fixture(scope="module")
def e2e_namespace(kube_cluster: Any) -> Iterator[str]:
    api = kube_cluster.api_client()
    name = _new_namespace(api)
    try:
        yield name
    finally:
        _drop_namespace(api, name)
        close_api_client(api)


# -- the operator ----------------------------------------------------------------------


class Operator:
    """`kubesat operator` as a subprocess, with the ServiceAccount's kubeconfig; it watches
    `namespace`, or every namespace when that is empty (the chart's default)."""

    def __init__(self, kubeconfig: Path, namespace: str, log: Path, *extra: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log
        self.port = free_port()
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def start(self, timeout: float = 90.0) -> Operator:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "operator"), env.get("PYTHONPATH", "")])
        args = [
            sys.executable,
            "-m",
            "kubesat.cli",
            "operator",
            *(["--namespace", self.namespace] if self.namespace else ["--all-namespaces"]),
            "--kubeconfig",
            str(self.kubeconfig),
            "--liveness-port",
            str(self.port),
            *self.extra,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                cwd=REPO,
            )
        self.started_at = time.monotonic()
        wait_for("the operator's liveness endpoint", self.healthy, timeout=timeout)
        return self

    def healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"the operator exited with {self.process.returncode}:\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (Kopf stops gracefully: daemons persist their state), then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """SIGKILL: the operator dies without a word (what a restart test needs)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


class Operators:
    """Operators started for a test (or a module), and their orderly end."""

    def __init__(self, kubeconfig: Path, log_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.started: list[Operator] = []
        self.namespaces: set[str] = set()
        self.restarts: list[tuple[datetime, datetime]] = []

    def restarting(self, started: datetime, ended: datetime) -> None:
        """The API server was restarted between these local times: until its authorizer
        has loaded the roles again it refuses every request ("clusterrole ... not found"),
        which is no permission the operator lacks."""
        self.restarts.append((started, ended + AUTHORIZER_WARMUP))

    def _refusals(self, log: str) -> list[str]:
        """Log lines of refused requests, but those while the API server restarted (a line
        without a time of its own belongs to the record above it)."""
        refused = []
        when: datetime | None = None
        for line in log.splitlines():
            with contextlib.suppress(ValueError):
                when = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
            restarting = when is not None and any(a <= when <= b for a, b in self.restarts)
            if "orbidden" in line and not restarting:
                refused.append(line)
        return refused

    def start(self, namespace: str, *extra: str) -> Operator:
        log = self.log_dir / f"operator-{len(self.started)}.log"
        op = Operator(self.kubeconfig, namespace, log, *extra).start()
        self.started.append(op)
        self.namespaces.add(namespace)
        return op

    def close(self, kube_cluster: Any, show_logs: bool) -> None:
        """Delete the Constellations while an operator runs (their Nodes go too), stop the
        operators, remove what a killed operator left; fail on any RBAC refusal."""
        api = kube_cluster.api_client()
        try:
            custom, core = k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
            running = [op for op in self.started if op.process and op.process.poll() is None]
            for namespace in self.namespaces:
                with contextlib.suppress(k8s.ApiException):
                    custom.delete_collection_namespaced_custom_object(
                        GROUP, VERSION, namespace, "constellations"
                    )

            def gone() -> bool:
                return all(
                    not custom.list_namespaced_custom_object(GROUP, VERSION, ns, "constellations")[
                        "items"
                    ]
                    for ns in self.namespaces
                )

            if running:
                with contextlib.suppress(BaseException):
                    wait_for("the Constellations to be deleted", gone, timeout=60)
            for op in self.started:
                op.stop()
            for namespace in self.namespaces:
                selector = f"kubesat.io/namespace={namespace}"
                for node in core.list_node(label_selector=selector).items:
                    with contextlib.suppress(k8s.ApiException):
                        core.delete_node(node.metadata.name)
                items = custom.list_namespaced_custom_object(
                    GROUP, VERSION, namespace, "constellations"
                )["items"]
                for item in items:
                    with contextlib.suppress(k8s.ApiException):
                        custom.patch_namespaced_custom_object(
                            GROUP,
                            VERSION,
                            namespace,
                            "constellations",
                            item["metadata"]["name"],
                            {"metadata": {"finalizers": None}},
                        )
        finally:
            close_api_client(api)
        if show_logs:
            for op in self.started:
                print(f"----- operator log {op.log_path} -----\n{op.tail(300)}")
        refused = [line for op in self.started for line in self._refusals(op.log())]
        assert not refused, (
            "the operator made a request its ServiceAccount may not make:\n"
            + "\n".join(refused[:20])
        )


@pytest.fixture
def operators(
    operator_kubeconfig: Path, kube_cluster: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Operators]:
    """The test's operators; closed after the test's Constellations are gone."""
    group = Operators(operator_kubeconfig, tmp_path)
    yield group
    report = getattr(request.node, "rep_call", None)
    group.close(kube_cluster, show_logs=report is None or report.failed)


@pytest.fixture
def start_operator(operators: Operators) -> Callable[..., Operator]:
    """`start_operator(namespace, *flags)`; stopped after the test's Constellations are gone."""
    return operators.start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# -- manifests -------------------------------------------------------------------------


def constellation(
    name: str,
    *,
    planes: int = 1,
    per_plane: int = 2,
    phasing: int = 0,
    gpus: int = 4,
    gpu_power_w: float = 500.0,
    bus_power_w: float = 50.0,
    solar_w: float = 3000.0,
    battery_wh: float = 50.0,
    speedup: float = 120.0,
    step: float = 20.0,
    policy: str = "predictive",
    radiation: dict[str, Any] | None = None,
    start: str = "2026-11-24T00:00:00Z",
    orbits: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A small Walker-delta Constellation at 550 km, 53 degrees (radiation off by default)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Constellation",
        "metadata": {"name": name},
        "spec": {
            "orbits": orbits
            or {
                "walkerDelta": {
                    "altitudeKm": 550,
                    "inclinationDeg": 53,
                    "planes": planes,
                    "perPlane": per_plane,
                    "phasing": phasing,
                }
            },
            "hardware": {
                "gpusPerSatellite": gpus,
                "gpuPowerW": gpu_power_w,
                "busPowerW": bus_power_w,
                "solarArrayW": solar_w,
                "batteryWh": battery_wh,
            },
            "radiation": radiation or {"enabled": False},
            "clock": {"start": start, "speedup": speedup, "stepSeconds": step},
            "policy": policy,
        },
    }


def gpu_job(
    name: str,
    *,
    gpus: int = 4,
    work: float = 3600.0,
    interval: float = 300.0,
    write: float = 30.0,
    parallelism: int = 1,
    completions: int = 1,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A GPU Job for kubesat-scheduler that ignores disruptions (evictions, power, upsets)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "annotations": {
                "kubesat.io/work-gpu-seconds": str(work),
                "kubesat.io/checkpoint-interval-seconds": str(interval),
                "kubesat.io/checkpoint-write-seconds": str(write),
            },
        },
        "spec": {
            "completions": completions,
            "parallelism": parallelism,
            "backoffLimit": 50,
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            },
            "template": {
                "metadata": {"labels": labels or {"app": name}},
                "spec": {
                    "schedulerName": "kubesat-scheduler",
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 5,
                    "tolerations": [{"key": "kubesat.io/satellite", "operator": "Exists"}],
                    "containers": [
                        {
                            "name": "train",
                            "image": "registry.k8s.io/pause:3.10",
                            "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                        }
                    ],
                },
            },
        },
    }


class Cluster:
    """Typed API groups of an admin client, and a few reads the scenarios share."""

    def __init__(self, api: Any, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.core = k8s.CoreV1Api(api)
        self.batch = k8s.BatchV1Api(api)
        self.custom = k8s.CustomObjectsApi(api)
        self.policy = k8s.PolicyV1Api(api)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        kind = body["kind"]
        if kind == "Constellation":
            return self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "constellations", body
            )
        if kind == "Job":
            return self.batch.create_namespaced_job(self.namespace, body).to_dict()
        if kind == "PodDisruptionBudget":
            return self.policy.create_namespaced_pod_disruption_budget(
                self.namespace, body
            ).to_dict()
        raise ValueError(kind)

    def constellation(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "constellations", name
        )

    def satellites(self, constellation: str) -> list[dict[str, Any]]:
        items = self.custom.list_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            "satellites",
            label_selector=f"kubesat.io/constellation={constellation}",
        )["items"]
        return sorted(items, key=lambda s: s["metadata"]["name"])

    def nodes(self, constellation: str) -> list[Any]:
        selector = f"kubesat.io/constellation={constellation},kubesat.io/namespace={self.namespace}"
        return sorted(
            self.core.list_node(label_selector=selector).items, key=lambda n: n.metadata.name
        )

    def pods(self, job: str) -> list[Any]:
        items = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"job-name={job}"
        ).items
        return sorted(items, key=lambda p: p.metadata.creation_timestamp)

    def job(self, name: str) -> Any:
        return self.batch.read_namespaced_job(name, self.namespace)

    def progress(self, job: str) -> dict[str, Any]:
        import json

        text = (self.job(job).metadata.annotations or {}).get("kubesat.io/progress")
        return json.loads(text) if text else {}

    def events(self, name: str | None = None, reason: str | None = None) -> list[Any]:
        items = self.core.list_namespaced_event(self.namespace).items
        return [
            e
            for e in items
            if (name is None or e.involved_object.name == name)
            and (reason is None or e.reason == reason)
        ]

    def ready_nodes(self, constellation: str, count: int, timeout: float = 90.0) -> list[Any]:
        """Wait until the constellation has `count` Nodes, all Ready; return them."""

        def probe() -> list[Any]:
            nodes = self.nodes(constellation)
            return nodes if len(nodes) == count and all(map(node_ready, nodes)) else []

        return wait_for(f"{count} Ready nodes of {constellation}", probe, timeout=timeout)

    def final_progress(self, job: str, done: int, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the Job's progress annotation counts `done` finished units."""

        def probe() -> dict[str, Any]:
            progress = self.progress(job)
            return progress if progress.get("done") == done else {}

        return wait_for(f"{done} finished units of Job {job}", probe, timeout=timeout)

    def job_complete(self, name: str) -> bool:
        conditions = self.job(name).status.conditions or []
        return any(c.type == "Complete" and c.status == "True" for c in conditions)


def condition(node: Any, kind: str) -> Any:
    return next((c for c in node.status.conditions or [] if c.type == kind), None)


def node_ready(node: Any) -> bool:
    """Ready, and untainted by the node-lifecycle controller (a new node starts not-ready)."""
    ready = condition(node, "Ready")
    keys = {t.key for t in node.spec.taints or []}
    return (
        ready is not None
        and ready.status == "True"
        and not keys & {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
    )


@pytest.fixture
def admin(kube_cluster: Any) -> Iterator[Any]:
    api = kube_cluster.api_client()
    yield api
    close_api_client(api)
