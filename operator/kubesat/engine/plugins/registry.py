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
from functools import cache, cached_property
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import POLICIES
from kubesat.engine.plugins.caps import GPU_FIT_CAP, POWER_RUNWAY_CAP
from kubesat.engine.plugins.contact_score import CONTACT_SCORE
from kubesat.engine.plugins.contact_time import CONTACT_TIME
from kubesat.engine.plugins.eclipse_drain import ECLIPSE_DRAIN
from kubesat.engine.plugins.framework import (
    Cap,
    Checkpoint,
    Filter,
    FleetNow,
    Keep,
    Mask,
    PodDrain,
    PodShape,
    Points,
    Rows,
    Score,
    run_filters,
)
from kubesat.engine.plugins.full_sun import FULL_SUN
from kubesat.engine.plugins.gang_checkpoint import GANG_CHECKPOINT
from kubesat.engine.plugins.gpu_fit import GPU_FIT
from kubesat.engine.plugins.ground_link import GROUND_LINK
from kubesat.engine.plugins.heat_headroom import HEAT_HEADROOM
from kubesat.engine.plugins.hold_for_larger import HoldForLarger
from kubesat.engine.plugins.link_drain import LINK_DRAIN
from kubesat.engine.plugins.no_upset import NO_UPSET
from kubesat.engine.plugins.node_ready import NODE_READY
from kubesat.engine.plugins.not_throttling import NOT_THROTTLING
from kubesat.engine.plugins.power_runway import POWER_RUNWAY
from kubesat.engine.plugins.powered import POWERED
from kubesat.engine.plugins.runway_drain import RUNWAY_DRAIN
from kubesat.engine.plugins.thermal_runway import THERMAL_RUNWAY
from kubesat.engine.plugins.view_scores import (
    BATTERY_SCORE,
    LEAST_ALLOCATED,
    LINK_SCORE,
    PACKING,
    RADIATION_SCORE,
    RUNWAY_SCORE,
)

Plugin = TypeVar("Plugin", Filter, Cap, Score, Keep, PodDrain, Checkpoint)


def by_name(*plugins: Plugin) -> Mapping[str, Plugin]:
    return {plugin.name: plugin for plugin in plugins}


# every plugin, by extension point and name (kube-scheduler's registry)
FILTERS: Final = by_name(
    NODE_READY,
    POWERED,
    NO_UPSET,
    FULL_SUN,
    NOT_THROTTLING,
    HEAT_HEADROOM,
    GPU_FIT,
    GROUND_LINK,
    CONTACT_TIME,
    POWER_RUNWAY,
    THERMAL_RUNWAY,
)
CAPS: Final = by_name(GPU_FIT_CAP, POWER_RUNWAY_CAP)
SCORES: Final = by_name(
    LEAST_ALLOCATED,
    RUNWAY_SCORE,
    BATTERY_SCORE,
    LINK_SCORE,
    RADIATION_SCORE,
    PACKING,
    CONTACT_SCORE,
)
KEEPS: Final = by_name(ECLIPSE_DRAIN, RUNWAY_DRAIN)
POD_DRAINS: Final = by_name(LINK_DRAIN)
CHECKPOINTS: Final = by_name(GANG_CHECKPOINT)
RESERVES: Final[Mapping[str, HoldForLarger]] = {HoldForLarger.name: HoldForLarger()}


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


FIT_FILTERS: Final = ("HeatHeadroom", "GpuFit", "GroundLink", "ContactTime")
POLICY_PLUGINS: Final[Mapping[str, PolicyPlugins]] = {
    "none": PolicyPlugins(
        filters=("NodeReady", *FIT_FILTERS),
        caps=("GpuFit",),
        scores=("LeastAllocated",),
    ),
    "reactive": PolicyPlugins(
        filters=("NodeReady", "Powered", "NoUpset", "FullSun", "NotThrottling", *FIT_FILTERS),
        caps=("GpuFit",),
        scores=("LeastAllocated", "ContactScore"),
        pod_drains=("LinkDrain",),
        keep="EclipseDrain",
    ),
    "predictive": PolicyPlugins(
        filters=("NodeReady", "Powered", "NoUpset", *FIT_FILTERS, "PowerRunway", "ThermalRunway"),
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
    filters: tuple[Filter, ...]
    caps: tuple[Cap, ...]
    scores: tuple[Score, ...]
    pod_drains: tuple[PodDrain, ...]
    checkpoints: tuple[Checkpoint, ...]
    keep: Keep | None
    reserve: HoldForLarger | None

    @property
    def drains(self) -> bool:
        """Whether the policy ever drains a pod."""
        return bool(self.pod_drains or self.checkpoints or self.keep is not None)

    @cached_property
    def node_filters(self) -> tuple[Filter, ...]:
        """The filters that ignore the pod (the node's taints), in order."""
        return tuple(plugin for plugin in self.filters if plugin.node_level)

    @cached_property
    def reads_runway(self) -> bool:
        """Whether a plugin reads runways (the engine then keeps a runway table)."""
        plugins: list[Filter | Cap | Score | Keep] = [*self.filters, *self.caps, *self.scores]
        if self.keep is not None:
            plugins.append(self.keep)
        return any(plugin.reads_runway for plugin in plugins)

    def feasible(self, fleet: FleetNow, pod: PodShape) -> Mask:
        """The satellites every filter lets take a pod of `pod`'s shape."""
        return run_filters(self.filters, fleet, pod)

    def score(self, fleet: FleetNow, pod: PodShape, rows: Rows | None = None) -> Points:
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
    """The policy `name` (one of `POLICIES`), its plugins looked up in the registry."""
    if name not in POLICY_PLUGINS:
        raise ValueError(f"policy: must be one of {', '.join(POLICIES)}, got {name!r}")
    names = POLICY_PLUGINS[name]
    return Policy(
        name=name,
        filters=tuple(FILTERS[n] for n in names.filters),
        caps=tuple(CAPS[n] for n in names.caps),
        scores=tuple(SCORES[n] for n in names.scores),
        pod_drains=tuple(POD_DRAINS[n] for n in names.pod_drains),
        checkpoints=tuple(CHECKPOINTS[n] for n in names.checkpoints),
        keep=None if names.keep is None else KEEPS[names.keep],
        reserve=None if names.reserve is None else RESERVES[names.reserve],
    )
