"""The CustomResourceDefinitions in crds/, checked without a cluster.

Each CRD must be one the API server takes (a structural schema, status subresource,
printer columns on declared fields, a message on every CEL rule) and the examples a user
applies first must pass it. The schema is checked by a small OpenAPI validator below
(type, enum, bounds, lengths, pattern, required, unknown fields, list-map keys); every CEL
rule has a Python twin here, looked up by its exact text, so changing a rule in a CRD
without updating its twin fails this test. The real API server has the last word:
tests/integration/test_crd_admission.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.prerequisites import missing

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"
EXAMPLES = REPO / "examples"
BAD_EXAMPLES = EXAMPLES / "bad"
REFERENCE_TLE = REPO / "tests" / "data" / "reference.tle"

GROUP = "kubesat.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: kind -> (file, plural, short name, printer columns as (name, type, jsonPath)).
EXPECTED: dict[str, tuple[str, str, str, list[tuple[str, str, str]]]] = {
    "Constellation": (
        "constellations.kubesat.io.yaml",
        "constellations",
        "cst",
        [
            ("Policy", "string", ".spec.policy"),
            ("Satellites", "integer", ".status.satellites"),
            ("Ready", "integer", ".status.readyNodes"),
            ("Goodput", "number", ".status.goodputRatio"),
            ("SimTime", "string", ".status.clock.simulatedTime"),
            ("Age", "date", ".metadata.creationTimestamp"),
        ],
    ),
    "Satellite": (
        "satellites.kubesat.io.yaml",
        "satellites",
        "sat",
        [
            ("Sunlit", "boolean", ".status.sunlit"),
            ("Battery", "number", ".status.batteryPercent"),
            ("Link", "boolean", ".status.groundLink"),
            ("Next-Eclipse", "string", ".status.nextEclipseStart"),
            ("Phase", "string", ".status.phase"),
            ("Node", "string", ".status.node"),
            ("Age", "date", ".metadata.creationTimestamp"),
        ],
    ),
    "GroundStation": (
        "groundstations.kubesat.io.yaml",
        "groundstations",
        "gs",
        [
            ("Lat", "number", ".spec.latitudeDeg"),
            ("Lon", "number", ".spec.longitudeDeg"),
            ("MinElev", "number", ".spec.minElevationDeg"),
            ("InView", "integer", ".status.satellitesInView"),
            ("Age", "date", ".metadata.creationTimestamp"),
        ],
    ),
}

#: Where x-kubernetes-preserve-unknown-fields is intended: status keeps what Kopf
#: records there (handler results), status.state is the operator's durable state.
PRESERVE_UNKNOWN_AT = {"status", "status.state"}

#: Schema keywords the API server refuses in a CRD (apiextensions validation).
FORBIDDEN_KEYWORDS = {
    "definitions",
    "dependencies",
    "deprecated",
    "discriminator",
    "id",
    "patternProperties",
    "readOnly",
    "writeOnly",
    "xml",
    "$ref",
}

GOOD_CONSTELLATION: dict[str, Any] = {
    "apiVersion": API_VERSION,
    "kind": "Constellation",
    "metadata": {"name": "sso-12"},
    "spec": {
        "orbits": {
            "sunSynchronous": {"altitudeKm": 650, "ltanHours": 18.0, "count": 12, "planes": 1},
            "epoch": "2026-11-24T00:00:00Z",
        },
        "hardware": {
            "gpusPerSatellite": 8,
            "gpuPowerW": 700,
            "busPowerW": 400,
            "solarArrayW": 9000,
            "batteryWh": 4000,
            "chargeEfficiency": 0.95,
            "dischargeEfficiency": 0.95,
            "depthOfDischarge": 0.8,
            "initialStateOfCharge": 1.0,
        },
        "groundStations": [
            {
                "name": "svalbard",
                "latitudeDeg": 78.23,
                "longitudeDeg": 15.41,
                "altitudeM": 500,
                "minElevationDeg": 5,
            },
            {"name": "troll", "latitudeDeg": -72.01, "longitudeDeg": 2.53},
        ],
        "radiation": {
            "enabled": True,
            "seed": 42,
            "model": "AP8MIN",
            "crossSectionCm2PerGpu": 1.0e-9,
            "backgroundPerGpuSecond": 1.0e-7,
            "sefiFraction": 0.3,
            "latchupFraction": 0.02,
            "sefiRecoverySeconds": 300,
            "latchupRecoverySeconds": 1800,
            "saaFluxThreshold": 10,
        },
        "clock": {"start": "2026-11-24T00:00:00Z", "speedup": 60, "stepSeconds": 10},
        "policy": "predictive",
        "scheduling": {"predictiveMarginSeconds": 60},
    },
}


# -- loading -------------------------------------------------------------------------------


def load_crd(kind: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((CRD_DIR / EXPECTED[kind][0]).read_text()) if d]
    assert len(docs) == 1, f"{EXPECTED[kind][0]}: expected one document, got {len(docs)}"
    return docs[0]


def version_of(crd: Mapping[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version


def schema_of(kind: str) -> dict[str, Any]:
    return version_of(load_crd(kind))["schema"]["openAPIV3Schema"]


def walk(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every schema node with its dotted path (list items as ``path[]``)."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def expectations(path: Path) -> list[str]:
    """The ``# expect: <substring>`` lines of a bad example."""
    return [
        m.group(1).strip()
        for m in re.finditer(r"^#\s*expect:\s*(.+)$", path.read_text(), re.MULTILINE)
    ]


def example_files() -> list[Path]:
    if not EXAMPLES.is_dir():
        return []
    return sorted(p for p in EXAMPLES.rglob("*.yaml") if BAD_EXAMPLES not in p.parents)


def kubesat_documents(paths: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{p.relative_to(REPO)}#{i}", d)
        for p in paths
        for i, d in enumerate(documents(p))
        if d.get("apiVersion") == API_VERSION
    ]


# -- a small OpenAPI v3 (Kubernetes structural schema) validator ----------------------------


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    raise AssertionError(f"unknown schema type {kind!r}")


def _date_time_ok(text: str) -> bool:
    # RFC 3339 as the API server wants it; Python's parser is close enough for the tests.
    if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", text):
        return False
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def validate(schema: Mapping[str, Any], value: Any, path: str) -> list[str]:
    """Errors of ``value`` against an OpenAPI schema node, each starting with its path."""
    if value is None:
        return [] if schema.get("nullable") else [f"{path}: must not be null"]
    kind = schema.get("type")
    if kind is not None and not _type_ok(kind, value):
        hint = " (quote timestamps in YAML)" if isinstance(value, dt.date) else ""
        return [f"{path}: expected {kind}, got {value!r}{hint}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: Unsupported value {value!r}, supported values: {schema['enum']}")
    if kind in ("number", "integer"):
        low, high = schema.get("minimum"), schema.get("maximum")
        open_low, open_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        if low is not None and (value < low or (open_low and value == low)):
            errors.append(f"{path}: must be {'>' if open_low else '>='} {low}, got {value}")
        if high is not None and (value > high or (open_high and value == high)):
            errors.append(f"{path}: must be {'<' if open_high else '<='} {high}, got {value}")
    if kind == "string":
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: does not match {schema['pattern']!r}")
        if schema.get("format") == "date-time" and not _date_time_ok(value):
            errors.append(f"{path}: not an RFC 3339 date-time: {value!r}")
    if kind == "array":
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: more than {schema['maxItems']} items")
        for i, item in enumerate(value):
            errors += validate(schema["items"], item, f"{path}[{i}]")
        if schema.get("x-kubernetes-list-type") == "map":
            keys = schema["x-kubernetes-list-map-keys"]
            seen: set[tuple[Any, ...]] = set()
            for i, item in enumerate(value):
                key = tuple(item.get(k) for k in keys)
                if key in seen:
                    errors.append(
                        f"{path}[{i}]: Duplicate value {dict(zip(keys, key, strict=True))}"
                    )
                seen.add(key)
    if kind == "object":
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}.{name}: Required value")
        for name, item in value.items():
            if path == "" and name in ("apiVersion", "kind", "metadata"):
                continue  # checked by the API server itself
            if name in properties:
                errors += validate(properties[name], item, f"{path}.{name}")
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{path}.{name}: unknown field (the API server would drop it)")
    if not errors:
        for rule in schema.get("x-kubernetes-validations", []):
            if not cel_twin(rule["rule"])(value):
                field = path + rule.get("fieldPath", "")
                errors.append(f"{field}: {rule.get('message', rule['rule'])}")
    return [e.lstrip(".") for e in errors]


# -- Python twins of the CEL rules ---------------------------------------------------------


def _cel_string(literal: str) -> str:
    """The value of a single-quoted CEL string literal body (the escapes used in crds/)."""
    escapes = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
    return re.sub(r"\\(.)", lambda m: escapes[m.group(1)], literal)


def _normalise(rule: str) -> str:
    return " ".join(rule.split())


def _regex_twin(rule: str) -> Callable[[Any], bool] | None:
    """`!has(self.tle) || !self.tle.matches('RE')`: CEL matches() is a partial match."""
    m = re.fullmatch(r"!has\(self\.tle\) \|\| !self\.tle\.matches\('((?:[^'\\]|\\.)*)'\)", rule)
    if m is None:
        return None
    regex = re.compile(_cel_string(m.group(1)))
    return lambda s: "tle" not in s or regex.search(s["tle"]) is None


def _one_orbit(s: Mapping[str, Any]) -> bool:
    return sum(k in s for k in ("tle", "walkerDelta", "sunSynchronous", "formation")) == 1


def _formation_links_not_too_many(s: Mapping[str, Any]) -> bool:
    if "links" not in s or s["links"]["topology"] != "formation":
        return True
    orbits = s["orbits"]
    walker = orbits.get("walkerDelta")
    counts = (
        orbits.get("formation", {}).get("count", 0),
        orbits.get("sunSynchronous", {}).get("count", 0),
        walker["planes"] * walker["perPlane"] if walker else 0,
    )
    return all(count <= 500 for count in counts)


def _has_line_one(s: Mapping[str, Any]) -> bool:
    return "tle" not in s or s["tle"].startswith("1 ") or "\n1 " in s["tle"]


def _phasing_below_planes(s: Mapping[str, Any]) -> bool:
    return "phasing" not in s or s["phasing"] < s["planes"]


def _upset_fractions(s: Mapping[str, Any]) -> bool:
    return (
        "sefiFraction" not in s
        or "latchupFraction" not in s
        or (s["sefiFraction"] + s["latchupFraction"] <= 1.0)
    )


def _bus_reserve_below_floor(s: Mapping[str, Any]) -> bool:
    floor = 1.0 - s.get("depthOfDischarge", 0.8)
    return "busReserveFraction" not in s or s["busReserveFraction"] <= floor


def _temperature(s: Mapping[str, Any], key: str, default: float) -> float:
    return float(s.get(key, default))


def _min_below_max(s: Mapping[str, Any]) -> bool:
    return _temperature(s, "minTemperatureC", -10.0) < _temperature(s, "maxTemperatureC", 60.0)


def _initial_within(s: Mapping[str, Any]) -> bool:
    low = _temperature(s, "minTemperatureC", -10.0)
    high = _temperature(s, "maxTemperatureC", 60.0)
    return "initialTemperatureC" not in s or low <= s["initialTemperatureC"] <= high


def _one_satellite_orbit(s: Mapping[str, Any]) -> bool:
    return ("tle" in s) != ("elements" in s)


def _name_fits_a_label(s: Mapping[str, Any]) -> bool:
    return len(s["metadata"]["name"]) <= 63


def _same_satellite_number(s: Mapping[str, Any]) -> bool:
    return s["line1"][2:7] == s["line2"][2:7]


CEL_TWINS: dict[str, Callable[[Any], bool]] = {
    _normalise(k): v
    for k, v in {
        "(has(self.tle) ? 1 : 0) + (has(self.walkerDelta) ? 1 : 0)"
        " + (has(self.sunSynchronous) ? 1 : 0) + (has(self.formation) ? 1 : 0) == 1": _one_orbit,
        "!has(self.links) || self.links.topology != 'formation' || "
        "((has(self.orbits.formation) ? self.orbits.formation.count : 0) <= 500 && "
        "(has(self.orbits.sunSynchronous) ? self.orbits.sunSynchronous.count : 0) <= 500 && "
        "(has(self.orbits.walkerDelta) ? "
        "self.orbits.walkerDelta.planes * self.orbits.walkerDelta.perPlane : 0) <= 500)": (
            _formation_links_not_too_many
        ),
        "!has(self.tle) || self.tle.startsWith('1 ') || self.tle.contains('\\n1 ')": _has_line_one,
        "!has(self.phasing) || self.phasing < self.planes": _phasing_below_planes,
        "!has(self.sefiFraction) || !has(self.latchupFraction)"
        " || self.sefiFraction + self.latchupFraction <= 1.0": _upset_fractions,
        "has(self.tle) != has(self.elements)": _one_satellite_orbit,
        "!has(self.busReserveFraction) || self.busReserveFraction <= 1.0 - "
        "(has(self.depthOfDischarge) ? self.depthOfDischarge : 0.8)": _bus_reserve_below_floor,
        "self.line1.substring(2, 7) == self.line2.substring(2, 7)": _same_satellite_number,
        "size(self.metadata.name) <= 63": _name_fits_a_label,
        "(has(self.minTemperatureC) ? self.minTemperatureC : -10.0) < "
        "(has(self.maxTemperatureC) ? self.maxTemperatureC : 60.0)": _min_below_max,
        "!has(self.initialTemperatureC) || (self.initialTemperatureC >= "
        "(has(self.minTemperatureC) ? self.minTemperatureC : -10.0) && "
        "self.initialTemperatureC <= (has(self.maxTemperatureC) ? self.maxTemperatureC : 60.0))": (
            _initial_within
        ),
    }.items()
}


def cel_twin(rule: str) -> Callable[[Any], bool]:
    rule = _normalise(rule)
    twin = CEL_TWINS.get(rule) or _regex_twin(rule)
    if twin is None:
        raise AssertionError(f"CEL rule without a Python twin in {__name__}: {rule}")
    return twin


def all_rules() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (kind, path, rule)
        for kind in EXPECTED
        for path, node in walk(schema_of(kind))
        for rule in node.get("x-kubernetes-validations", [])
    ]


# -- the CRDs themselves -------------------------------------------------------------------


@pytest.mark.parametrize("kind", EXPECTED)
def test_crd_names_scope_and_version(kind: str) -> None:
    file, plural, short, _ = EXPECTED[kind]
    crd = load_crd(kind)
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.{GROUP}" == file.removesuffix(".yaml")
    spec = crd["spec"]
    assert spec["group"] == GROUP
    assert spec["scope"] == "Namespaced"
    names = spec["names"]
    assert names["kind"] == kind
    assert names["plural"] == plural
    assert names["singular"] == kind.lower()
    assert names["shortNames"] == [short]
    assert names["categories"] == ["kubesat"]
    version = version_of(crd)
    assert (version["name"], version["served"], version["storage"]) == (VERSION, True, True)
    assert version["subresources"] == {"status": {}}


@pytest.mark.parametrize("kind", EXPECTED)
def test_printer_columns(kind: str) -> None:
    columns = version_of(load_crd(kind))["additionalPrinterColumns"]
    assert [(c["name"], c["type"], c["jsonPath"]) for c in columns] == EXPECTED[kind][3]
    schema = schema_of(kind)
    for column in columns:
        assert column["type"] in ("integer", "number", "string", "boolean", "date")
        assert column.get("format", "float") in (
            "int32",
            "int64",
            "float",
            "double",
            "byte",
            "date",
            "date-time",
            "password",
        )
        if column["jsonPath"].startswith(".metadata."):
            continue
        # Each column shows a declared field of a matching type.
        node: Mapping[str, Any] = schema
        for part in column["jsonPath"].lstrip(".").split("."):
            assert part in node.get("properties", {}), f"{kind} column {column['name']}"
            node = node["properties"][part]
        expected_type = {"date": "string"}.get(column["type"], column["type"])
        assert node["type"] == expected_type, f"{kind} column {column['name']}"


@pytest.mark.parametrize("kind", EXPECTED)
def test_schema_is_structural(kind: str) -> None:
    schema = schema_of(kind)
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    # metadata may only be given a type at the root (names are checked by the API server)
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert "spec" in schema.get("required", [])
    for path, node in walk(schema):
        where = f"{kind} {path or '<root>'}"
        assert "type" in node, f"{where}: every node of a structural schema needs a type"
        assert not FORBIDDEN_KEYWORDS & set(node), f"{where}: {FORBIDDEN_KEYWORDS & set(node)}"
        assert node.get("additionalProperties") is not False, where
        assert not node.get("uniqueItems"), where
        assert not ("properties" in node and "additionalProperties" in node), where
        if node.get("x-kubernetes-preserve-unknown-fields"):
            assert path in PRESERVE_UNKNOWN_AT, f"{where}: unexpected preserve-unknown-fields"
        if node["type"] == "array":
            assert "items" in node, where
            assert "maxItems" in node, f"{where}: bound arrays (CEL cost, etcd size)"
        if node.get("x-kubernetes-list-type") == "map":
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in node["items"].get("required", []), f"{where}: map key {key}"
        if "default" in node:
            assert validate(node, node["default"], path) == [], f"{where}: bad default"
    # The spec is strict: every field is declared, nothing is kept unpruned.
    assert not any(
        n.get("x-kubernetes-preserve-unknown-fields") for _, n in walk(schema["properties"]["spec"])
    )


@pytest.mark.parametrize(("kind", "path", "rule"), all_rules(), ids=lambda x: str(x)[:40])
def test_cel_rules_have_messages_and_twins(kind: str, path: str, rule: dict[str, Any]) -> None:
    assert set(rule) <= {"rule", "message", "messageExpression", "fieldPath", "reason"}
    message = rule.get("message", "")
    assert message, f"{kind} {path}: rule without a message: {rule['rule']}"
    assert "\n" not in message, "the API server refuses messages with line breaks"
    assert "\n" not in rule.get("messageExpression", "")
    if "fieldPath" in rule:
        field = rule["fieldPath"].lstrip(".")
        node = dict(walk(schema_of(kind)))[path]
        assert field in node["properties"], f"{kind} {path}: fieldPath {rule['fieldPath']}"
    cel_twin(rule["rule"])  # raises when a rule changed without its twin


def test_schemas_match_the_python_parser_ranges() -> None:
    """Ranges shared by a ground station entry and a GroundStation resource are the same."""
    entry = schema_of("Constellation")["properties"]["spec"]["properties"]["groundStations"]
    station = schema_of("GroundStation")["properties"]["spec"]["properties"]
    for name in ("latitudeDeg", "longitudeDeg", "altitudeM", "minElevationDeg"):
        a = {k: v for k, v in entry["items"]["properties"][name].items() if k != "default"}
        b = {k: v for k, v in station[name].items() if k != "default"}
        assert a == b, name


# -- the TLE rules, through the regexes taken from the CRD ----------------------------------


def tle_errors(text: str) -> list[str]:
    spec = {**GOOD_CONSTELLATION["spec"], "orbits": {"tle": text}}
    return validate(schema_of("Constellation"), {**GOOD_CONSTELLATION, "spec": spec}, "")


def test_reference_tle_is_accepted() -> None:
    text = REFERENCE_TLE.read_text()
    assert text.count("\n1 ") >= 3
    assert tle_errors(text) == []
    assert tle_errors(text.replace("\n", "\r\n")) == []  # CRLF files
    assert tle_errors("\n".join(line + "  " for line in text.splitlines())) == []
    two_line = "\n".join(line for line in text.splitlines() if line[:2] in ("1 ", "2 "))
    assert tle_errors(two_line) == []


@pytest.mark.parametrize(
    ("mangle", "expect"),
    [
        (lambda t: t.replace(" 9997\n", " 997\n", 1), "must be exactly 69 characters"),
        (lambda t: t.replace(" 9997\n", " 99970\n", 1), "must be exactly 69 characters"),
        (lambda t: t.rstrip("\n")[:-1], "must be exactly 69 characters"),
        (lambda t: "no element set here\n", "at least one element set"),
        (lambda t: "\n\n", "at least one element set"),
    ],
    ids=["short-line", "long-line", "short-last-line-without-newline", "prose", "blank"],
)
def test_bad_tle_is_refused(mangle: Callable[[str], str], expect: str) -> None:
    text = REFERENCE_TLE.read_text()
    assert " 9997\n" in text
    errors = tle_errors(mangle(text))
    assert errors
    assert all(e.startswith("spec.orbits.tle") for e in errors), errors
    assert any(expect in e for e in errors), errors


# -- examples ------------------------------------------------------------------------------


def test_inline_constellation_is_valid() -> None:
    assert validate(schema_of("Constellation"), GOOD_CONSTELLATION, "") == []


def test_examples_exist() -> None:
    found = [d for _, d in kubesat_documents(example_files()) if d["kind"] == "Constellation"]
    if not found:
        missing("no Constellation in examples/*.yaml")


@pytest.mark.parametrize(
    ("where", "document"), kubesat_documents(example_files()), ids=lambda x: str(x)[:60]
)
def test_example_is_valid(where: str, document: dict[str, Any]) -> None:
    assert document["kind"] in EXPECTED, f"{where}: unknown kind {document['kind']}"
    assert document.get("metadata", {}).get("name"), f"{where}: no metadata.name"
    assert validate(schema_of(document["kind"]), document, "") == [], where


@pytest.mark.parametrize("path", sorted(BAD_EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_bad_example_is_refused_naming_the_field(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name}: no '# expect: <substring of the admission error>' line"
    (document,) = documents(path)
    assert document["apiVersion"] == API_VERSION
    assert document["kind"] == "Constellation"
    errors = validate(schema_of("Constellation"), document, "")
    assert errors, f"{path.name} passes the schema"
    # The first expectation names the field; the validator here reports the same path.
    # (a rule on the whole object has no path: its message names the field)
    assert any(e.removeprefix(": ").startswith(expected[0]) for e in errors), (expected[0], errors)


def test_bad_examples_cover_the_admission_rules() -> None:
    names = {p.stem for p in BAD_EXAMPLES.glob("*.yaml")}
    fields = {expectations(BAD_EXAMPLES / f"{n}.yaml")[0] for n in names}
    for field in (
        "spec.groundStations[0].latitudeDeg",
        "spec.hardware.batteryWh",
        "spec.policy",
        "spec.orbits.tle",
        "spec.orbits.walkerDelta.phasing",
        "spec.orbits",
        "spec.radiation.latchupFraction",
        "spec.thermal.minTemperatureC",
        "spec.thermal.radiatorAreaM2",
        "spec.links",
        "spec.links.bandwidthGbps",
        "spec.links.topology",
    ):
        assert field in fields, f"no bad example refused for {field}"
