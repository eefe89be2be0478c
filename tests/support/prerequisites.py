"""A missing prerequisite (a binary, a cluster) skips a test on a laptop and fails it in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> NoReturn:
    """Skip with `reason`, or fail under CI=true, where nothing may skip."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)
