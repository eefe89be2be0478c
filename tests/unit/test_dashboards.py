"""The shipped Grafana dashboards and alert rules: well formed, and naming real metrics.

What their queries return is checked against a real Prometheus in
tests/integration/test_prometheus.py; these checks need nothing but the files.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from kubesat.metrics import FleetCollector, OperatorMetrics
from tests.support.grafana import (
    DASHBOARD_DIR,
    dashboards,
    metric_names,
    panels,
    queries,
    rules,
    variable_queries,
)
from tests.unit.test_metrics import job_stats, snapshot

BOARDS = dashboards()


def exported_names() -> set[str]:
    """Every sample name kubesat exports (with _total, _bucket, ...), plus Prometheus's up."""
    registry = CollectorRegistry()
    collector = FleetCollector()
    registry.register(collector)
    n = len(snapshot().satellites)
    collector.update(  # with a thermal model, a running gang and links: every family
        replace(
            snapshot(),
            temperature_k=np.full(n, 300.0),
            throttled_gpus=np.zeros(n, np.int64),
            heat_rejected_j_total=np.full(n, 1e6),
            jobs=(job_stats(),),
            links_up=4,
        )
    )
    metrics = OperatorMetrics(registry)
    metrics.observe_reconcile("register", 0.1)
    metrics.count_api_error("get", "nodes", 500)
    return {s.name for family in registry.collect() for s in family.samples} | {"up"}


def test_there_are_dashboards_for_each_topic():
    assert {
        "kubesat-overview.json",
        "kubesat-power.json",
        "kubesat-workloads.json",
        "kubesat-radiation.json",
    } <= BOARDS.keys()


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_dashboard_is_well_formed(name):
    board = BOARDS[name]
    assert 39 <= board["schemaVersion"] <= 41
    assert board["uid"] == name.removesuffix(".json")
    assert board["title"].startswith("kubesat / ")
    assert "kubesat" in board["tags"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for panel in panels(board):
        where = f"{name} / {panel.get('title')}"
        grid = panel["gridPos"]
        assert {"x", "y", "w", "h"} <= grid.keys(), where
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, where
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["targets"], where
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), where
        for t in panel["targets"]:
            assert t["expr"].strip(), where
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_no_hard_coded_datasource(name):
    """Only the ${datasource} variable and Grafana's own annotations name a datasource."""
    text = (DASHBOARD_DIR / name).read_text(encoding="utf-8")
    uids = set(re.findall(r'"uid":\s*"([^"]*)"', text))
    assert uids <= {"${datasource}", "-- Grafana --", name.removesuffix(".json")}
    assert json.loads(text) == BOARDS[name]


def test_geomaps_have_coordinates():
    maps = [p for board in BOARDS.values() for p in panels(board) if p["type"] == "geomap"]
    assert len(maps) >= 2
    for panel in maps:
        renames = {
            new
            for t in panel.get("transformations", [])
            if t["id"] == "organize"
            for new in t["options"]["renameByName"].values()
        }
        for layer in panel["options"]["layers"]:
            location = layer["location"]
            assert location["mode"] == "coords"
            assert {location["latitude"], location["longitude"]} <= renames, panel["title"]


@pytest.mark.parametrize("query", queries(), ids=str)
def test_dashboard_queries_name_exported_metrics(query):
    names = metric_names(query.expr)
    assert names, f"{query}: no kubesat metric in {query.expr!r}"
    assert names <= exported_names(), f"{query}: unknown {names - exported_names()}"


@pytest.mark.parametrize(
    ("board", "variable", "selector", "label"), variable_queries(), ids=lambda v: str(v)
)
def test_variables_name_exported_metrics(board, variable, selector, label):
    assert label in {"constellation", "satellite", "job_name"}
    assert metric_names(selector or "") <= exported_names()


def test_alert_rules_are_complete():
    alerts = {rule["alert"]: rule for rule in rules() if "alert" in rule}
    assert {
        "KubesatBatteryAtFloor",
        "KubesatGoodputFalling",
        "KubesatUpsetStorm",
        "KubesatOperatorDown",
    } <= alerts.keys()
    for name, rule in alerts.items():
        assert rule["for"], name
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert {"summary", "description", "runbook"} <= rule["annotations"].keys(), name
        assert "\n" not in rule["annotations"]["runbook"].strip(), f"{name}: one-line runbook"
        assert metric_names(rule["expr"]) <= exported_names(), name


def test_metric_name_pattern_skips_functions_and_labels():
    assert metric_names('sum by (x) (rate(kubesat_pods_total{up="1"}[5m])) or up') == {
        "kubesat_pods_total",
        "up",
    }


def test_training_jobs_row():
    """The Workloads board's row for Jobs: each new family drawn, the share panel stacked
    and repeated per Job."""
    board = BOARDS["kubesat-workloads.json"]
    top = board["panels"]
    [row] = [p for p in top if p["type"] == "row" and p["title"] == "Training jobs"]
    below = [p for p in top if p["gridPos"]["y"] > row["gridPos"]["y"]]
    drawn = {name for p in below for t in p["targets"] for name in metric_names(t["expr"])}
    assert {
        "kubesat_job_progress_ratio",
        "kubesat_job_activity_seconds_total",
        "kubesat_job_gpu_seconds_total",
        "kubesat_job_projected_finish_seconds",
        "kubesat_job_step_seconds",
        "kubesat_inter_satellite_links_up",
    } <= drawn
    [share] = [p for p in below if p["title"].startswith("Share of time by activity")]
    assert share["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert share["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert share["repeat"] == "job_name"
    variables = {v["name"] for v in board["templating"]["list"]}
    assert "job_name" in variables
