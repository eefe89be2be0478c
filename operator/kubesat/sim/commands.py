"""Command-line wiring of `kubesat simulate`."""

from __future__ import annotations

import argparse
from typing import Any


def add_simulate_parser(commands: Any) -> None:
    """Register `kubesat simulate` (implemented in kubesat.sim.run)."""
    sim = commands.add_parser("simulate", help="simulate a constellation running GPU jobs")
    sim.add_argument("file", help="YAML with a Constellation and Jobs")
    sim.set_defaults(run=_not_ready)


def _not_ready(args: argparse.Namespace) -> int:
    raise ValueError("simulate: not available in this build")
