"""The placement and drain framework: filters that say why, scores, caps and drains.

Shaped like kube-scheduler's framework (`pkg/scheduler/framework`): a policy is a named
list of plugins, each a small interface. For a pod of one shape, every filter rejects
the satellites it must (and names its reason), the caps bound how many such pods a
satellite takes, and the scores rank the rest (their points add up, in order). Drains
say which pods leave and why. Plugins are pure functions of the `FleetView`; the engine,
kubesat-scheduler's messages and the simulator's report all run the same ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView
from kubesat.core.power import PowerSystem

if TYPE_CHECKING:
    from kubesat.engine.events import EvictionReason
    from kubesat.engine.state import FleetState


class FilterReason(StrEnum):
    """Why a filter rejects a satellite, in kube-scheduler's words where it has them."""

    NOT_READY = "node not ready"
    LOW_POWER = "low power"
    UPSET = "radiation upset"
    ECLIPSE = "not in full sunlight"
    HEAT_THROTTLING = "heat throttling (the radiator holds GPUs off)"
    INSUFFICIENT_GPU = "Insufficient nvidia.com/gpu"
    NO_GROUND_LINK = "no ground link"
    CONTACT_TOO_SHORT = "ground contact too short"
    POWER_RUNWAY = "power runway too short"
    THERMAL_RUNWAY = "thermal runway too short"


@dataclass(frozen=True)
class PodShape:
    """What a pod asks of a satellite: GPUs, a ground link, and how long it must run."""

    gpus: int
    needs_link: bool = False
    runway_seconds: float = 0.0  # runway the satellite must offer (predictive)
    contact_seconds: float = 0.0  # ground contact a link-bound pod needs left


@dataclass(frozen=True)
class FleetNow:
    """What every plugin reads: the satellites' power system and the view now."""

    power: PowerSystem
    view: FleetView


class FilterPlugin(Protocol):
    """Rejects the satellites that cannot take a pod of `pod`'s shape now."""

    name: ClassVar[str]
    reason: ClassVar[FilterReason]
    # a node-level filter ignores the pod (a taint); the others depend on its shape
    node_level: ClassVar[bool]

    def passes(self, fleet: FleetNow, pod: PodShape, ok: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Per satellite, whether it passes; only the satellites still `ok` need an answer
        (an expensive filter computes for those only and passes the rest)."""
        ...


class CapPlugin(Protocol):
    """Bounds how many pods of a shape a satellite that passes the filters takes."""

    name: ClassVar[str]

    def most_pods(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """For the satellites of `rows`, the most pods of `pod`'s shape it allows."""
        ...


class ScorePlugin(Protocol):
    """Points for a satellite (higher is better); a policy adds its scores in order."""

    name: ClassVar[str]

    def points(
        self, fleet: FleetNow, pod: PodShape, rows: NDArray[np.int64] | None
    ) -> NDArray[np.float64] | None:
        """Weighted points of every satellite (or of those of `rows`); None: no opinion."""
        ...


class KeepPlugin(Protocol):
    """How many busy GPUs a satellite may keep; the pods beyond it drain, for a reason."""

    name: ClassVar[str]

    def keep(
        self, fleet: FleetNow, drain_lead_seconds: NDArray[np.float64]
    ) -> NDArray[np.int64]: ...

    def reasons(
        self,
        fleet: FleetNow,
        drain_lead_seconds: NDArray[np.float64],
        over: NDArray[np.int64],
        busy_after: NDArray[np.int64],
    ) -> list[EvictionReason]:
        """For the satellites of `over` (keeping fewer GPUs than `busy_after`), why."""
        ...


@dataclass(frozen=True)
class Rejections:
    """Satellites the filters rejected, counted by the first filter that did."""

    total: int
    by_reason: Counter[str]

    def message(self) -> str:
        """kube-scheduler's summary: '0/24 nodes are available: 24 Insufficient ...'."""
        if self.total == 0:
            return "0/0 nodes are available: no satellites."
        parts = ", ".join(
            f"{n} {r}" for r, n in sorted(self.by_reason.items(), key=lambda x: (-x[1], x[0]))
        )
        return f"0/{self.total} nodes are available: {parts}."


def run_filters(
    filters: Sequence[FilterPlugin],
    fleet: FleetNow,
    pod: PodShape,
    ok: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """The satellites that pass every filter (and `ok`, when given)."""
    passing = np.ones(fleet.view.ready.shape, np.bool_) if ok is None else ok.copy()
    for plugin in filters:
        passing &= plugin.passes(fleet, pod, passing)
    return passing


def explain(
    filters: Sequence[FilterPlugin],
    fleet: FleetNow,
    pod: PodShape,
    first: Sequence[tuple[str, NDArray[np.bool_]]] = (),
) -> tuple[NDArray[np.bool_], Counter[str]]:
    """The satellites that pass, and per reason how many satellites it rejected first.

    `first` are the shell's own checks, as (reason, passes) pairs, run before the
    filters (kubesat-scheduler's node registration, taints and node selectors).
    """
    n = fleet.view.ready.shape[0]
    passing = np.ones(n, np.bool_)
    out: Counter[str] = Counter()
    checks: list[tuple[str, NDArray[np.bool_] | FilterPlugin]] = [*first]
    checks.extend((str(plugin.reason), plugin) for plugin in filters)
    for reason, check in checks:
        passes = check if isinstance(check, np.ndarray) else check.passes(fleet, pod, passing)
        rejected = int(np.count_nonzero(passing & ~passes))
        if rejected:
            out[reason] += rejected
        passing &= passes
    return passing, out


def of_rows(values: NDArray[Any], rows: NDArray[np.int64] | None) -> NDArray[Any]:
    """`values` of every satellite, or of those of `rows`."""
    return values if rows is None else values[rows]


class PodDrainPlugin(Protocol):
    """Picks single pods to evict (with the runway or contact left to report)."""

    name: ClassVar[str]

    def evictions(
        self, state: FleetState, fleet: FleetNow
    ) -> list[tuple[int, EvictionReason, float]]: ...


class CheckpointPlugin(Protocol):
    """Picks running pods that write a checkpoint now, outside their own interval."""

    name: ClassVar[str]

    def due(self, state: FleetState) -> NDArray[np.int64]: ...
