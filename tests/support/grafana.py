"""Reading the shipped Grafana dashboards and Prometheus rules, for the tests that check them.

A dashboard query is run outside Grafana by substituting its template variables with
concrete values, as Grafana would before sending it to Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "deploy" / "dashboards"
RULES_FILE = ROOT / "deploy" / "alerts" / "kubesat-rules.yaml"
RULES_TEST_FILE = ROOT / "deploy" / "alerts" / "kubesat-rules.test.yaml"

# A metric name in PromQL: not a function (followed by "(") nor a label matcher ("=").
METRIC = re.compile(r"\b(kubesat_[a-z_]+|up)\b(?!\s*(?:\(|=|!=|!~))")
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard panel."""

    dashboard: str
    panel: str
    ref_id: str
    expr: str
    instant: bool

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}"


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries() -> list[Query]:
    return [
        Query(name, panel["title"], target["refId"], target["expr"], bool(target.get("instant")))
        for name, dashboard in dashboards().items()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def variable_queries() -> list[tuple[str, str, str | None, str]]:
    """(dashboard, variable, selector or None, label) of every label_values() variable."""
    found = []
    for name, dashboard in dashboards().items():
        for variable in dashboard["templating"]["list"]:
            if variable["type"] != "query":
                continue
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            match = LABEL_VALUES.match(text.strip())
            assert match, f"{name} ${variable['name']}: expected label_values(...), got {text!r}"
            found.append((name, variable["name"], match["selector"], match["label"]))
    return found


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace $name and ${name} (longest names first, so $__rate_interval wins)."""
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    assert "$" not in expr, f"unsubstituted variable in {expr!r}"
    return expr


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    return set(METRIC.findall(expr))
