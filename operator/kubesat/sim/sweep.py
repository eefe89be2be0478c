"""Parameter sweeps: the cartesian product of values of Constellation fields and Job
annotations, each point a full simulation, run on local processes or a Dask cluster.

Planning is pure: `parse_set` reads `PATH=V1,V2,...`, `plan_sweep` applies every
combination to the scenario's YAML documents and parses each point (so a bad path or value
fails before anything runs, naming it). `run_point` simulates one point from plain data, so
any executor can run it; `run_sweep` runs them all and returns the records in point order,
whoever ran them, so the JSON of a sweep is the same byte for byte.

Every point draws upsets from the same seed (`--seed`, else each point's
`spec.radiation.seed`): points differ by their design, not by their luck (common random
numbers), and sweeping `spec.radiation.seed` itself shows the spread luck alone gives.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from kubesat.sim.executors import Executor
from kubesat.spec import (
    CHECKPOINT_INTERVAL_ANNOTATION,
    CHECKPOINT_WRITE_ANNOTATION,
    NEEDS_LINK_ANNOTATION,
    TESTED_CLUSTER_NODES,
    WORK_ANNOTATION,
    SpecError,
)

SECONDS_PER_DAY: Final = 86_400.0
JOB_ANNOTATIONS: Final = (
    WORK_ANNOTATION,
    CHECKPOINT_INTERVAL_ANNOTATION,
    CHECKPOINT_WRITE_ANNOTATION,
    NEEDS_LINK_ANNOTATION,
)
MAX_POINTS: Final = 10_000  # a sweep larger than this is almost certainly a typo


@dataclass(frozen=True)
class Axis:
    """One swept parameter: a path into the scenario and the values it takes."""

    path: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Point:
    """One design of a sweep: its parameters and the scenario documents that carry them."""

    index: int
    parameters: tuple[tuple[str, Any], ...]
    documents: tuple[Any, ...]
    source: str
    duration_seconds: float
    policies: tuple[str, ...]
    seed: int | None


def parse_set(text: str) -> Axis:
    """`PATH=V1,V2,...` -> an Axis; values are YAML scalars (500, 0.9, true, predictive)."""
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise SpecError(
            f"--set {text!r}: expected PATH=V1,V2,... (e.g. spec.hardware.batteryWh=500,1000)"
        )
    values = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            raise SpecError(f"--set {path}: empty value in {raw!r}")
        try:
            value = yaml.safe_load(item)
        except yaml.YAMLError:
            value = item
        if isinstance(value, dict | list) or value is None:
            raise SpecError(f"--set {path}: expected scalar values, got {item!r}")
        values.append(value)
    if len(set(map(repr, values))) != len(values):
        raise SpecError(f"--set {path}: values repeat in {raw!r}")
    return Axis(path, tuple(values))


def _constellation(documents: Sequence[Any]) -> dict[str, Any]:
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "Constellation":
            return document
    raise SpecError("no Constellation in the file")


def _job(documents: Sequence[Any], name: str, path: str) -> dict[str, Any]:
    jobs = [
        d
        for d in documents
        if isinstance(d, dict)
        and d.get("kind") == "Job"
        and (d.get("metadata") or {}).get("name") == name
    ]
    if not jobs:
        known = sorted(
            str((d.get("metadata") or {}).get("name"))
            for d in documents
            if isinstance(d, dict) and d.get("kind") == "Job"
        )
        raise SpecError(f"--set {path}: no Job named {name!r} (Jobs: {', '.join(known) or 'none'})")
    return jobs[0]


def set_path(documents: list[Any], path: str, value: Any) -> None:
    """Set `path` in the scenario's documents (in place).

    `spec.a.b` and `metadata.x` address the Constellation; `jobs.NAME.annotations.KEY` a
    Job's work annotation (KEY one of kubesat's); `jobs.NAME.spec.a` a field of a Job. A
    field must already be in the file (write it there to sweep a default), so a typo fails.
    """
    if path.startswith("jobs."):
        name, _, rest = path[len("jobs.") :].partition(".")
        job = _job(documents, name, path)
        if rest.startswith("annotations."):
            key = rest[len("annotations.") :]
            if key not in JOB_ANNOTATIONS:
                raise SpecError(
                    f"--set {path}: {key!r} is not a kubesat Job annotation "
                    f"(one of {', '.join(JOB_ANNOTATIONS)})"
                )
            text = str(value).lower() if isinstance(value, bool) else str(value)
            metadata = job.setdefault("metadata", {})
            if not isinstance(metadata.get("annotations"), dict):
                metadata["annotations"] = {}
            metadata["annotations"][key] = text
            # the pod template's annotation, if any, is the one the Job's pods carry
            template = ((job.get("spec") or {}).get("template") or {}).get("metadata") or {}
            if key in (template.get("annotations") or {}):
                template["annotations"][key] = text
            return
        _set_field(job, rest, value, path)
        return
    _set_field(_constellation(documents), path, value, path)


def _set_field(document: dict[str, Any], dotted: str, value: Any, path: str) -> None:
    keys = dotted.split(".")
    if not dotted or any(not k for k in keys):
        raise SpecError(f"--set {path}: not a field path")
    here: Any = document
    for depth, key in enumerate(keys):
        where = ".".join(keys[:depth]) or "the document"
        if not isinstance(here, dict):
            raise SpecError(f"--set {path}: {where} is not a mapping")
        if key not in here:
            fields = ", ".join(sorted(map(str, here))) or "none"
            raise SpecError(f"--set {path}: no field {key!r} in {where} (fields: {fields})")
        if depth == len(keys) - 1:
            if isinstance(here[key], dict | list):
                raise SpecError(f"--set {path}: a {type(here[key]).__name__}, not a value")
            here[key] = value
        else:
            here = here[key]


def plan_sweep(
    documents: Sequence[Any],
    axes: Sequence[Axis],
    duration_seconds: float,
    policies: Sequence[str],
    seed: int | None = None,
    source: str = "input",
) -> list[Point]:
    """Every combination of the axes' values as a Point, each checked by parsing it."""
    from kubesat.sim.run import parse_scenario

    paths = [a.path for a in axes]
    if len(set(paths)) != len(paths):
        raise SpecError(f"--set: each PATH once, got {paths}")
    total = 1
    for axis in axes:
        total *= len(axis.values)
    if total > MAX_POINTS:
        raise SpecError(f"--set: {total} points, more than the {MAX_POINTS} a sweep may have")
    points = []
    for index, combination in enumerate(itertools.product(*(a.values for a in axes))):
        docs = copy.deepcopy(list(documents))
        for axis, value in zip(axes, combination, strict=True):
            set_path(docs, axis.path, value)
        parameters = tuple((a.path, v) for a, v in zip(axes, combination, strict=True))
        shown = ", ".join(f"{p}={v}" for p, v in parameters)
        try:
            count = len(parse_scenario(docs, source).constellation.satellites)
        except SpecError as error:
            raise SpecError(f"--set {shown}: {error}") from None
        if count > TESTED_CLUSTER_NODES:
            raise SpecError(
                f"--set {shown}: {count:,} satellites; a sweep point is one simulation of at "
                f"most {TESTED_CLUSTER_NODES:,} (one cluster)"
            )
        points.append(
            Point(index, parameters, tuple(docs), source, duration_seconds, tuple(policies), seed)
        )
    return points


def load_documents(path: Path) -> list[Any]:
    """The YAML documents of a scenario file (parsed and checked by `load_scenario`)."""
    from kubesat.sim.run import load_scenario

    load_scenario(path)  # the file itself must be valid before any point is built
    text = Path(path).read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d is not None]


def run_point(point: Point) -> dict[str, Any]:
    """Simulate one point; its JSON record (parameters, design, the simulate report)."""
    from kubesat.sim.report import report_document
    from kubesat.sim.run import parse_scenario, prepare, simulate_policies, viability

    scenario = parse_scenario(list(point.documents), point.source)
    environment = prepare(scenario, point.duration_seconds, point.seed)
    outcomes = simulate_policies(scenario, environment, point.policies)
    report = report_document(outcomes, viability(scenario, environment).as_json())
    c = scenario.constellation
    days = point.duration_seconds / SECONDS_PER_DAY
    for name in report["policies"]:
        entry = report["policies"][name]
        entry["gpu_hours_per_day"] = round(entry["completed_gpu_seconds"] / 3600.0 / days, 3)
    return {
        "index": point.index,
        "parameters": dict(point.parameters),
        "design": {
            "satellites": len(c.satellites),
            "gpus_per_satellite": c.power.gpus,
            "battery_wh": c.power.battery_wh,
            "solar_array_w": c.power.solar_array_w,
        },
        "report": report,
    }


def run_sweep(
    points: Sequence[Point],
    executor: Executor[Point, dict[str, Any]],
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every point; the records in point order, whatever order they finished in."""
    records = []
    for done, record in enumerate(executor(run_point, points), start=1):
        records.append(record)
        if progress is not None:
            progress(done, len(points))
    return sorted(records, key=lambda r: int(r["index"]))


def sweep_document(
    source: str,
    axes: Sequence[Axis],
    duration_seconds: float,
    policies: Sequence[str],
    seed: int | None,
    records: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The `--json` document of a sweep: what was swept, then one record per point."""
    return {
        "sweep": {
            "file": source,
            "duration_seconds": duration_seconds,
            "policies": list(policies),
            "seed": seed,
            "axes": [{"path": a.path, "values": list(a.values)} for a in axes],
        },
        "points": list(records),
    }


def dumps(document: Mapping[str, Any]) -> str:
    """The sweep's JSON text (sorted keys: the same bytes for the same sweep)."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
