"""What part of a run a figure shows: its steps, the timeline's sample times, a few
representative satellites and their names, and the figure titles."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from kubesat.sim.run import Environment, Scenario

BOUND_PREFIXES: Final = 40  # points of the cumulative energy-bound curve
FULL_SUN: Final = 0.999  # illuminated fraction counted as full sun in the plots

FloatArray = NDArray[np.float64]


def _run_steps(environment: Environment) -> int:
    """Steps simulated (the conditions run on beyond them, for the lookahead)."""
    return max(1, min(environment.steps, int(environment.conditions.illumination.shape[1])))


def _title(scenario: Scenario, environment: Environment, what: str) -> str:
    """A figure title: the constellation, `what` the figure shows, its start and length."""
    c = environment.conditions
    start = c.grid.start_utc.strftime("%Y-%m-%d %H:%M UTC")
    hours = _run_steps(environment) * c.step_seconds / 3600.0
    return f"{scenario.constellation.name}: {what}  ({start}, {hours:g} h)"


def sample_times_seconds(environment: Environment, samples: int) -> tuple[FloatArray, FloatArray]:
    """Start and end offsets (s) of the steps the engine sampled its timeline at.

    `Cluster.run` records busy GPUs, state of charge and useful work after step k for
    every k divisible by `sample_every` (run.py: max(1, steps // 2000)), so S samples of a
    T-step run were taken every ceil(T / S) steps; sample i covers step i x that.
    """
    steps = _run_steps(environment)
    dt = environment.conditions.step_seconds
    every = max(1, math.ceil(steps / max(samples, 1)))
    start = np.arange(samples, dtype=np.float64) * (every * dt)
    return start, start + dt


def representative_satellites(environment: Environment, count: int) -> list[int]:
    """Up to `count` satellites spread from the least to the most sunlit over the run."""
    illumination = environment.conditions.illumination[:, : _run_steps(environment)]
    sunlit = (illumination >= FULL_SUN).mean(axis=1)
    order = np.argsort(sunlit, kind="stable")
    picks = np.unique(np.round(np.linspace(0, len(order) - 1, min(count, len(order)))))
    return sorted(int(order[int(p)]) for p in picks)


def _satellite(environment: Environment, row: int) -> int:
    """The fleet index of the satellite in row `row` of the kept conditions and timelines."""
    traced = environment.traced
    return int(traced[row]) if row < len(traced) else row


def _satellite_label(scenario: Scenario, environment: Environment, row: int) -> str:
    """The name of the satellite in row `row` of the kept conditions."""
    satellites = scenario.constellation.satellites
    index = _satellite(environment, row)
    return satellites[index].name if index < len(satellites) else f"satellite {index}"
