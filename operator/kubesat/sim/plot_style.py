"""Shared look of the simulation figures: resolution, colours, and how a figure is saved.

One palette for every figure, so a policy has the same colour in the timeline, goodput,
policies and Job figures (and in the sweep's). Figures are drawn on matplotlib's object
API and saved through the Agg canvas: no pyplot state, no display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI: Final = 110

POLICY_COLOURS: Final = {"none": "#d62728", "reactive": "#ff7f0e", "predictive": "#1f77b4"}
OTHER_COLOURS: Final = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
SUNLIT_BG: Final = "#fff3c4"
ECLIPSE_BG: Final = "#c5cde0"
SOC_COLOUR: Final = "#7b2d8b"
GPU_COLOUR: Final = "#2a9d4b"
SUN_COLOUR: Final = "#f2a900"
PENUMBRA_COLOUR: Final = "#c06c84"
UMBRA_COLOUR: Final = "#1d2c5e"
GANG_COLOUR: Final = "#d62728"
LINK_COLOUR: Final = "#9aa5b1"
FLEET_COLOUR: Final = "#8a8a8a"
BOUND_COLOUR: Final = "black"


def _save(figure: Figure, path: Path) -> Path:
    """Render `figure` on the Agg canvas into the PNG at `path`, white behind; the path."""
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI, facecolor="white")
    return path


def _slug(name: str) -> str:
    """`name` made safe for a file name: letters, digits, - and _ kept, others as -."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "policy"


def _policy_colour(policy: str, index: int) -> str:
    """The colour of a policy: its own for the built-in ones, else the `index`-th spare."""
    return POLICY_COLOURS.get(policy, OTHER_COLOURS[index % len(OTHER_COLOURS)])
