"""Reference page of the metrics, written from the families `kubesat.metrics` declares.

The families come from the code that exports them: :class:`kubesat.metrics.FleetCollector`
(the simulator and the operator) describes its families without samples, and
:class:`kubesat.metrics.OperatorMetrics` registers its histograms and counter on a
registry of ours. Nothing is copied by hand, so a family added, renamed or re-described in
`metrics.py` changes this page (and `make docs` fails until it is regenerated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from kubesat import metrics
from kubesat.docgen.markdown import banner, cell, code, table
from kubesat.engine.job_stats import ACTIVITY_NAMES
from kubesat.telemetry import POD_PHASES, UPSET_KINDS

SOURCE = "operator/kubesat/metrics.py"

# The values a bounded label takes, from the constants the exporters use.
LABEL_VALUES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("kubesat_radiation_upsets", "kind"): UPSET_KINDS,
    ("kubesat_pod_evictions", "reason"): metrics.EVICTION_REASONS,
    ("kubesat_pod_failures", "reason"): metrics.FAILURE_REASONS,
    ("kubesat_pods", "phase"): POD_PHASES,
    ("kubesat_job_activity_seconds", "activity"): ACTIVITY_NAMES,
    ("kubesat_scheduling_duration_seconds", "result"): metrics.SCHEDULING_RESULTS,
}


@dataclass(frozen=True)
class Family:
    """One metric family as a scrape shows it."""

    name: str  # the family name in the code (a counter's without `_total`)
    kind: str  # counter, gauge, histogram
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()

    @property
    def exposed(self) -> str:
        """The name Prometheus stores (counters carry `_total`)."""
        return f"{self.name}_total" if self.kind == "counter" else self.name


def _labels(thing: Any) -> tuple[str, ...]:
    # prometheus_client keeps label names on both metric families and wrappers
    return tuple(str(label) for label in getattr(thing, "_labelnames", ()))


def fleet_families() -> list[Family]:
    """The families of FleetCollector, in the order it declares them."""
    collector = metrics.FleetCollector(version="docs")
    return [
        Family(metric.name, metric.type, _labels(metric), metric.documentation)
        for metric in collector.describe()
    ]


def operator_families() -> list[Family]:
    """The families of OperatorMetrics, in the order it creates them."""
    instance = metrics.OperatorMetrics(CollectorRegistry())
    found: list[Family] = []
    for wrapper in vars(instance).values():
        if not isinstance(wrapper, MetricWrapperBase):
            continue
        bounds = getattr(wrapper, "_upper_bounds", ())
        for metric in wrapper.describe():
            found.append(
                Family(
                    metric.name,
                    metric.type,
                    _labels(wrapper),
                    metric.documentation,
                    tuple(float(b) for b in bounds if b != float("inf")),
                )
            )
    return found


def families() -> list[Family]:
    """Every family kubesat exports, fleet first."""
    return [*fleet_families(), *operator_families()]


def _label_cell(family: Family) -> str:
    parts = []
    for label in family.labels:
        values = LABEL_VALUES.get((family.name, label))
        shown = code(label)
        if values:
            shown += " (" + ", ".join(code(v) for v in values) + ")"
        parts.append(shown)
    return ", ".join(parts)


def _rows(found: Iterable[Family]) -> list[list[str]]:
    rows = []
    for family in found:
        help_text = cell(family.help)
        if family.buckets:
            bounds = ", ".join(f"{b:g}" for b in family.buckets)
            help_text += f" Buckets (s): {bounds}."
        rows.append([code(family.exposed), family.kind, _label_cell(family), help_text])
    return rows


def render() -> str:
    """The Markdown page of every metric family."""
    header = ["Metric", "Type", "Labels (values known from the start)", "Help"]
    lines = [
        banner([SOURCE]),
        "",
        "# Metrics",
        "",
        "Every family kubesat exports, with its type, its labels and its help text as a "
        "scrape shows them. Counters are listed by the name Prometheus stores (with "
        "`_total`); a histogram also exposes `_bucket`, `_sum` and `_count` series. Where a "
        "label takes a fixed set of values, they are listed; those series exist at 0 from "
        "the first scrape. What the families mean and how to query them: "
        "[Metrics](../operator/metrics.md).",
        "",
        "## Fleet: the simulator and the operator",
        "",
        "Exported by `FleetCollector` from each constellation's latest snapshot, by "
        "`kubesat operator` and by `kubesat simulate --metrics-port`.",
        "",
        *table(header, _rows(fleet_families())),
        "",
        "## Operator only",
        "",
        "Updated by `OperatorMetrics` as the operator works.",
        "",
        *table(header, _rows(operator_families())),
    ]
    return "\n".join(lines) + "\n"
