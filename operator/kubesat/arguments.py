"""Argument types the `kubesat` subcommands share (argparse names the flag in the error)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive_number(unit: str = "") -> Callable[[str], float]:
    """An argparse type: a number > 0 (argparse itself names the flag in the error)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0{suffix}, got {text}")
        return value

    return parse
