"""kubesat / Operator: scrape health, reconcile and scheduling latency, API errors.

(Not named operator.py: the standard library owns `operator`.)
"""

from __future__ import annotations

from deploy.dashboards.panels import (
    band,
    board,
    increase,
    query,
    rate,
    stat_panel,
    steps,
    timeseries_panel,
)
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models import dashboard as d

RECONCILE = rate("kubesat_reconcile_duration_seconds_bucket")
SCHEDULING = rate("kubesat_scheduling_duration_seconds_bucket")


def build() -> d.Dashboard:
    return board(
        "kubesat-operator",
        "kubesat / Operator",
        "The kubesat operator itself: scrape health, reconcile and scheduling latency,"
        " Kubernetes API errors.",
        [],
        [
            band(
                0,
                4,
                stat_panel(
                    "kubesat targets up",
                    query('sum by (job) (up{job=~".*kubesat.*"})', "{{job}}", instant=True),
                    colors=steps("red", 1, "green"),
                ),
                stat_panel(
                    "Version",
                    query("count by (version) (kubesat_build_info)", "{{version}}", instant=True),
                    colors=steps("text"),
                    text=c.BigValueTextMode.NAME,
                ),
                stat_panel(
                    "Scheduling decisions",
                    query(
                        "sum by (result) "
                        f"({increase('kubesat_scheduling_duration_seconds_count')})",
                        "{{result}}",
                        instant=True,
                    ),
                    colors=steps("blue"),
                    text=c.BigValueTextMode.VALUE_AND_NAME,
                ),
                stat_panel(
                    "API errors",
                    query("sum(kubesat_api_errors_total)", "errors", instant=True),
                    colors=steps("green", 1, "orange"),
                    about="Failed Kubernetes API calls since start.",
                ),
            ),
            band(
                4,
                8,
                timeseries_panel(
                    "Reconcile latency (p50, p95)",
                    *(
                        query(
                            f"histogram_quantile({p / 100:g}, sum by (le, handler) ({RECONCILE}))",
                            f"p{p} {{{{handler}}}}",
                        )
                        for p in (95, 50)
                    ),
                    unit="s",
                ),
                timeseries_panel(
                    "Reconciles per second",
                    query(
                        f"sum by (handler) ({rate('kubesat_reconcile_duration_seconds_count')})",
                        "{{handler}}",
                    ),
                    unit="ops",
                ),
            ),
            band(
                12,
                8,
                timeseries_panel(
                    "Scheduling latency (p95)",
                    query(
                        f"histogram_quantile(0.95, sum by (le, result) ({SCHEDULING}))",
                        "{{result}}",
                    ),
                    unit="s",
                ),
                timeseries_panel(
                    "Kubernetes API errors",
                    query(
                        f"sum by (verb, resource, code) ({rate('kubesat_api_errors_total')})",
                        "{{verb}} {{resource}} {{code}}",
                    ),
                    unit="reqps",
                    bars=True,
                ),
            ),
        ],
    )
