"""Engines with hand-set pods for the plugins that read the fleet's state."""

from __future__ import annotations

from typing import Any

from kubesat.core.workloads import JobSpec
from kubesat.engine.config import EngineConfig
from kubesat.engine.fleet import FleetEngine
from tests.unit.engine.plugins.cases import POWER

STEP_SECONDS = 10.0


def engine_with(policy: str, satellites: int, *jobs: JobSpec, **config: Any) -> FleetEngine:
    """A FleetEngine of `satellites` satellites of `cases.POWER` with `jobs` added."""
    engine = FleetEngine(
        EngineConfig(POWER, policy, STEP_SECONDS, **config),
        tuple(f"sat-{i}" for i in range(satellites)),
    )
    for job in jobs:
        engine.add_job(job)
    return engine
