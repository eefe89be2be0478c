"""PNG plots of a sweep, drawn from its JSON document (so a saved sweep can be re-plotted).

- `sweep-<parameter>.png`: goodput and useful GPU-hours per day against each swept
  parameter, one line per policy through the design with the most GPU-hours at each value
  (over the other parameters), every design a faint dot.
- `pareto.png`: useful GPU-hours per day against battery Wh and against array W; the
  Pareto front (no other design has as small a battery and array and more GPU-hours)
  drawn and labelled, for the predictive policy if it ran (else the first).

matplotlib's object API on the Agg canvas, as `plots.py`: no pyplot state, no display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from kubesat.sim.plots import DPI, _policy_colour, _save, _slug

METRICS: Final = (
    ("goodput_ratio", "goodput (useful / reachable)"),
    ("gpu_hours_per_day", "useful GPU-hours per day"),
)
PARETO_POLICY: Final = "predictive"
BEST_BY: Final = "gpu_hours_per_day"  # what "the best design" at a parameter value means

Record = Mapping[str, Any]


def write_sweep_plots(directory: Path, document: Mapping[str, Any]) -> list[Path]:
    """Write the sweep's figures into `directory` (created); their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sweep, records = document["sweep"], document["points"]
    paths = []
    for axis in sweep["axes"]:
        figure = parameter_figure(axis["path"], axis["values"], sweep["policies"], records)
        name = _slug(axis["path"].rsplit("/", 1)[-1].rsplit(".", 1)[-1])
        paths.append(_save(figure, directory / f"sweep-{name}.png"))
    paths.append(_save(pareto_figure(sweep["policies"], records), directory / "pareto.png"))
    return paths


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[-1]


def _positions(values: Sequence[Any]) -> tuple[list[float], list[str] | None]:
    """x positions of an axis' values: the numbers themselves, or 0..n-1 for words."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], None
    return [float(i) for i in range(len(values))], [str(v) for v in values]


def parameter_figure(
    path: str, values: Sequence[Any], policies: Sequence[str], records: Sequence[Record]
) -> Figure:
    """Each metric against one parameter: per policy the best over the other parameters."""
    xs, labels = _positions(values)
    where = {repr(v): x for v, x in zip(values, xs, strict=True)}
    figure = Figure(figsize=(10, 7), layout="constrained")
    axes = figure.subplots(len(METRICS), 1, sharex=True)
    for index, policy in enumerate(policies):
        colour = _policy_colour(policy, index)
        at = [where[repr(r["parameters"][path])] for r in records]
        results = [r["report"]["policies"][policy] for r in records]
        # at each value, the design (over the other parameters) with the most GPU-hours
        best = [
            max(
                (res for x, res in zip(at, results, strict=True) if x == value),
                key=lambda res: float(res[BEST_BY]),
            )
            for value in xs
        ]
        for ax, (metric, _) in zip(axes, METRICS, strict=True):
            ax.scatter(at, [res[metric] for res in results], color=colour, alpha=0.25, s=18)
            ax.plot(
                xs, [res[metric] for res in best], color=colour, lw=2, marker="o", ms=5,
                label=policy,
            )  # fmt: skip
    for ax, (_, title) in zip(axes, METRICS, strict=True):
        ax.set_ylabel(title)
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0].set_ylim(0, 1.05)
    title = "line: at each value, the design with\nthe most GPU-hours; dots: every design"
    axes[0].legend(loc="lower right", fontsize=9, title=title, title_fontsize=8)
    if labels is not None:
        axes[-1].set_xticks(xs, labels)
    axes[-1].set_xlabel(path)
    figure.suptitle(f"Sweep: goodput and useful GPU-hours per day against {_short(path)}")
    return figure


def pareto_front(cost: np.ndarray[Any, Any], value: np.ndarray[Any, Any]) -> list[int]:
    """Indices of the designs no other beats: as cheap on every cost column (lower is
    better) and at least as much value, better on one. Sorted by the first cost."""
    front = []
    for i in range(len(value)):
        as_good = np.all(cost <= cost[i], axis=1) & (value >= value[i])
        better = np.any(cost < cost[i], axis=1) | (value > value[i])
        if not np.any(as_good & better):
            front.append(i)
    return sorted(front, key=lambda i: (float(cost[i, 0]), float(cost[i, 1])))


def pareto_figure(policies: Sequence[str], records: Sequence[Record]) -> Figure:
    """GPU-hours per day against battery Wh (a line per array size) and against array W (a
    line per battery size); the Pareto-optimal designs circled and labelled."""
    policy = PARETO_POLICY if PARETO_POLICY in policies else policies[0]
    battery = np.array([float(r["design"]["battery_wh"]) for r in records])
    array = np.array([float(r["design"]["solar_array_w"]) for r in records])
    value = np.array([float(r["report"]["policies"][policy]["gpu_hours_per_day"]) for r in records])
    viable = np.array([bool(r["report"]["viability"].get("viable")) for r in records])
    # the front among viable designs (a bus that cannot ride the eclipse is no design)
    among = np.flatnonzero(viable) if viable.any() else np.arange(len(records))
    front = [
        int(among[i]) for i in pareto_front(np.column_stack([battery, array])[among], value[among])
    ]
    figure = Figure(figsize=(13, 6), layout="constrained")
    panels = figure.subplots(1, 2, sharey=True)
    for ax, x, group, x_label, unit in (
        (panels[0], battery, array, "battery (Wh)", "W array"),
        (panels[1], array, battery, "solar array (W)", "Wh battery"),
    ):
        kinds = np.unique(group)
        colours = colormaps["viridis"](np.linspace(0.0, 0.9, len(kinds)))
        for kind, colour in zip(kinds, colours, strict=True):
            rows = np.flatnonzero(group == kind)
            rows = rows[np.argsort(x[rows], kind="stable")]
            ax.plot(x[rows], value[rows], color=colour, lw=1.6, marker="o", ms=5,
                    label=f"{kind:g} {unit}")  # fmt: skip
        if (~viable).any():
            ax.scatter(x[~viable], value[~viable], marker="x", color="#d62728", s=60,
                       zorder=4, label="not viable: the bus cannot ride the eclipse")  # fmt: skip
        ax.scatter(x[front], value[front], s=170, facecolors="none", edgecolors="black",
                   lw=1.4, zorder=5, label="Pareto-optimal (viable)")  # fmt: skip
        ax.set_xlabel(x_label)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    for i in front:
        panels[0].annotate(f"{battery[i]:g} Wh, {array[i]:g} W", (battery[i], value[i]),
                           textcoords="offset points", xytext=(8, 6), fontsize=8)  # fmt: skip
    panels[0].set_ylabel(f"useful GPU-hours per day ({policy})")
    panels[0].set_ylim(0, float(value.max()) * 1.12 if value.size else 1.0)
    figure.suptitle(
        "Sweep: what battery and array buy. Pareto-optimal: no other viable design has as "
        "small a battery and array and more GPU-hours"
    )
    figure.set_dpi(DPI)
    return figure
