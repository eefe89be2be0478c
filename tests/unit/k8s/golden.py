"""Golden YAML pairs for the operator's pure renderers, as kwok keeps them.

Each case is a pair under `tests/unit/k8s/golden/<module>/<renderer>/`:
`<case>.input.yaml` says what the renderer is given (small manifests, engine events,
arguments) and `<case>.output.yaml` holds what it must render. A test renders the input,
dumps the result as YAML and compares it with the output file (as data: comments and
formatting are free); on a difference it shows a unified diff of the YAML.

The clock is an argument of every renderer, so no placeholder is needed for times: each
case runs at `WALL` (2026-03-01T12:00:00Z) unless its input sets `wall:`. The renderers
generate no UIDs either; the only ones in the outputs are copied from the inputs.

    KUBESAT_UPDATE_GOLDEN=1 python -m pytest -q tests/unit/k8s

rewrites every output from what the renderers say now (and creates missing ones); then
read `git diff tests/unit/k8s/golden`: the golden files are the assertions.

An input may carry `knownBug: <why>`: its output then holds what the renderer *should*
say (written by hand, never rewritten by the flag) and the case is a strict xfail, so
fixing the bug turns it into an XPASS failure that asks for the line to go.

Times are plain strings on both sides (the YAML timestamp type is switched off), as they
are in Kubernetes bodies.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_VARIABLE = "KUBESAT_UPDATE_GOLDEN"
WALL = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
INPUT_SUFFIX = ".input.yaml"
OUTPUT_SUFFIX = ".output.yaml"
HEADER = (
    "# Golden output of {name}{suffix}; KUBESAT_UPDATE_GOLDEN=1 rewrites it.\n"
    "# Review every change: this file is the assertion (tests/unit/k8s/golden.py).\n"
)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def _without_timestamps(resolvers: dict[Any, Any]) -> dict[Any, Any]:
    return {
        first: [(tag, regexp) for tag, regexp in entries if tag != _TIMESTAMP]
        for first, entries in resolvers.items()
    }


class _Loader(yaml.SafeLoader):
    """Safe YAML where `2026-03-01T12:00:00Z` stays a string, as in an API body."""


class _Dumper(yaml.SafeDumper):
    """Safe YAML that writes such strings unquoted (they load back as strings here)."""


_Loader.yaml_implicit_resolvers = _without_timestamps(yaml.SafeLoader.yaml_implicit_resolvers)
_Dumper.yaml_implicit_resolvers = _without_timestamps(yaml.SafeDumper.yaml_implicit_resolvers)


def load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass


def dump(data: Any) -> str:
    # Long lines stay whole: a folded message is harder to read in a diff.
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096)


def plain(value: Any) -> Any:
    """Dataclasses, enums and tuples as YAML-able mappings, values and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def wall(case: Mapping[str, Any]) -> datetime:
    """The case's wall clock: `WALL`, or its `wall:` (ISO 8601, offsets allowed)."""
    text = case.get("wall")
    return WALL if text is None else datetime.fromisoformat(str(text))


def cases(group: str) -> list[Any]:
    """One pytest parameter per `golden/<group>/*.input.yaml`, named after the case."""
    inputs = sorted((GOLDEN_DIR / group).glob(f"*{INPUT_SUFFIX}"))
    assert inputs, f"no golden inputs under {GOLDEN_DIR / group}"
    return [pytest.param(path, id=path.name.removesuffix(INPUT_SUFFIX)) for path in inputs]


def output_path(input_path: Path) -> Path:
    return input_path.with_name(input_path.name.removesuffix(INPUT_SUFFIX) + OUTPUT_SUFFIX)


def check(
    input_path: Path, render: Callable[[dict[str, Any]], Any], request: pytest.FixtureRequest
) -> None:
    """Render the case and compare it with its output file (or rewrite that file)."""
    case = load(input_path.read_text())
    known_bug = case.get("knownBug")
    if known_bug:
        request.applymarker(pytest.mark.xfail(reason=str(known_bug), strict=True))
    rendered = dump(plain(render(case)))
    out = output_path(input_path)
    name = input_path.relative_to(GOLDEN_DIR).as_posix().removesuffix(INPUT_SUFFIX)
    if os.environ.get(UPDATE_VARIABLE) == "1" and not known_bug:
        text = HEADER.format(name=name, suffix=INPUT_SUFFIX) + rendered
        if not out.exists() or out.read_text() != text:
            out.write_text(text)
        return
    if not out.exists():
        pytest.fail(f"{out.name} is missing: run with {UPDATE_VARIABLE}=1 and review it")
    expected = out.read_text()
    if load(expected) != load(rendered):
        diff = difflib.unified_diff(
            dump(load(expected)).splitlines(),
            rendered.splitlines(),
            fromfile=f"golden/{name}{OUTPUT_SUFFIX}",
            tofile="rendered",
            lineterm="",
        )
        pytest.fail(
            f"{name} renders differently from its golden output "
            f"({UPDATE_VARIABLE}=1 rewrites it):\n" + "\n".join(diff),
            pytrace=False,
        )
