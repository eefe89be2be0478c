"""kubesat / Operator: scrape health, reconcile and scheduling latency, API errors.

(Not named operator.py: the standard library owns `operator`.)
"""

from __future__ import annotations

from deploy.dashboards.panels import board, query, stat_panel, steps, timeseries_panel
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models import dashboard as d

RECONCILE = "rate(kubesat_reconcile_duration_seconds_bucket[$__rate_interval])"
SCHEDULING = "rate(kubesat_scheduling_duration_seconds_bucket[$__rate_interval])"


def build() -> d.Dashboard:
    return board(
        "kubesat-operator",
        "kubesat / Operator",
        "The kubesat operator itself: scrape health, reconcile and scheduling latency,"
        " Kubernetes API errors.",
        [],
        [
            stat_panel(
                "kubesat targets up",
                (0, 0, 6, 4),
                query('sum by (job) (up{job=~".*kubesat.*"})', "{{job}}", instant=True),
                colors=steps("red", 1, "green"),
            ),
            stat_panel(
                "Version",
                (6, 0, 6, 4),
                query("count by (version) (kubesat_build_info)", "{{version}}", instant=True),
                colors=steps("text"),
                text=c.BigValueTextMode.NAME,
            ),
            stat_panel(
                "Scheduling decisions",
                (12, 0, 6, 4),
                query(
                    "sum by (result) (increase("
                    "kubesat_scheduling_duration_seconds_count[$__rate_interval]))",
                    "{{result}}",
                    instant=True,
                ),
                colors=steps("blue"),
                text=c.BigValueTextMode.VALUE_AND_NAME,
            ),
            stat_panel(
                "API errors",
                (18, 0, 6, 4),
                query("sum(kubesat_api_errors_total)", "errors", instant=True),
                colors=steps("green", 1, "orange"),
                about="Failed Kubernetes API calls since start.",
            ),
            timeseries_panel(
                "Reconcile latency (p50, p95)",
                (0, 4, 12, 8),
                query(
                    f"histogram_quantile(0.95, sum by (le, handler) ({RECONCILE}))",
                    "p95 {{handler}}",
                ),
                query(
                    f"histogram_quantile(0.5, sum by (le, handler) ({RECONCILE}))",
                    "p50 {{handler}}",
                ),
                unit="s",
            ),
            timeseries_panel(
                "Reconciles per second",
                (12, 4, 12, 8),
                query(
                    "sum by (handler) "
                    "(rate(kubesat_reconcile_duration_seconds_count[$__rate_interval]))",
                    "{{handler}}",
                ),
                unit="ops",
            ),
            timeseries_panel(
                "Scheduling latency (p95)",
                (0, 12, 12, 8),
                query(
                    f"histogram_quantile(0.95, sum by (le, result) ({SCHEDULING}))", "{{result}}"
                ),
                unit="s",
            ),
            timeseries_panel(
                "Kubernetes API errors",
                (12, 12, 12, 8),
                query(
                    "sum by (verb, resource, code) "
                    "(rate(kubesat_api_errors_total[$__rate_interval]))",
                    "{{verb}} {{resource}} {{code}}",
                ),
                unit="reqps",
                bars=True,
            ),
        ],
    )
