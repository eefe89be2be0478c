"""The Helm chart with a real `helm`, rendered and installed into the real control plane.

- `helm lint --strict` and `helm template --kube-version` with the default values and with
  every optional feature on; the rendered objects hold what the chart promises (security
  context, probes, single replica, RBAC equal to CLUSTER_RULES, ServiceMonitor selecting
  the metrics Service, the alerts and dashboards copied byte for byte);
- values.schema.json refuses bad values with a message naming the field;
- `helm install` (no --wait: there is no kubelet, the operator pod stays Pending): CRDs
  established, the objects and RBAC as declared, the pod admitted by the "restricted" Pod
  Security Standard;
- the chart's ServiceAccount is allowed every (group, resource, verb) of CLUSTER_RULES and
  nothing else: SubjectAccessReviews (`kubectl auth can-i`) for each granted triple and a
  sample of others, and a SelfSubjectRulesReview with the account's own token whose rules,
  less those of any authenticated user, are exactly CLUSTER_RULES;
- `helm upgrade` changes the objects, and `helm uninstall` leaves nothing but the CRDs.

helm comes from $KUBESAT_HELM, the control-plane build (`make controlplane` builds it
from pinned Go modules) or PATH. Without it the tests skip, except under CI=true.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tests.support.controlplane import (
    BinariesMissingError,
    close_api_client,
    find_bin_dir,
    pinned_versions,
)
from tests.support.prerequisites import missing
from tests.support.waiting import wait_for

pytestmark = pytest.mark.helm

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kubesat"
ALL_FEATURES = CHART / "ci" / "all-features-values.yaml"
CRD_NAMES = (
    "constellations.kubesat.io",
    "groundstations.kubesat.io",
    "satellites.kubesat.io",
)
KUBE_VERSION = pinned_versions()["kubernetes"]

Rule = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)
CLUSTER_RULES = runpy.run_path(str(ROOT / "operator" / "kubesat" / "k8s" / "permissions.py"))[
    "CLUSTER_RULES"
]
GRANTED: frozenset[Rule] = frozenset(
    (group, resource, verb)
    for group, resources, verbs in CLUSTER_RULES
    for resource in resources
    for verb in verbs
)
STANDARD_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
#: Permissions the operator must not have (beyond every verb not granted on its resources).
#: (It creates pods: kubesat's Job controller makes the pods of Jobs it manages.)
DENIED_SAMPLE: tuple[Rule, ...] = (
    ("", "secrets", "get"),
    ("", "secrets", "list"),
    ("", "configmaps", "list"),
    ("", "pods", "update"),
    ("", "pods/exec", "create"),
    ("", "pods/log", "get"),
    ("", "nodes/proxy", "get"),
    ("", "serviceaccounts", "create"),
    ("", "serviceaccounts/token", "create"),
    ("", "namespaces", "create"),
    ("", "namespaces", "delete"),
    ("", "services", "create"),
    ("", "persistentvolumes", "list"),
    ("apps", "deployments", "get"),
    ("apps", "deployments", "create"),
    ("apps", "daemonsets", "list"),
    ("batch", "jobs", "create"),
    ("batch", "jobs", "delete"),
    ("batch", "cronjobs", "list"),
    ("policy", "poddisruptionbudgets", "create"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "create"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "update"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "delete"),
    ("rbac.authorization.k8s.io", "clusterroles", "create"),
    ("rbac.authorization.k8s.io", "clusterroles", "escalate"),
    ("rbac.authorization.k8s.io", "clusterrolebindings", "create"),
    ("rbac.authorization.k8s.io", "roles", "bind"),
    ("", "users", "impersonate"),
    ("", "serviceaccounts", "impersonate"),
    ("certificates.k8s.io", "certificatesigningrequests", "create"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "create"),
    ("kubesat.io", "constellations", "*"),
    ("", "nodes", "*"),
    ("*", "*", "*"),
    ("", "*", "get"),
)


# -- helm -----------------------------------------------------------------------------


def find_helm() -> Path | None:
    """$KUBESAT_HELM, the control-plane build's helm, or helm on PATH."""
    env = os.environ.get("KUBESAT_HELM")
    if env:
        return Path(env)
    try:
        built = find_bin_dir(build=False) / "helm"
    except (BinariesMissingError, subprocess.CalledProcessError, OSError):
        built = None
    if built is not None and os.access(built, os.X_OK):
        return built
    on_path = shutil.which("helm")
    return Path(on_path) if on_path else None


@dataclass
class Helm:
    """A helm binary with its own config, cache and data dirs (no user repositories)."""

    binary: Path
    home: Path
    kubeconfig: Path | None = None

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        env.pop("KUBECONFIG", None)
        command = [str(self.binary), *args]
        if self.kubeconfig is not None:
            command += ["--kubeconfig", str(self.kubeconfig)]
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, check=False, timeout=120
        )
        if check and result.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def template(self, *args: str, chart: Path = CHART) -> list[dict[str, Any]]:
        out = self.run(
            "template", "kubesat", str(chart), "--namespace", "kubesat-system",
            "--kube-version", KUBE_VERSION, *args,
        ).stdout  # fmt: skip
        return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    binary = find_helm()
    if binary is None or not os.access(binary, os.X_OK):
        missing("no helm binary: run `make controlplane` (builds helm) or set KUBESAT_HELM")
    return Helm(binary, tmp_path_factory.mktemp("helm-home"))


def have_real_assets() -> bool:
    return (
        bool(list((CHART / "files" / "dashboards").glob("*.json")))
        and (CHART / "files" / "alerts" / "kubesat-rules.yaml").is_file()
    )


SYNTHETIC_DASHBOARD = '{"title": "Fleet {{ not templated }}",\n  "panels": []}\n'
SYNTHETIC_RULES = """\
# A comment that must survive.
groups:
  - name: kubesat-synthetic
    rules:
      - alert: KubesatSyntheticDark
        expr: kubesat_power_available == 0
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: "Satellite {{ $labels.satellite }} is dark"
"""


def chart_copy_with_synthetic_assets(dest: Path) -> Path:
    """The chart with a dashboard of awkward name and rules with Go-template text."""
    chart = dest / "kubesat"
    shutil.copytree(CHART, chart)
    for sub in ("files/dashboards", "files/alerts"):
        shutil.rmtree(chart / sub, ignore_errors=True)
        (chart / sub).mkdir(parents=True)
    (chart / "files" / "dashboards" / "Kubesat_Fleet.v2.json").write_text(SYNTHETIC_DASHBOARD)
    (chart / "files" / "alerts" / "kubesat-rules.yaml").write_text(SYNTHETIC_RULES)
    return chart


@pytest.fixture(scope="session")
def full_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real chart when deploy/ has dashboards and alerts, else a copy with stand-ins."""
    if have_real_assets():
        return CHART
    return chart_copy_with_synthetic_assets(tmp_path_factory.mktemp("chart"))


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def expected_rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}
        for group, resources, verbs in CLUSTER_RULES
    ]


# -- lint and template ----------------------------------------------------------------


@pytest.mark.parametrize("features", ["default", "all-features"])
def test_lint_strict(helm: Helm, full_chart: Path, features: str):
    args = ["-f", str(ALL_FEATURES)] if features == "all-features" else []
    result = helm.run("lint", "--strict", "--kube-version", KUBE_VERSION, str(full_chart), *args)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_default_render(helm: Helm):
    docs = helm.template()
    assert sorted(d["kind"] for d in docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ServiceAccount",
    ]
    for doc in docs:
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "kubesat"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"

    deployment = one(docs, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sa = one(docs, "ServiceAccount")
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    (container,) = pod["containers"]
    assert container["image"] == "kubesat:0.1.0"
    assert container["args"] == [
        "operator", "--all-namespaces", "--liveness-port", "8080", "--metrics-port", "9090",
        "--max-satellites", "5000",
    ]  # fmt: skip
    for init_or_main in [*pod["initContainers"], container]:
        security = init_or_main["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"healthz": 8080, "metrics": 9090}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/tmp", "/var/cache/kubesat"} <= mounts
    expressions = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert expressions["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kubesat.io/satellite", "operator": "DoesNotExist"}
    ]

    service = one(docs, "Service")
    pod_labels = spec["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]

    binding = one(docs, "ClusterRoleBinding")
    role = one(docs, "ClusterRole")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "kubesat-system"}
    ]


def test_rendered_cluster_role_equals_permissions(helm: Helm):
    role = one(helm.template(), "ClusterRole")
    assert role["rules"] == expected_rules()
    assert "*" not in json.dumps(role["rules"])


def test_include_crds_renders_crds_identical_to_the_source(helm: Helm):
    docs = by_kind(helm.template("--include-crds"), "CustomResourceDefinition")
    source = {
        doc["metadata"]["name"]: doc
        for path in sorted((ROOT / "crds").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    }
    assert {d["metadata"]["name"]: d for d in docs} == source


def test_all_features_render(helm: Helm, full_chart: Path):
    docs = helm.template("-f", str(ALL_FEATURES), chart=full_chart)
    service = one(docs, "Service")
    monitor = one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["kubesat-system"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"

    rule = one(docs, "PrometheusRule")
    alerts = (full_chart / "files" / "alerts" / "kubesat-rules.yaml").read_text()
    assert rule["spec"] == yaml.safe_load(alerts)

    dashboards = sorted((full_chart / "files" / "dashboards").glob("*.json"))
    maps = by_kind(docs, "ConfigMap")
    assert len(maps) == len(dashboards) > 0
    for config_map, path in zip(
        sorted(maps, key=lambda m: next(iter(m["data"]))), dashboards, strict=True
    ):
        assert config_map["data"] == {path.name: path.read_text()}, "dashboard copied verbatim"
        json.loads(config_map["data"][path.name])
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["annotations"] == {"grafana_folder": "kubesat"}
        name = config_map["metadata"]["name"]
        assert len(name) <= 63 and name == name.lower() and "_" not in name

    deployment = one(docs, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("kubesat@sha256:")
    assert container["args"][:5] == [
        "operator", "--namespace", "default", "--namespace", "kubesat-jobs",
    ]  # fmt: skip
    assert "--all-namespaces" not in container["args"]
    assert container["args"][-1] == "--verbose"
    for doc in docs:
        assert doc["metadata"]["labels"]["team"] == "orbital"


def test_assets_are_copied_verbatim_and_never_templated(helm: Helm, tmp_path: Path):
    """Go-template text in alerts ({{ $labels }}) and dashboards reaches the cluster as is."""
    chart = chart_copy_with_synthetic_assets(tmp_path)
    docs = helm.template(
        "--set", "prometheusRule.enabled=true", "--set", "dashboards.enabled=true", chart=chart
    )
    (config_map,) = by_kind(docs, "ConfigMap")
    assert config_map["metadata"]["name"] == "kubesat-dashboard-kubesat-fleet-v2"
    assert config_map["data"] == {"Kubesat_Fleet.v2.json": SYNTHETIC_DASHBOARD}
    rule = one(docs, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(SYNTHETIC_RULES)
    summary = rule["spec"]["groups"][0]["rules"][0]["annotations"]["summary"]
    assert summary == "Satellite {{ $labels.satellite }} is dark"


def test_rendered_rules_pass_promtool(helm: Helm, full_chart: Path, tmp_path: Path):
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("promtool is not installed (apt-get install prometheus)")
    rule = one(
        helm.template("--set", "prometheusRule.enabled=true", chart=full_chart), "PrometheusRule"
    )
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(rule["spec"]))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_watch_namespaces(helm: Helm):
    docs = helm.template("--set", "watchNamespaces={team-a,team-b}")
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [
        "operator", "--namespace", "team-a", "--namespace", "team-b",
        "--liveness-port", "8080", "--metrics-port", "9090", "--max-satellites", "5000",
    ]  # fmt: skip


def test_optional_objects_need_their_files(helm: Helm, tmp_path: Path):
    """Features on without their files fail with the fix in the message."""
    chart = tmp_path / "kubesat"
    shutil.copytree(CHART, chart)
    shutil.rmtree(chart / "files" / "dashboards", ignore_errors=True)
    shutil.rmtree(chart / "files" / "alerts", ignore_errors=True)
    for feature in ("dashboards.enabled=true", "prometheusRule.enabled=true"):
        result = helm.run("template", "x", str(chart), "--set", feature, check=False)
        assert result.returncode != 0
        assert "make chart-sync" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "replicas=2"], "at '/replicas': maximum: got 2, want 1"),
        (["--set", "replicas=-1"], "at '/replicas': minimum: got -1, want 0"),
        (["--set", "image.pullPolicy=Sometimes"], "at '/image/pullPolicy': value must be one of"),
        (["--set", "replicaCount=1"], "additional properties 'replicaCount' not allowed"),
        (["--set", "image.tga=v1"], "at '/image': additional properties 'tga' not allowed"),
        (["--set", "ports.metrics=80"], "at '/ports/metrics': minimum: got 80, want 1"),
        (["--set", "maxSatellites=0"], "at '/maxSatellites': minimum: got 0, want 1"),
        (["--set", "serviceMonitor.interval=soon"], "at '/serviceMonitor/interval'"),
        (["--set", "serviceMonitor.enabled=yes"], "at '/serviceMonitor/enabled': got string"),
        (["--set", "watchNamespaces={Team_A}"], "at '/watchNamespaces/0'"),
        (["--set", "image.digest=sha256:abc"], "at '/image/digest'"),
        (["--set", "service.type=ExternalName"], "at '/service/type'"),
        (["--set", "probes.liveness.periodSeconds=0"], "at '/probes/liveness/periodSeconds'"),
        (
            ["--set", "commonLabels.app\\.kubernetes\\.io/name=x"],
            "at '/commonLabels/app.kubernetes.io~1name'",
        ),
        (["--set", "ports.liveness=9090"], "ports.liveness and ports.metrics: must differ"),
        (
            ["--set", "serviceAccount.create=false"],
            "serviceAccount.name: must name an existing ServiceAccount",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_field(helm: Helm, args: list[str], expected: str):
    result = helm.run(
        "template", "kubesat", str(CHART), "--kube-version", KUBE_VERSION, *args, check=False
    )
    assert result.returncode != 0, f"{args} accepted"
    assert expected in result.stderr, result.stderr


# -- install into the real control plane ----------------------------------------------


@dataclass
class Release:
    name: str
    namespace: str
    helm: Helm
    chart: Path

    @property
    def fullname(self) -> str:
        return f"{self.name}-kubesat"

    @property
    def cluster_name(self) -> str:
        return f"{self.fullname}-{self.namespace}"

    @property
    def service_account(self) -> str:
        return self.fullname

    @property
    def selector(self) -> str:
        return f"app.kubernetes.io/instance={self.name},app.kubernetes.io/managed-by=Helm"

    def install(self, *args: str) -> None:
        self.helm.run("install", self.name, str(self.chart), "--namespace", self.namespace, *args)

    def upgrade(self, *args: str) -> None:
        self.helm.run("upgrade", self.name, str(self.chart), "--namespace", self.namespace, *args)

    def uninstall(self, check: bool = True) -> None:
        self.helm.run("uninstall", self.name, "--namespace", self.namespace, check=check)


@pytest.fixture
def release(
    helm: Helm, kube_cluster: Any, kube_api: Any, namespace: str, full_chart: Path
) -> Iterator[Release]:
    """An installed release in a fresh namespace that enforces the restricted PSS.

    Dashboards on; ServiceMonitor and PrometheusRule off (their CRDs belong to the
    Prometheus Operator, absent here). Uninstalled afterwards.
    """
    k8s.CoreV1Api(kube_api).patch_namespace(
        namespace,
        {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
    )
    cluster_helm = Helm(helm.binary, helm.home, Path(kube_cluster.kubeconfig_path))
    rel = Release(f"kst-{uuid.uuid4().hex[:6]}", namespace, cluster_helm, full_chart)
    started = time.monotonic()
    rel.install("--set", "dashboards.enabled=true")
    print(f"helm install: {time.monotonic() - started:.2f}s")
    yield rel
    rel.uninstall(check=False)


def crd_established(api: Any, name: str) -> bool:
    crd = k8s.ApiextensionsV1Api(api).read_custom_resource_definition(name)
    state = {c.type: c.status for c in crd.status.conditions or []}
    return state.get("Established") == "True" and state.get("NamesAccepted") == "True"


def api_rules(rules: list[Any]) -> list[dict[str, Any]]:
    return [{"apiGroups": r.api_groups, "resources": r.resources, "verbs": r.verbs} for r in rules]


@pytest.mark.controlplane
def test_install_creates_the_declared_objects(release: Release, kube_api: Any):
    for name in CRD_NAMES:
        wait_for(f"CRD {name} Established", lambda name=name: crd_established(kube_api, name))

    rbac = k8s.RbacAuthorizationV1Api(kube_api)
    role = rbac.read_cluster_role(release.cluster_name)
    assert api_rules(role.rules) == expected_rules()
    binding = rbac.read_cluster_role_binding(release.cluster_name)
    assert (binding.role_ref.kind, binding.role_ref.name) == ("ClusterRole", release.cluster_name)
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [
        ("ServiceAccount", release.service_account, release.namespace)
    ]

    core = k8s.CoreV1Api(kube_api)
    apps = k8s.AppsV1Api(kube_api)
    core.read_namespaced_service_account(release.service_account, release.namespace)
    service = core.read_namespaced_service(f"{release.fullname}-metrics", release.namespace)
    assert [(p.name, p.port) for p in service.spec.ports] == [("metrics", 9090)]
    deployment = apps.read_namespaced_deployment(release.fullname, release.namespace)
    assert deployment.spec.replicas == 1
    assert deployment.spec.strategy.type == "Recreate"
    dashboards = core.list_namespaced_config_map(
        release.namespace, label_selector="grafana_dashboard=1"
    ).items
    assert len(dashboards) == len(list((release.chart / "files" / "dashboards").glob("*.json")))

    # No kubelet here: the pod stays Pending, but the ReplicaSet controller must be able
    # to create it in a namespace that enforces the "restricted" Pod Security Standard.
    selector = "app.kubernetes.io/component=operator," + release.selector
    pods = wait_for(
        "the operator pod to be created",
        lambda: core.list_namespaced_pod(release.namespace, label_selector=selector).items,
        timeout=30,
    )
    assert len(pods) == 1
    assert pods[0].spec.service_account_name == release.service_account
    for rs in apps.list_namespaced_replica_set(release.namespace, label_selector=selector).items:
        failures = [c.message for c in rs.status.conditions or [] if c.type == "ReplicaFailure"]
        assert not failures, failures


def can_i(api: Any, user: str, namespace: str, rule: Rule) -> bool:
    """A SubjectAccessReview: may ``user`` (a service account) do ``rule``?"""
    group, resource, verb = rule
    resource, _, subresource = resource.partition("/")
    review = k8s.V1SubjectAccessReview(
        spec=k8s.V1SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
            resource_attributes=k8s.V1ResourceAttributes(
                group=group,
                resource=resource,
                subresource=subresource or None,
                verb=verb,
                namespace=namespace or None,
            ),
        )
    )
    result = k8s.AuthorizationV1Api(api).create_subject_access_review(review)
    return bool(result.status.allowed)


def denied_rules() -> list[Rule]:
    """Every standard verb not granted on the operator's resources, plus DENIED_SAMPLE."""
    resources = {(group, resource) for group, resource, _ in GRANTED}
    ungranted = [
        (group, resource, verb)
        for group, resource in sorted(resources)
        for verb in STANDARD_VERBS
        if (group, resource, verb) not in GRANTED
    ]
    return ungranted + list(DENIED_SAMPLE)


@pytest.mark.controlplane
def test_service_account_may_do_exactly_what_the_operator_needs(release: Release, kube_api: Any):
    user = f"system:serviceaccount:{release.namespace}:{release.service_account}"
    refused = [
        (ns or "<all namespaces>", rule)
        for rule in sorted(GRANTED)
        for ns in ("", release.namespace)
        if not can_i(kube_api, user, ns, rule)
    ]
    assert not refused, f"needed but not granted: {refused}"
    allowed = [
        (ns or "<all namespaces>", rule)
        for rule in denied_rules()
        for ns in ("", release.namespace)
        if can_i(kube_api, user, ns, rule)
    ]
    assert not allowed, f"granted beyond what the operator needs: {allowed}"
    print(f"{len(GRANTED)} granted and {len(denied_rules())} refused triples checked x 2")


def client_for_token(kube_cluster: Any, token: str) -> Any:
    """An ApiClient that authenticates with ``token`` against ``kube_cluster``."""
    if hasattr(kube_cluster, "api_client_for_token"):
        return kube_cluster.api_client_for_token(token)
    from kubernetes import config

    cfg = k8s.Configuration()
    config.load_kube_config(config_file=str(kube_cluster.kubeconfig_path), client_configuration=cfg)
    cfg.cert_file = cfg.key_file = None
    cfg.username = cfg.password = None
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    return k8s.ApiClient(cfg)


def service_account_token(api: Any, namespace: str, name: str) -> str:
    request = k8s.AuthenticationV1TokenRequest(
        spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
    )
    response = k8s.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, request)
    return response.status.token


def resource_rule_triples(api: Any, namespace: str) -> set[Rule]:
    """The resource rules of the caller in ``namespace`` (SelfSubjectRulesReview)."""
    review = k8s.V1SelfSubjectRulesReview(
        spec=k8s.V1SelfSubjectRulesReviewSpec(namespace=namespace)
    )
    status = k8s.AuthorizationV1Api(api).create_self_subject_rules_review(review).status
    return {
        (group, resource, verb)
        for rule in status.resource_rules
        if not rule.resource_names
        for group in rule.api_groups or [""]
        for resource in rule.resources or []
        for verb in rule.verbs
    }


@pytest.mark.controlplane
def test_service_account_token_sees_exactly_cluster_rules(
    release: Release, kube_cluster: Any, kube_api: Any, kube_nobody_api: Any
):
    """With its own token, the account's rules less any authenticated user's are CLUSTER_RULES."""
    token = service_account_token(kube_api, release.namespace, release.service_account)
    operator_api = client_for_token(kube_cluster, token)
    try:
        who = k8s.AuthenticationV1Api(operator_api).create_self_subject_review(
            k8s.V1SelfSubjectReview()
        )
        assert who.status.user_info.username == (
            f"system:serviceaccount:{release.namespace}:{release.service_account}"
        )
        mine = resource_rule_triples(operator_api, release.namespace)
    finally:
        close_api_client(operator_api)
    everyone = resource_rule_triples(kube_nobody_api, release.namespace)
    assert mine - everyone == GRANTED
    assert not any("*" in part for rule in mine - everyone for part in rule)


def leftovers(api: Any, release: Release) -> dict[str, list[str]]:
    """Objects that still carry the release's labels, by kind."""
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    rbac = k8s.RbacAuthorizationV1Api(api)
    ns, selector = release.namespace, release.selector
    found = {
        "ClusterRole": rbac.list_cluster_role(label_selector=selector).items,
        "ClusterRoleBinding": rbac.list_cluster_role_binding(label_selector=selector).items,
        "ServiceAccount": core.list_namespaced_service_account(ns, label_selector=selector).items,
        "Deployment": apps.list_namespaced_deployment(ns, label_selector=selector).items,
        "ReplicaSet": apps.list_namespaced_replica_set(ns, label_selector=selector).items,
        "Pod": core.list_namespaced_pod(ns, label_selector=selector).items,
        "Service": core.list_namespaced_service(ns, label_selector=selector).items,
        "ConfigMap": core.list_config_map_for_all_namespaces(label_selector=selector).items,
        # Helm's release records.
        "Secret": core.list_namespaced_secret(
            ns, label_selector=f"owner=helm,name={release.name}"
        ).items,
    }
    return {kind: [o.metadata.name for o in items] for kind, items in found.items() if items}


@pytest.mark.controlplane
def test_upgrade_then_uninstall_leaves_only_the_crds(release: Release, kube_api: Any):
    core, apps = k8s.CoreV1Api(kube_api), k8s.AppsV1Api(kube_api)
    assert leftovers(kube_api, release).keys() >= {
        "ClusterRole", "ClusterRoleBinding", "ServiceAccount", "Deployment", "Service",
        "ConfigMap", "Secret",
    }  # fmt: skip

    started = time.monotonic()
    release.upgrade(
        "--reuse-values",
        "--set", f"watchNamespaces={{{release.namespace}}}",
        "--set", "resources.limits.memory=768Mi",
        "--set", "dashboards.enabled=false",
    )  # fmt: skip
    print(f"helm upgrade: {time.monotonic() - started:.2f}s")
    deployment = apps.read_namespaced_deployment(release.fullname, release.namespace)
    (container,) = deployment.spec.template.spec.containers
    assert container.args[:3] == ["operator", "--namespace", release.namespace]
    assert container.resources.limits["memory"] == "768Mi"
    maps = core.list_namespaced_config_map(release.namespace, label_selector=release.selector)
    assert not maps.items, "dashboards turned off: their ConfigMaps are removed"
    history = json.loads(
        release.helm.run("history", release.name, "-n", release.namespace, "-o", "json").stdout
    )
    assert [h["revision"] for h in history] == [1, 2]

    started = time.monotonic()
    release.uninstall()
    print(f"helm uninstall: {time.monotonic() - started:.2f}s")
    # The garbage collector removes the ReplicaSet and pod after their Deployment.
    wait_for("nothing of the release left", lambda: not leftovers(kube_api, release), timeout=60)
    for name in CRD_NAMES:
        assert crd_established(kube_api, name), f"helm keeps CRDs: {name} must remain"
