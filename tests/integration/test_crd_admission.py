"""The CRDs of crds/ in a real API server: installed, established, and refusing bad specs.

Every ``examples/bad/*.yaml`` must be refused at admission with 422 and a message that
contains each of its ``# expect:`` lines (they name the field), and the refusals must
leave the namespace as it was. A near-1 MB TLE must pass within the CEL cost limits, and
``kubectl get`` must print the declared columns.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tests.support.controlplane import close_api_client
from tests.support.waiting import wait_for

pytestmark = pytest.mark.controlplane

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"
BAD_EXAMPLES = REPO / "examples" / "bad"
REFERENCE_TLE = REPO / "tests" / "data" / "reference.tle"

GROUP = "kubesat.io"
VERSION = "v1alpha1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"

GOOD_CONSTELLATION: dict[str, Any] = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "Constellation",
    "metadata": {"name": "good"},
    "spec": {
        "orbits": {
            "walkerDelta": {
                "altitudeKm": 550,
                "inclinationDeg": 53,
                "planes": 4,
                "perPlane": 5,
                "phasing": 1,
            }
        },
        "hardware": {
            "gpusPerSatellite": 8,
            "gpuPowerW": 700,
            "busPowerW": 400,
            "solarArrayW": 9000,
            "batteryWh": 4000,
        },
        "groundStations": [
            {
                "name": "svalbard",
                "latitudeDeg": 78.23,
                "longitudeDeg": 15.41,
                "altitudeM": 500,
                "minElevationDeg": 5,
            }
        ],
        "radiation": {"seed": 42, "sefiFraction": 0.3, "latchupFraction": 0.02},
        "clock": {"start": "2026-11-24T00:00:00Z", "speedup": 60, "stepSeconds": 10},
    },
}


def install_crds(api: Any) -> list[str]:
    """Create or replace every CRD of crds/ and wait until each is Established."""
    ext = k8s.ApiextensionsV1Api(api)
    names = []
    for path in sorted(CRD_DIR.glob("*.yaml")):
        body = yaml.safe_load(path.read_text())
        name = body["metadata"]["name"]
        try:
            ext.create_custom_resource_definition(body)
        except k8s.ApiException as exc:
            if exc.status != 409:
                raise AssertionError(f"{path.name} refused: {exc.body}") from None
            current = ext.read_custom_resource_definition(name)
            body["metadata"]["resourceVersion"] = current.metadata.resource_version
            ext.replace_custom_resource_definition(name, body)
        names.append(name)

    def established(name: str) -> bool:
        conditions = ext.read_custom_resource_definition(name).status.conditions or []
        state = {c.type: c.status for c in conditions}
        return state.get("Established") == "True" and state.get("NamesAccepted") == "True"

    for name in names:
        wait_for(f"CRD {name} Established", lambda name=name: established(name))
    return names


@pytest.fixture(scope="module")
def crds(kube_cluster: Any) -> Iterator[list[str]]:
    api = kube_cluster.api_client()
    try:
        yield install_crds(api)
    finally:
        close_api_client(api)


def custom(api: Any) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(api)


def create(api: Any, namespace: str, body: dict[str, Any], plural: str, **kwargs: Any) -> Any:
    return custom(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body, **kwargs
    )


def create_when_served(
    api: Any, namespace: str, body: dict[str, Any], plural: str, **kwargs: Any
) -> Any:
    """Create, retrying while the new resource's endpoint still answers 404."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return create(api, namespace, body, plural, **kwargs)
        except k8s.ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def refusal(call: Callable[[], Any]) -> tuple[int, str]:
    """HTTP status and the full error text (message and causes) of a refused call."""
    try:
        call()
    except k8s.ApiException as exc:
        try:
            status = json.loads(exc.body)
        except (TypeError, ValueError):
            return exc.status, str(exc.body)
        causes = (status.get("details") or {}).get("causes") or []
        text = "\n".join(
            [status.get("message", "")]
            + [f"{c.get('field', '')}: {c.get('message', '')}" for c in causes]
        )
        return exc.status, text
    return 200, ""


def expectations(path: Path) -> list[str]:
    return [
        m.group(1).strip()
        for m in re.finditer(r"^#\s*expect:\s*(.+)$", path.read_text(), re.MULTILINE)
    ]


def table(api: Any, namespace: str, plural: str) -> dict[str, Any]:
    """What ``kubectl get <plural>`` prints, as the server renders it."""
    response = custom(api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, _headers={"Accept": TABLE}, _preload_content=False
    )
    return json.loads(response.data)


def column_names(rendered: dict[str, Any]) -> list[str]:
    return [c["name"] for c in rendered["columnDefinitions"]]


# -- tests ---------------------------------------------------------------------------------


def test_crds_are_established_with_their_names(crds: list[str], kube_api: Any) -> None:
    assert sorted(crds) == [
        f"{p}.{GROUP}" for p in ("constellations", "groundstations", "satellites")
    ]
    ext = k8s.ApiextensionsV1Api(kube_api)
    short = {"constellations": ["cst"], "satellites": ["sat"], "groundstations": ["gs"]}
    for name in crds:
        accepted = ext.read_custom_resource_definition(name).status.accepted_names
        assert accepted.short_names == short[accepted.plural]
        assert accepted.categories == ["kubesat"]
    # Installing again (an upgrade) replaces them in place.
    assert install_crds(kube_api) == crds


def test_bad_constellations_are_refused_naming_the_field(
    crds: list[str], kube_api: Any, namespace: str
) -> None:
    good = create_when_served(
        kube_api, namespace, copy.deepcopy(GOOD_CONSTELLATION), "constellations"
    )
    version = good["metadata"]["resourceVersion"]
    assert good["spec"]["policy"] == "predictive"  # defaulted
    assert good["spec"]["radiation"]["enabled"] is True  # defaulted

    bad_files = sorted(BAD_EXAMPLES.glob("*.yaml"))
    assert len(bad_files) >= 7
    problems = []
    for path in bad_files:
        body = yaml.safe_load(path.read_text())
        status, text = refusal(
            lambda body=body: create(kube_api, namespace, body, "constellations")
        )
        if status != 422:
            problems.append(f"{path.name}: HTTP {status}, expected 422 ({text[:300]})")
            continue
        for expected in expectations(path):
            if expected not in text:
                problems.append(f"{path.name}: {expected!r} not in the error:\n{text}")
    assert not problems, "\n".join(problems)

    # The refusals changed nothing: only the good constellation, untouched.
    listed = custom(kube_api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, "constellations"
    )["items"]
    assert [c["metadata"]["name"] for c in listed] == ["good"]
    assert listed[0]["metadata"]["resourceVersion"] == version
    again = custom(kube_api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "constellations", "good"
    )
    assert again["metadata"]["resourceVersion"] == version
    for plural in ("satellites", "groundstations"):
        assert (
            custom(kube_api).list_namespaced_custom_object(GROUP, VERSION, namespace, plural)[
                "items"
            ]
            == []
        )


def _big_tle(target_chars: int) -> str:
    """Element sets of the reference file, renamed, up to about ``target_chars``."""
    lines = [line for line in REFERENCE_TLE.read_text().splitlines() if line.strip()]
    sets = [lines[i : i + 3] for i in range(0, len(lines) - 2, 3) if lines[i + 1][:2] == "1 "]
    assert sets, "tests/data/reference.tle holds no 3-line element sets"
    chunks, size, n = [], 0, 0
    while size < target_chars:
        _, line1, line2 = sets[n % len(sets)]
        chunk = f"SAT-{n:06d}\n{line1}\n{line2}\n"
        chunks.append(chunk)
        size += len(chunk)
        n += 1
    return "".join(chunks)


def test_near_megabyte_tle_passes_within_cel_cost_limits(
    crds: list[str], kube_api: Any, namespace: str
) -> None:
    text = _big_tle(990_000)
    assert 900_000 < len(text) <= 1_000_000
    body = copy.deepcopy(GOOD_CONSTELLATION)
    body["metadata"]["name"] = "big-tle"
    body["spec"]["orbits"] = {"tle": text}
    warm_up = copy.deepcopy(GOOD_CONSTELLATION)
    create_when_served(kube_api, namespace, warm_up, "constellations", dry_run="All")
    started = time.monotonic()
    create(kube_api, namespace, body, "constellations", dry_run="All")
    assert time.monotonic() - started < 10.0, "TLE validation is too slow"

    # The same text with its last line 2 one character short is refused, naming the line.
    lines = text.rstrip("\n").split("\n")
    bad_line = lines[-1][:-1]
    body["spec"]["orbits"]["tle"] = "\n".join([*lines[:-1], bad_line]) + "\n"
    status, message = refusal(
        lambda: create(kube_api, namespace, body, "constellations", dry_run="All")
    )
    assert status == 422, message[:500]
    assert "spec.orbits.tle" in message
    assert f'this one is shorter: "{bad_line}"' in message
    assert len(message) < 2000, "the error must not repeat the whole TLE"


def test_satellite_status_and_printer_columns(
    crds: list[str], kube_api: Any, namespace: str
) -> None:
    satellite = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Satellite",
        "metadata": {"name": "iss"},
        "spec": {
            "constellation": "good",
            "index": 0,
            "plane": 0,
            "nodeName": "kubesat-iss",
            "tle": {
                "line1": "1 25544U 98067A   25313.96830531  .00008626  00000+0  16179-3 0  9997",
                "line2": "2 25544  51.6342 304.7042 0004075  52.7615 307.3745 15.49490024537771",
            },
        },
        "status": {"phase": "Eclipse"},  # ignored: status goes through its subresource
    }
    created = create_when_served(kube_api, namespace, satellite, "satellites")
    assert "status" not in created or "phase" not in created["status"]

    status = {
        "phase": "Sunlit",
        "sunlit": True,
        "illuminatedFraction": 1.0,
        "batteryPercent": 87.5,
        "stateOfCharge": 0.875,
        "groundLink": False,
        "nextEclipseStart": "2026-11-24T00:31:12Z",
        "nextEclipseEnd": "2026-11-24T01:06:40Z",
        "nextContactStart": None,
        "upsets": {"correctable": 3, "sefi": 0, "latchup": 0},
        "gpusBusy": 8,
        "gpusAvailable": 0,
        "node": "kubesat-iss",
        "register": {"kopf": "handler result"},  # unknown fields are kept for Kopf
        "conditions": [
            {
                "type": "Sunlit",
                "status": "True",
                "reason": "InSunlight",
                "message": "",
                "lastTransitionTime": "2026-11-24T00:00:00Z",
            }
        ],
    }
    patched = custom(kube_api).patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "satellites",
        "iss",
        {"status": status},
        _content_type="application/merge-patch+json",
    )
    assert patched["status"]["register"] == {"kopf": "handler result"}
    assert patched["status"]["phase"] == "Sunlit"

    rendered = table(kube_api, namespace, "satellites")
    assert column_names(rendered) == [
        "Name",
        "Sunlit",
        "Battery",
        "Link",
        "Next-Eclipse",
        "Phase",
        "Node",
        "Age",
    ]
    (row,) = rendered["rows"]
    assert row["cells"][:7] == [
        "iss",
        True,
        87.5,
        False,
        "2026-11-24T00:31:12Z",
        "Sunlit",
        "kubesat-iss",
    ]

    code, message = refusal(
        lambda: custom(kube_api).patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            "satellites",
            "iss",
            {"status": {"phase": "Sleepy"}},
            _content_type="application/merge-patch+json",
        )
    )
    assert code == 422
    assert "status.phase" in message

    twin = copy.deepcopy(satellite)
    twin["metadata"]["name"] = "mismatch"
    twin["spec"]["tle"]["line2"] = twin["spec"]["tle"]["line2"].replace("25544", "25545")
    code, message = refusal(lambda: create(kube_api, namespace, twin, "satellites"))
    assert code == 422
    assert "spec.tle.line2" in message


def test_groundstation_defaults_and_columns(crds: list[str], kube_api: Any, namespace: str) -> None:
    station = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "GroundStation",
        "metadata": {"name": "svalbard"},
        "spec": {"latitudeDeg": 78.23, "longitudeDeg": 15.41},
    }
    created = create_when_served(kube_api, namespace, station, "groundstations")
    assert created["spec"]["altitudeM"] == 0
    assert created["spec"]["minElevationDeg"] == 10
    rendered = table(kube_api, namespace, "groundstations")
    assert column_names(rendered) == ["Name", "Lat", "Lon", "MinElev", "InView", "Age"]
    assert rendered["rows"][0]["cells"][:4] == ["svalbard", 78.23, 15.41, 10]

    bad = copy.deepcopy(station)
    bad["metadata"]["name"] = "south-of-south"
    bad["spec"]["latitudeDeg"] = -91
    code, message = refusal(lambda: create(kube_api, namespace, bad, "groundstations"))
    assert code == 422
    assert "spec.latitudeDeg" in message


def test_constellation_columns(crds: list[str], kube_api: Any, namespace: str) -> None:
    create_when_served(kube_api, namespace, copy.deepcopy(GOOD_CONSTELLATION), "constellations")
    custom(kube_api).patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "constellations",
        "good",
        {
            "status": {
                "satellites": 20,
                "readyNodes": 19,
                "goodputRatio": 0.91,
                "clock": {"simulatedTime": "2026-11-24T06:00:00Z"},
                "state": {"battery": [0.9, 0.8]},
            }
        },
        _content_type="application/merge-patch+json",
    )
    rendered = table(kube_api, namespace, "constellations")
    assert column_names(rendered) == [
        "Name",
        "Policy",
        "Satellites",
        "Ready",
        "Goodput",
        "SimTime",
        "Age",
    ]
    assert rendered["rows"][0]["cells"][:6] == [
        "good",
        "predictive",
        20,
        19,
        0.91,
        "2026-11-24T06:00:00Z",
    ]
