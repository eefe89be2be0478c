"""The packaging files, checked without helm, Docker or a cluster.

- the chart's copies (crds/, dashboards, alerts, RBAC rules) equal their sources, as
  `make verify` (deploy/sync-chart-assets.sh --check) says;
- Chart.yaml's appVersion is the package version; every chart-defined key of values.yaml
  has a comment and a schema entry with a description, and the schema refuses unknown keys;
- the Dockerfile is multi-stage on an exactly pinned base, runs as the uid the chart
  expects, with the ports and cache path the chart uses; .dockerignore is an allow-list;
- the kind config pins its node image by digest; the monitoring values make Prometheus
  and Grafana pick up what the chart creates; the shell scripts pass shellcheck.

helm renders and installs the chart in tests/integration/test_chart.py.
"""

from __future__ import annotations

import filecmp
import json
import re
import runpy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prerequisites import missing

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kubesat"
PERMISSIONS = ROOT / "operator" / "kubesat" / "k8s" / "permissions.py"
SYNC = ROOT / "deploy" / "sync-chart-assets.sh"
DOCKERFILE = ROOT / "Dockerfile"
SHELL_SCRIPTS = [
    SYNC,
    ROOT / "deploy" / "kind" / "up.sh",
    ROOT / "deploy" / "kind" / "down.sh",
    ROOT / "deploy" / "install-system-packages.sh",
    ROOT / ".ci" / "run",
]


def cluster_rules() -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """CLUSTER_RULES, loaded by path (no Kopf or Kubernetes client needed)."""
    return runpy.run_path(str(PERMISSIONS))["CLUSTER_RULES"]


def load_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def load_schema() -> dict[str, Any]:
    return json.loads((CHART / "values.schema.json").read_text())


# -- generated copies ------------------------------------------------------------------


def test_sync_check_passes():
    """`make verify`: the chart's copies are what deploy/sync-chart-assets.sh makes."""
    result = subprocess.run(
        ["bash", str(SYNC), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr + "\nrun `make chart-sync`"


def test_sync_check_detects_a_stale_copy(tmp_path: Path):
    """--check fails, naming the file, when a copy differs; the sync then repairs it."""
    root = tmp_path / "repo"
    for part in ("crds", "deploy", "operator/kubesat/k8s"):
        shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(CHART, root / "charts" / "kubesat")
    stale = root / "charts" / "kubesat" / "crds" / "satellites.kubesat.io.yaml"
    stale.write_text(stale.read_text() + "# edited by hand\n")
    (root / "charts" / "kubesat" / "crds" / "old.kubesat.io.yaml").write_text("kind: Old\n")
    script = root / "deploy" / "sync-chart-assets.sh"

    check = subprocess.run(["bash", script, "--check"], capture_output=True, text=True)
    assert check.returncode == 1
    assert "satellites.kubesat.io.yaml" in check.stderr
    assert "old.kubesat.io.yaml" in check.stderr
    assert "make chart-sync" in check.stderr

    subprocess.run(["bash", script], check=True, capture_output=True)
    recheck = subprocess.run(["bash", script, "--check"], capture_output=True, text=True)
    assert recheck.returncode == 0, recheck.stderr
    assert not (root / "charts" / "kubesat" / "crds" / "old.kubesat.io.yaml").exists()


@pytest.mark.parametrize(
    ("source", "pattern", "copy"),
    [
        ("crds", "*.yaml", "crds"),
        ("deploy/dashboards", "*.json", "files/dashboards"),
        ("deploy/alerts", "kubesat-rules.yaml", "files/alerts"),
    ],
)
def test_chart_copies_equal_sources(source: str, pattern: str, copy: str):
    sources = sorted(p.name for p in (ROOT / source).glob(pattern))
    copies = sorted(p.name for p in (CHART / copy).glob(pattern))
    assert copies == sources, f"charts/kubesat/{copy} vs {source}: run `make chart-sync`"
    for name in sources:
        assert filecmp.cmp(ROOT / source / name, CHART / copy / name, shallow=False), (
            f"charts/kubesat/{copy}/{name} differs from {source}/{name}: run `make chart-sync`"
        )


def test_chart_crds_present():
    assert sorted(p.name for p in (CHART / "crds").glob("*.yaml")) == [
        "constellations.kubesat.io.yaml",
        "groundstations.kubesat.io.yaml",
        "satellites.kubesat.io.yaml",
    ]


def test_rbac_rules_file_equals_permissions():
    rules = yaml.safe_load((CHART / "files" / "rbac" / "cluster-rules.yaml").read_text())
    expected = [
        {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}
        for group, resources, verbs in cluster_rules()
    ]
    assert rules == expected, "run `make chart-sync`"
    flat = json.dumps(rules)
    assert "*" not in flat, "no wildcard in the operator's RBAC"


# -- Chart.yaml, values.yaml, values.schema.json ---------------------------------------


def test_chart_metadata():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)
    assert version is not None
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "kubesat"
    assert chart["type"] == "application"
    assert chart["appVersion"] == version.group(1) == "0.1.0"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])


def _declared(schema: dict[str, Any]) -> dict[str, Any]:
    """Properties the chart itself declares (free-form Kubernetes objects have none)."""
    return schema.get("properties", {})


def test_values_and_schema_declare_the_same_keys():
    def walk(values: dict[str, Any], schema: dict[str, Any], path: str) -> None:
        declared = _declared(schema)
        if not declared:
            return
        assert set(values) == set(declared), (
            f"{path or 'top level'}: values.yaml has {sorted(values)}, "
            f"values.schema.json declares {sorted(declared)}"
        )
        for key, sub in declared.items():
            if isinstance(values[key], dict):
                walk(values[key], sub, f"{path}.{key}".lstrip("."))

    walk(load_values(), load_schema(), "")


def test_schema_refuses_unknown_keys_and_documents_every_property():
    schema = load_schema()
    assert schema["additionalProperties"] is False
    assert "global" in schema["properties"], "a subchart receives `global`: accept it"
    missing = []

    def walk(node: dict[str, Any], path: str) -> None:
        for key, sub in node.get("properties", {}).items():
            if not sub.get("description"):
                missing.append(f"{path}{key}")
            if sub.get("properties"):
                assert sub.get("additionalProperties") is False, f"{path}{key}: closed object"
            walk(sub, f"{path}{key}.")

    walk(schema, "")
    assert not missing, f"schema properties without a description: {missing}"
    replicas = schema["properties"]["replicas"]
    assert (replicas["minimum"], replicas["maximum"]) == (0, 1)
    assert schema["properties"]["image"]["properties"]["pullPolicy"]["enum"] == [
        "Always",
        "IfNotPresent",
        "Never",
    ]


def test_every_chart_defined_value_has_a_comment():
    """Each key the chart declares has a comment on the line above (or on its line)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    schema = load_schema()
    stack: list[tuple[int, dict[str, Any] | None]] = [(-1, schema)]
    undocumented = []
    for number, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        node = _declared(parent).get(key) if parent else None
        stack.append((indent, node))
        if node is None:
            continue  # inside a free-form Kubernetes object (affinity, securityContext...)
        previous = lines[number - 1].strip() if number else ""
        if not previous.startswith("#") and "#" not in line:
            undocumented.append(f"values.yaml:{number + 1}: {key}")
    assert not undocumented, "keys without a comment:\n" + "\n".join(undocumented)


def test_default_values_are_secure():
    values = load_values()
    assert values["replicas"] == 1
    pod, container = values["podSecurityContext"], values["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert values["resources"]["requests"] and values["resources"]["limits"]["memory"]
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert {"key": "kubesat.io/satellite", "operator": "DoesNotExist"} in (
        terms["nodeSelectorTerms"][0]["matchExpressions"]
    ), "the operator must never be scheduled onto a simulated satellite"


# -- Dockerfile, .dockerignore ---------------------------------------------------------


def dockerfile_stages() -> list[list[str]]:
    """Instructions per stage (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multistage_on_a_pinned_base():
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base.group(1))
    stages = dockerfile_stages()
    assert len(stages) >= 2
    assert all(stage[0].startswith("FROM ${PYTHON_IMAGE}") for stage in stages)
    assert "latest" not in text
    assert not re.search(r"^ADD\s+https?://", text, re.MULTILINE)
    assert re.search(r"pip install[^\n]*'\.\[operator\]'", text)


def test_dockerfile_runtime_matches_the_chart():
    values = load_values()
    final = dockerfile_stages()[-1]
    user = [line.split()[1] for line in final if line.startswith("USER ")]
    assert user, "the runtime stage must set USER"
    uid, _, gid = user[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric non-root uid (runAsNonRoot can check it)"
    assert int(uid) == values["podSecurityContext"]["runAsUser"]
    assert int(gid) == values["podSecurityContext"]["runAsGroup"]
    assert 'ENTRYPOINT ["kubesat"]' in final
    exposed = {int(p) for line in final if line.startswith("EXPOSE ") for p in line.split()[1:]}
    assert exposed == {values["ports"]["liveness"], values["ports"]["metrics"]}
    cmd = next(line for line in final if line.startswith("CMD "))
    assert json.loads(cmd[4:]) == [
        "operator",
        "--all-namespaces",
        "--liveness-port",
        str(values["ports"]["liveness"]),
        "--metrics-port",
        str(values["ports"]["metrics"]),
    ]
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert "/opt/kubesat/cache/." in deployment, "the init container seeds from the image cache"
    assert any("/opt/kubesat/cache" in line for line in final)


def test_dockerfile_bakes_the_ap8_grids_and_belt_masks_with_an_existing_api():
    from kubesat.core.radiation import ProtonFluxGrid

    assert callable(ProtonFluxGrid.load_or_build) and callable(ProtonFluxGrid.belt_cells)
    baked = "ProtonFluxGrid.load_or_build(s).belt_cells() for s in ('min', 'max')"
    assert baked in DOCKERFILE.read_text()


def test_dockerignore_is_an_allow_list():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "exclude everything, then allow what the build copies"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "operator"}
    assert "**/__pycache__" in patterns


# -- kind, monitoring values, scripts, Makefile ----------------------------------------


def test_kind_config_pins_the_node_image_by_digest():
    config = yaml.safe_load((ROOT / "deploy" / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    images = [node["image"] for node in config["nodes"]]
    assert images
    for image in images:
        assert re.fullmatch(r"kindest/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}", image), image


def test_monitoring_values_pick_up_the_chart():
    monitoring = yaml.safe_load((ROOT / "deploy" / "kind" / "monitoring-values.yaml").read_text())
    spec = monitoring["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    sidecar = monitoring["grafana"]["sidecar"]["dashboards"]
    dashboards = load_values()["dashboards"]
    assert sidecar["enabled"] is True
    assert sidecar["label"] == dashboards["label"]
    assert sidecar["labelValue"] == dashboards["labelValue"]
    assert sidecar["folderAnnotation"] == dashboards["folderAnnotation"]
    assert sidecar["searchNamespace"] == "ALL"
    exporter = monitoring["prometheus-node-exporter"]["affinity"]["nodeAffinity"]
    terms = exporter["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "kubesat.io/satellite", "operator": "DoesNotExist"} in (
        terms[0]["matchExpressions"]
    ), "node-exporter (a DaemonSet) must not land on simulated satellites"


def test_kind_up_pins_the_monitoring_chart():
    text = (ROOT / "deploy" / "kind" / "up.sh").read_text()
    match = re.search(r'KPS_VERSION="\$\{KPS_VERSION:-(\d+\.\d+\.\d+)\}"', text)
    assert match, "kube-prometheus-stack is pinned to an exact chart version"
    assert "examples/sso-12.yaml" in text
    assert "port-forward service/kube-prometheus-stack-grafana" in text


def test_scripts_are_executable():
    for script in SHELL_SCRIPTS:
        assert script.stat().st_mode & 0o111, f"{script} is not executable"


def test_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        missing("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run(
        [shellcheck, *map(str, SHELL_SCRIPTS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_makefile_packaging_targets_document_themselves():
    text = (ROOT / "Makefile").read_text()
    for target in ("chart-sync", "verify", "image", "kind-up", "kind-down"):
        assert re.search(rf"^{target}:.*## \S", text, re.MULTILINE), target
