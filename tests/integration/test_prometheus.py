"""The dashboards and alerts against a real Prometheus scraping a live simulation.

A Prometheus (the Debian package's binary) scrapes, every second, `kubesat simulate
examples/sso-12.yaml --metrics-port P` running 2 simulated hours at 600x wall time, and the
same for examples/three-body-12.yaml (a gang training over laser links, for the Job
families and the Training jobs row), with the alert rules loaded. Once the runs are over,
every PromQL expression of every dashboard panel is sent through the HTTP API with its
template variables filled in: each must parse and return data, or the panel would show
nothing. The alert expressions must evaluate, each selector in them must match series, and
Prometheus must report every rule healthy; stopping the sso-12 simulator must then raise
KubesatOperatorDown.

The simulator does not run Kopf handlers, so the operator's own histograms and API error
counter come from a stand-in target that serves the real OperatorMetrics class with
synthetic observations.

Without the prometheus binary these tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from kubesat.metrics import OperatorMetrics, serve
from tests.support.grafana import (
    RULES_FILE,
    RULES_TEST_FILE,
    Query,
    metric_names,
    queries,
    rules,
    substitute,
    variable_queries,
)
from tests.support.prerequisites import missing
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
SPEEDUP = 600  # 2 simulated hours in 12 s of wall time
SIMULATED = "2h"
# What Grafana would put in the queries: a rate window of several 1 s scrapes
GANG_CONSTELLATION = "three-body-12"
GANG_JOB = "default/train-1b"  # 8 members of 4 GPUs, 2 s of compute per training step
GANG_MEMBERS, GANG_GPUS = 8, 32
VARIABLES = {
    "constellation": f"sso-12|{GANG_CONSTELLATION}",
    "job_name": ".*",
    "satellite": ".*",
    "__rate_interval": "10s",
    "__interval": "2s",
    "__range": "1m",
}


def binary(name: str) -> str:
    path = shutil.which(name)
    if not path:
        missing(f"no `{name}` binary (apt-get install prometheus)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    """A Prometheus that scraped a whole simulated run, and how to ask it."""

    url: str
    simulator: subprocess.Popen[str]  # sso-12
    started: float  # wall time when the simulator was started
    ended: float  # wall time when the run's report was printed

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=30) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:  # 400 / 422: bad query, with its reason
            body = json.load(error)
        assert body["status"] == "success", f"{path} {params}: {body.get('error')}"
        return body["data"]

    def instant(self, expr: str) -> list[dict[str, Any]]:
        """At the last second of the run, as a stat panel would show it then."""
        return self.api("/api/v1/query", query=expr, time=self.ended - 1)["result"]

    def range(self, expr: str) -> list[dict[str, Any]]:
        """Over the run, one point a second, as a time-series panel would draw it."""
        return self.api(
            "/api/v1/query_range", query=expr, start=self.started, end=self.ended, step=1
        )["result"]


class StandInOperator:
    """Serves OperatorMetrics with steady synthetic observations (the operator's part)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.metrics = OperatorMetrics(self.registry, handlers=("satellite-status",))
        self.server, _ = serve(0, self.registry, "127.0.0.1")
        self.port = self.server.server_address[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def _work(self) -> None:
        tick = 0
        while not self.stop.wait(0.05):
            tick += 1
            self.metrics.observe_reconcile("satellite-status", 0.01 * (1 + tick % 7))
            self.metrics.observe_reconcile("constellation-clock", 0.002 * (1 + tick % 3))
            self.metrics.observe_scheduling("bound" if tick % 4 else "unschedulable", 0.003)
            if tick % 10 == 0:
                self.metrics.count_api_error("patch", "nodes", 409)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    prometheus = binary("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    operator = StandInOperator()
    sim_port, gang_port, web_port = free_port(), free_port(), free_port()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": [
            {
                "job_name": "kubesat-simulate",
                "static_configs": [{"targets": [f"127.0.0.1:{sim_port}"]}],
            },
            {
                "job_name": "kubesat-operator",
                "static_configs": [{"targets": [f"127.0.0.1:{operator.port}"]}],
            },
            {
                "job_name": "kubesat-gangs",
                "static_configs": [{"targets": [f"127.0.0.1:{gang_port}"]}],
            },
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    log = (workdir / "prometheus.log").open("w")
    server = subprocess.Popen(
        [
            prometheus,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{web_port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    simulators: list[subprocess.Popen[str]] = []
    sim_log = (workdir / "simulate.err").open("w")
    try:
        url = f"http://127.0.0.1:{web_port}"
        wait_for("Prometheus to be ready", lambda: _ready(url, server, workdir), 60)
        started = time.time()
        for example, port in (("sso-12", sim_port), (GANG_CONSTELLATION, gang_port)):
            simulators.append(_simulate(example, port, sim_log))
        # The reports are printed when the runs are over (the AP8 grid may be built first).
        for simulator in simulators:
            assert simulator.stdout is not None
            if not any("h simulated" in line for line in simulator.stdout):
                pytest.fail(
                    "the simulator ended without a report: "
                    + (workdir / "simulate.err").read_text(encoding="utf-8")[-2000:]
                )
        ended = time.time()
        time.sleep(2.5)  # the last scrapes and rule evaluations of the run
        yield Live(url, simulators[0], started, ended)
    finally:
        for simulator in simulators:
            if simulator.poll() is None:
                simulator.terminate()
                simulator.wait(10)
            assert simulator.stdout is not None
            simulator.stdout.close()
        server.terminate()
        server.wait(20)
        log.close()
        sim_log.close()
        operator.close()


def _simulate(example: str, port: int, log: Any) -> subprocess.Popen[str]:
    """`kubesat simulate` of an example, served on `port` and kept up after the run."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesat.cli",
            "simulate",
            str(ROOT / "examples" / f"{example}.yaml"),
            "--duration",
            SIMULATED,
            "--speedup",
            str(SPEEDUP),
            "--metrics-port",
            str(port),
            "--metrics-address",
            "127.0.0.1",
            "--linger",
            "120",
            "--quiet",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "operator"), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )


def _ready(url: str, server: subprocess.Popen[bytes], workdir: Path) -> bool:
    if server.poll() is not None:
        pytest.fail(
            f"prometheus exited with {server.returncode}: "
            + (workdir / "prometheus.log").read_text(encoding="utf-8")[-2000:]
        )
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def selectors(expr: str) -> list[str]:
    """The vector selectors of an expression: metric name and its {matchers}, if any."""
    return [
        selector
        for name in sorted(metric_names(expr))
        for selector in re.findall(rf"\b{name}\b(?:\{{[^}}]*\}})?", expr)
    ]


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    values = [s["value"] for s in result if "value" in s]
    values += [v for s in result for v in s.get("values", [])]
    return any(math.isfinite(float(v[1])) for v in values)


def test_the_run_was_scraped(live: Live):
    assert live.ended - live.started >= 2 * 3600 / SPEEDUP * 0.9
    [sample] = live.instant('kubesat_simulated_time_seconds{constellation="sso-12"}')
    assert float(sample["value"][1]) > 1.79e9
    satellites = live.instant('count(kubesat_satellite_sunlit{constellation="sso-12"})')
    assert float(satellites[0]["value"][1]) == 12
    targets = live.api("/api/v1/targets")["activeTargets"]
    assert {t["labels"]["job"]: t["health"] for t in targets} == {
        "kubesat-simulate": "up",
        "kubesat-operator": "up",
        "kubesat-gangs": "up",
    }


def values(result: list[dict[str, Any]]) -> list[float]:
    """Every sample value of an instant or range result."""
    found = [float(s["value"][1]) for s in result if "value" in s]
    return found + [float(v[1]) for s in result for v in s.get("values", [])]


def test_job_families_of_a_running_gang(live: Live):
    """The gang's report and the links as Prometheus stored them: labelled by the Job's
    namespace/name (job stays the scrape job), with values a 2-hour run can have."""
    job = f'constellation="{GANG_CONSTELLATION}", job_name="{GANG_JOB}"'
    [progress] = live.instant(f"kubesat_job_progress_ratio{{{job}}}")
    assert progress["metric"]["job"] == "kubesat-gangs"
    assert 0.0 < float(progress["value"][1]) < 1.0  # 2 h of an 8-hour job
    activity = {
        s["metric"]["activity"]: float(s["value"][1])
        for s in live.instant(f"kubesat_job_activity_seconds_total{{{job}}}")
    }
    assert activity.keys() == {"compute", "exchange", "checkpoint", "wait"}
    assert activity["compute"] > activity["exchange"] > 0.0  # 2 s of compute per step
    assert 0.0 < sum(activity.values()) <= 2 * 3600.0  # elapsed, at most the run
    [gpu] = values(live.instant(f"kubesat_job_gpu_seconds_total{{{job}}}"))
    assert 0.0 < gpu <= GANG_GPUS * 2 * 3600.0  # all its GPUs held at most
    assert values(live.instant(f"kubesat_job_gang_members{{{job}}}")) == [float(GANG_MEMBERS)]
    # the step and the projection while the gang ran: from the range over the run
    steps = values(live.range(f"kubesat_job_step_seconds{{{job}}}"))
    assert steps and all(2.0 < step < 60.0 for step in steps)  # compute + all-reduce
    projected = values(live.range(f"kubesat_job_projected_finish_seconds{{{job}}}"))
    assert projected and all(p > 0 for p in projected)
    assert projected[-1] > 2 * 3600.0  # from its arrival: not done in the 2 h run
    links = values(
        live.range(f'kubesat_inter_satellite_links_up{{constellation="{GANG_CONSTELLATION}"}}')
    )
    assert links and all(0 <= n <= 12 for n in links) and max(links) > 0  # a ring of 12
    # sso-12 has no links between satellites: no series
    assert not live.instant('kubesat_inter_satellite_links_up{constellation="sso-12"}')


@pytest.mark.parametrize("query", queries(), ids=str)
def test_dashboard_query_returns_data(live: Live, query: Query):
    expr = substitute(query.expr, VARIABLES)
    result = live.instant(expr) if query.instant else live.range(expr)
    assert result, f"{query}: no data for {expr}"
    assert has_finite_value(result), f"{query}: only NaN or Inf for {expr}: {result[:3]}"
    # and each selector on its own, so that a constant part (or vector(...)) hides none
    for selector in selectors(expr):
        assert live.range(selector), f"{query}: {selector} matches no series"


@pytest.mark.parametrize(
    ("board", "variable", "selector", "label"), variable_queries(), ids=lambda v: str(v)
)
def test_dashboard_variable_has_values(live: Live, board, variable, selector, label):
    params: dict[str, Any] = {"start": live.started, "end": live.ended}
    if selector:
        params["match[]"] = substitute(selector, VARIABLES)
    values = live.api(f"/api/v1/label/{label}/values", **params)
    assert values, f"{board} ${variable}: no values"
    if label == "constellation":
        assert "sso-12" in values


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r.get("alert") or r.get("record"))
def test_alert_expression_evaluates_over_real_series(live: Live, rule):
    """The expression parses and evaluates; each of its selectors matches real series.

    An alert expression returns nothing while all is well, so "returns data" is asked of
    what it is made of: every metric selector in it.
    """
    live.instant(rule["expr"])  # raises on a parse or evaluation error
    for selector in selectors(rule["expr"]):
        assert live.instant(selector), f"{rule['alert']}: {selector} matches no series"


def test_rules_are_loaded_and_healthy(live: Live):
    groups = live.api("/api/v1/rules")["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    assert loaded.keys() == {r["alert"] for r in rules()}
    for name, rule in loaded.items():
        assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"
    alerts = live.api("/api/v1/alerts")["alerts"]
    assert not [a for a in alerts if a["labels"]["alertname"] == "KubesatOperatorDown"]


def test_operator_down_alert_when_the_target_stops(live: Live):
    """Runs last: it stops the simulator, then waits for the alert to become pending."""
    live.simulator.terminate()
    live.simulator.wait(10)

    def pending() -> list[dict[str, Any]]:
        return [
            a
            for a in live.api("/api/v1/alerts")["alerts"]
            if a["labels"]["alertname"] == "KubesatOperatorDown"
        ]

    [alert] = wait_for("KubesatOperatorDown", pending, 30)
    assert alert["state"] == "pending"  # for: 2m
    assert alert["labels"]["job"] == "kubesat-simulate"
    assert alert["labels"]["severity"] == "critical"


def test_promtool_check_rules():
    promtool = binary("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES_FILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules():
    promtool = binary("promtool")
    result = subprocess.run(
        [promtool, "test", "rules", str(RULES_TEST_FILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
