"""Figures of the fleet's power and work: per-satellite timelines, the goodput against
the energy bound over the run, and the policies side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from numpy.typing import NDArray

from kubesat.core.power import energy_bound_gpu_seconds
from kubesat.sim.plot_run import (
    BOUND_PREFIXES,
    FULL_SUN,
    _run_steps,
    _satellite_label,
    _title,
    sample_times_seconds,
)
from kubesat.sim.plot_style import (
    ECLIPSE_BG,
    GPU_COLOUR,
    SOC_COLOUR,
    SUNLIT_BG,
    _policy_colour,
)

if TYPE_CHECKING:
    from kubesat.sim.outcome import Outcome
    from kubesat.sim.run import Environment, Scenario

# Satellite-steps the prefix bounds may sort in total (~1 s); beyond it a spread subset
# of satellites gives the curve's shape and the exact fleet total scales it.
BOUND_BUDGET_SATELLITE_STEPS: Final = 20_000_000


# ---------------------------------------------------------------------------- timeline


def timeline_figure(
    scenario: Scenario, environment: Environment, outcome: Outcome, satellites: Sequence[int]
) -> Figure:
    """Per satellite, over a sunlit/eclipse background: state of charge, then GPUs busy."""
    c = environment.conditions
    power = scenario.constellation.power
    steps = _run_steps(environment)
    hours = c.grid.offsets_seconds[: steps + 1] / 3600.0
    soc = outcome.timeline.get("state_of_charge", np.zeros((len(c.illumination), 0)))
    busy = outcome.timeline.get("busy_gpus", np.zeros((len(c.illumination), 0)))
    starts, ends = sample_times_seconds(environment, soc.shape[1])
    rows = max(len(satellites), 1)
    figure = Figure(figsize=(12.5, 2.1 * rows + 1.2), layout="constrained")
    # per satellite a state-of-charge panel and a GPU strip; a blank row between satellites
    grid = figure.add_gridspec(3 * rows - 1, 1, height_ratios=([3.0, 1.2, 0.35] * rows)[:-1])
    first = None
    for row, sat in enumerate(satellites):
        charge_ax = figure.add_subplot(grid[3 * row], sharex=first)
        first = first or charge_ax
        gpu_ax = figure.add_subplot(grid[3 * row + 1], sharex=first)
        charge_ax.tick_params(axis="x", labelbottom=False)
        light = c.illumination[sat, :steps].astype(np.float64)
        lit = np.append(light >= FULL_SUN, light[-1] >= FULL_SUN)
        for ax in (charge_ax, gpu_ax):
            band = ax.get_xaxis_transform()
            ax.fill_between(
                hours, 0, 1, where=lit, step="post", color=SUNLIT_BG, lw=0, transform=band
            )
            ax.fill_between(
                hours, 0, 1, where=~lit, step="post", color=ECLIPSE_BG, lw=0, transform=band
            )
        if starts.size:
            charge_ax.plot(ends / 3600.0, 100.0 * soc[sat], color=SOC_COLOUR, lw=1.6)
            gpu_ax.fill_between(
                np.append(starts, ends[-1]) / 3600.0,
                np.append(busy[sat], busy[sat][-1]),
                step="post",
                color=GPU_COLOUR,
                alpha=0.75,
                lw=0,
            )
        charge_ax.axhline(100.0 * power.floor_soc, color="0.35", ls="--", lw=0.9)
        charge_ax.set_ylim(0, 105)
        charge_ax.set_yticks([0, 50, 100])
        charge_ax.set_ylabel("charge %", fontsize=9)
        charge_ax.tick_params(axis="x", length=0)
        gpu_ax.set_ylim(0, max(power.gpus, 1) * 1.1)
        gpu_ax.set_yticks(sorted({0, power.gpus // 2, power.gpus}))
        gpu_ax.set_ylabel("GPUs", fontsize=9)
        gpu_ax.tick_params(axis="y", labelsize=8)
        share = float(np.mean(light >= FULL_SUN))
        label = _satellite_label(scenario, environment, sat)
        charge_ax.set_title(
            f"{label}: {100 * share:.0f}% of the run in full sun",
            loc="left",
            fontsize=9.5,
            pad=3,
        )
        charge_ax.set_xlim(hours[0], hours[-1])
        if row < rows - 1:
            gpu_ax.tick_params(axis="x", labelbottom=False)
    if first is not None:
        figure.axes[-1].set_xlabel("hours since start")
    figure.suptitle(
        _title(scenario, environment, f"policy '{outcome.policy}', representative satellites"),
        fontsize=12,
    )
    figure.legend(
        handles=[
            Patch(color=SUNLIT_BG, label="full sun"),
            Patch(color=ECLIPSE_BG, label="eclipse (penumbra or umbra)"),
            Line2D([], [], color=SOC_COLOUR, lw=1.6, label="battery state of charge"),
            Line2D([], [], color="0.35", ls="--", lw=0.9, label="depth-of-discharge floor"),
            Patch(color=GPU_COLOUR, alpha=0.75, label="GPUs busy"),
        ],
        loc="outside lower center",
        ncols=5,
        frameon=False,
        fontsize=9,
    )
    return figure


# ---------------------------------------------------------------------------- goodput


def cumulative_energy_bound(
    scenario: Scenario,
    environment: Environment,
    total_gpu_seconds: float | None = None,
    prefixes: int = BOUND_PREFIXES,
    budget: int = BOUND_BUDGET_SATELLITE_STEPS,
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    """The energy bound on each prefix [0, t) of the run: times (s), GPU-seconds, a label.

    `energy_bound_gpu_seconds` on `prefixes` prefixes of the run (the bound of a prefix is
    what any schedule could have powered by then; it is not a running sum of one bound).
    If that would sort more than `budget` satellite-steps, it is computed on a subset of
    satellites spread over the fleet and scaled so its end equals the exact fleet total
    (`total_gpu_seconds`, the goodput denominator the report uses); the label says so.
    """
    c = environment.conditions
    power = scenario.constellation.power
    steps = _run_steps(environment)
    dt = c.step_seconds
    n = c.illumination.shape[0]
    fleet = len(scenario.constellation.satellites)  # the kept rows may be a spread subset
    lengths = np.unique(np.round(np.linspace(0, steps, prefixes + 1)).astype(np.int64))
    lengths = lengths[lengths > 0]
    cost = n * int(lengths.sum())
    subset = n if cost <= budget else max(1, int(n * budget / cost))
    chosen = np.unique(np.round(np.linspace(0, n - 1, subset)).astype(np.int64))
    illumination = c.illumination[chosen, :steps].astype(np.float64)
    initial = scenario.constellation.initial_state_of_charge
    bound = np.array(
        [energy_bound_gpu_seconds(power, illumination[:, :k], dt, initial).sum() for k in lengths]
    )
    label = f"energy bound (exact, {len(lengths)} prefixes)"
    if len(chosen) < fleet:
        if total_gpu_seconds is None and n < fleet:
            total_gpu_seconds = float(bound[-1]) * fleet / len(chosen)
        if total_gpu_seconds is None:
            total_gpu_seconds = float(
                energy_bound_gpu_seconds(
                    power, c.illumination[:, :steps].astype(np.float64), dt, initial
                ).sum()
            )
        scale = total_gpu_seconds / bound[-1] if bound[-1] > 0 else fleet / len(chosen)
        bound = bound * scale
        label = (
            f"energy bound ({len(chosen)} of {fleet} satellites, {len(lengths)} prefixes, "
            "scaled to the fleet total)"
        )
    times = np.concatenate([[0.0], lengths * dt])
    return times, np.concatenate([[0.0], bound]), label


def goodput_figure(
    scenario: Scenario, environment: Environment, outcomes: dict[str, Outcome]
) -> Figure:
    """Cumulative useful GPU-hours per policy against the energy bound; running goodput."""
    first = next(iter(outcomes.values()))
    bound_t, bound, bound_label = cumulative_energy_bound(
        scenario, environment, first.energy_bound_gpu_seconds or None
    )
    demand = first.demand_gpu_seconds
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    top.plot(bound_t / 3600, bound / 3600, color="black", ls="--", lw=1.5, label=bound_label)
    if 0 < demand < 1.2 * bound[-1]:
        top.axhline(demand / 3600, color="0.5", ls=":", lw=1.2, label="work the jobs ask for")
    reachable = np.minimum(bound, demand) if demand > 0 else bound
    for index, (policy, outcome) in enumerate(outcomes.items()):
        useful = np.asarray(outcome.timeline.get("useful_gpu_seconds", np.zeros(0)), float)
        _, ends = sample_times_seconds(environment, useful.size)
        colour = _policy_colour(policy, index)
        top.plot(
            ends / 3600,
            useful / 3600,
            color=colour,
            lw=2,
            label=f"{policy}: {outcome.completed_gpu_seconds / 3600:,.0f} GPU-h useful",
        )
        # ratio on the prefix grid: useful work by t over what was reachable by t
        at_bound = np.interp(bound_t[1:], ends, useful) if useful.size else bound_t[1:] * 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(reachable[1:] > 0, at_bound / reachable[1:], np.nan)
        bottom.plot(
            bound_t[1:] / 3600,
            ratio,
            color=colour,
            lw=2,
            marker="o",
            ms=3,
            label=f"{policy}: {outcome.goodput_ratio:.3f} at the end",
        )
    top.set_ylabel("cumulative GPU-hours")
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize=9)
    top.set_title("Useful work (kept progress of every job) vs. what the sunlight could power")
    bottom.set_ylabel("goodput ratio")
    bottom.set_xlabel("hours since start")
    bottom.set_ylim(0, 1.05)
    bottom.axhline(1.0, color="black", lw=0.8)
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="lower right", fontsize=9)
    bottom.set_title(
        "Goodput so far = useful GPU-seconds by t / min(energy bound by t, job demand)",
        fontsize=10,
    )
    bottom.set_xlim(0, bound_t[-1] / 3600)
    figure.suptitle(_title(scenario, environment, "fleet goodput"), fontsize=12)
    return figure


# ---------------------------------------------------------------------------- policies


def policies_figure(
    scenario: Scenario, environment: Environment, outcomes: dict[str, Outcome]
) -> Figure:
    """Bars per policy: goodput ratio, completed GPU-hours against the bound, lost GPU-hours."""
    names = list(outcomes)
    colours = [_policy_colour(p, i) for i, p in enumerate(names)]
    x = np.arange(len(names))
    figure = Figure(figsize=(12, 4.8), layout="constrained")
    ratio_ax, done_ax, lost_ax = figure.subplots(1, 3)

    ratios = [o.goodput_ratio for o in outcomes.values()]
    bars = ratio_ax.bar(x, ratios, color=colours, width=0.6)
    ratio_ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=9)
    ratio_ax.set_ylim(0, 1.1)
    ratio_ax.set_title("goodput ratio\n(useful / min(energy bound, demand))", fontsize=10)

    completed = [o.completed_gpu_seconds / 3600 for o in outcomes.values()]
    bars = done_ax.bar(x, completed, color=colours, width=0.6)
    done_ax.bar_label(bars, fmt="{:,.0f}", padding=2, fontsize=9)
    bound = max(o.energy_bound_gpu_seconds for o in outcomes.values()) / 3600
    done_ax.axhline(bound, color="black", ls="--", lw=1.2)
    done_ax.annotate(
        f"energy bound {bound:,.0f}",
        (1.0, bound),
        xycoords=("axes fraction", "data"),
        xytext=(-4, 4),
        textcoords="offset points",
        ha="right",
        fontsize=8.5,
    )
    done_ax.set_ylim(0, max([bound, *completed]) * 1.15 or 1)
    done_ax.set_title("useful work\n(GPU-hours)", fontsize=10)

    lost = [o.lost_gpu_seconds / 3600 for o in outcomes.values()]
    bars = lost_ax.bar(x, lost, color=colours, width=0.6)
    lost_ax.bar_label(bars, fmt="{:,.1f}", padding=2, fontsize=9)
    lost_ax.set_ylim(0, max(lost) * 1.15 or 1)
    lost_ax.set_title("work lost since the last checkpoint\n(GPU-hours)", fontsize=10)

    for ax in (ratio_ax, done_ax, lost_ax):
        ax.set_xticks(x, names)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    figure.suptitle(_title(scenario, environment, "policies compared"), fontsize=12)
    return figure
