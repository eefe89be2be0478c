"""The plugins by name, and each policy as a named list of them.

- `none`: nodes stay schedulable; pods die when power is gone or an upset hits.
- `reactive`: a satellite out of full sunlight, low on power, upset or throttling takes
  no pod, and its pods are evicted then.
- `predictive`: from the forecast, a pod goes only where the sunlit-plus-battery and
  thermal runway covers its next checkpoint; pods are checkpointed and evicted just in
  time before the runway ends; satellites are scored by runway, battery, link and
  radiation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import POLICIES
from kubesat.engine.plugins.battery_score import BatteryScore
from kubesat.engine.plugins.contact_score import ContactScore
from kubesat.engine.plugins.contact_time import ContactTime
from kubesat.engine.plugins.eclipse_drain import EclipseDrain
from kubesat.engine.plugins.framework import (
    CapPlugin,
    CheckpointPlugin,
    FilterPlugin,
    FleetNow,
    KeepPlugin,
    PodDrainPlugin,
    PodShape,
    ScorePlugin,
    run_filters,
)
from kubesat.engine.plugins.full_sun import FullSun
from kubesat.engine.plugins.gang_checkpoint import GangCheckpoint
from kubesat.engine.plugins.gpu_fit import GpuFit
from kubesat.engine.plugins.ground_link import GroundLink
from kubesat.engine.plugins.heat_headroom import HeatHeadroom
from kubesat.engine.plugins.hold_for_larger import HoldForLarger
from kubesat.engine.plugins.least_allocated import LeastAllocated
from kubesat.engine.plugins.link_drain import LinkDrain
from kubesat.engine.plugins.link_score import LinkScore
from kubesat.engine.plugins.no_upset import NoUpset
from kubesat.engine.plugins.node_ready import NodeReady
from kubesat.engine.plugins.not_throttling import NotThrottling
from kubesat.engine.plugins.packing import Packing
from kubesat.engine.plugins.power_runway import PowerRunway
from kubesat.engine.plugins.powered import Powered
from kubesat.engine.plugins.radiation_score import RadiationScore
from kubesat.engine.plugins.runway_drain import RunwayDrain
from kubesat.engine.plugins.runway_score import RunwayScore
from kubesat.engine.plugins.thermal_runway import ThermalRunway

PLUGINS: Final[Mapping[str, Any]] = {
    plugin.name: plugin()
    for plugin in (
        NodeReady,
        Powered,
        NoUpset,
        FullSun,
        NotThrottling,
        HeatHeadroom,
        GpuFit,
        GroundLink,
        ContactTime,
        PowerRunway,
        ThermalRunway,
        LeastAllocated,
        RunwayScore,
        BatteryScore,
        LinkScore,
        RadiationScore,
        Packing,
        ContactScore,
        LinkDrain,
        GangCheckpoint,
        EclipseDrain,
        RunwayDrain,
        HoldForLarger,
    )
}


@dataclass(frozen=True)
class PolicyPlugins:
    """A policy's plugins by extension point, by name (each list in the order it runs)."""

    filters: tuple[str, ...]
    caps: tuple[str, ...]
    scores: tuple[str, ...]
    pod_drains: tuple[str, ...] = ()
    checkpoints: tuple[str, ...] = ()
    keep: str | None = None
    reserve: str | None = None


BASE_FILTERS: Final = ("NodeReady",)
FIT_FILTERS: Final = ("HeatHeadroom", "GpuFit", "GroundLink", "ContactTime")
POLICY_PLUGINS: Final[Mapping[str, PolicyPlugins]] = {
    "none": PolicyPlugins(
        filters=(*BASE_FILTERS, *FIT_FILTERS),
        caps=("GpuFit",),
        scores=("LeastAllocated",),
    ),
    "reactive": PolicyPlugins(
        filters=(*BASE_FILTERS, "Powered", "NoUpset", "FullSun", "NotThrottling", *FIT_FILTERS),
        caps=("GpuFit",),
        scores=("LeastAllocated", "ContactScore"),
        pod_drains=("LinkDrain",),
        keep="EclipseDrain",
    ),
    "predictive": PolicyPlugins(
        filters=(
            *BASE_FILTERS,
            "Powered",
            "NoUpset",
            *FIT_FILTERS,
            "PowerRunway",
            "ThermalRunway",
        ),
        caps=("GpuFit", "PowerRunway"),
        scores=(
            "RunwayScore",
            "BatteryScore",
            "LinkScore",
            "RadiationScore",
            "Packing",
            "ContactScore",
        ),
        pod_drains=("LinkDrain",),
        checkpoints=("GangCheckpoint",),
        keep="RunwayDrain",
        reserve="HoldForLarger",
    ),
}


@dataclass(frozen=True)
class Policy:
    """A scheduling policy: its name and its plugins, ready to run."""

    name: str
    filters: tuple[FilterPlugin, ...]
    caps: tuple[CapPlugin, ...]
    scores: tuple[ScorePlugin, ...]
    pod_drains: tuple[PodDrainPlugin, ...]
    checkpoints: tuple[CheckpointPlugin, ...]
    keep: KeepPlugin | None
    reserve: HoldForLarger | None

    @property
    def drains(self) -> bool:
        """Whether the policy ever drains a pod."""
        return bool(self.pod_drains or self.checkpoints or self.keep is not None)

    @property
    def reads_runway(self) -> bool:
        """Whether a plugin reads runways (the engine then keeps a runway table)."""
        plugins: list[Any] = [*self.filters, *self.caps, *self.scores, self.keep]
        return any(getattr(plugin, "reads_runway", False) for plugin in plugins)

    def feasible(self, fleet: FleetNow, pod: PodShape) -> NDArray[np.bool_]:
        """The satellites every filter lets take a pod of `pod`'s shape."""
        return run_filters(self.filters, fleet, pod)

    def schedulable(self, fleet: FleetNow) -> NDArray[np.bool_]:
        """The satellites whose node takes pods at all (the node-level filters)."""
        node_filters = [plugin for plugin in self.filters if plugin.node_level]
        return run_filters(node_filters, fleet, PodShape(0))

    def score(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64] | None = None
    ) -> NDArray[np.float64]:
        """The scores' points added in order, of every satellite (or of those of `rows`)."""
        total: NDArray[np.float64] | None = None
        for plugin in self.scores:
            points = plugin.points(fleet, pod, rows)
            if points is None:
                continue
            total = points if total is None else total + points
        if total is None:
            size = fleet.view.ready.shape[0] if rows is None else rows.shape[0]
            return np.zeros(size)
        return total


@cache
def policy_named(name: str) -> Policy:
    """The policy `name` (one of `POLICIES`), its plugins looked up in `PLUGINS`."""
    if name not in POLICY_PLUGINS:
        raise ValueError(f"policy: must be one of {', '.join(POLICIES)}, got {name!r}")
    names = POLICY_PLUGINS[name]
    return Policy(
        name=name,
        filters=tuple(PLUGINS[n] for n in names.filters),
        caps=tuple(PLUGINS[n] for n in names.caps),
        scores=tuple(PLUGINS[n] for n in names.scores),
        pod_drains=tuple(PLUGINS[n] for n in names.pod_drains),
        checkpoints=tuple(PLUGINS[n] for n in names.checkpoints),
        keep=None if names.keep is None else PLUGINS[names.keep],
        reserve=None if names.reserve is None else PLUGINS[names.reserve],
    )
