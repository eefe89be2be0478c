"""The placement and drain framework: filters that say why, caps, scores and drains.

Shaped like kube-scheduler's framework (`pkg/scheduler/framework`): a policy is a named
list of plugins, each a small typed function with a name. For a pod of one shape, every
filter rejects the satellites it must (and names its reason), the caps bound how many
such pods a satellite takes, and the scores rank the rest (their points add up, in
order). Drains say which pods leave and why. Plugins are pure functions of the
`FleetView` (the drains also read the engine's pod slots); the engine,
kubesat-scheduler's messages and the simulator's report all run the same ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from kubesat.core.policy import FleetView
from kubesat.core.power import PowerSystem
from kubesat.engine.plugins.slots import FleetSlots

if TYPE_CHECKING:
    from kubesat.engine.events import EvictionReason


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


Mask = NDArray[np.bool_]  # per satellite (or per satellite of some rows)
Rows = NDArray[np.int64]  # satellite indices
Counts = NDArray[np.int64]  # per satellite: GPUs or pods
Points = NDArray[np.float64]  # per satellite: a score's points
Seconds = NDArray[np.float64]  # per satellite: a time


@dataclass(frozen=True)
class Filter:
    """Rejects the satellites that cannot take a pod of a shape now, for one reason.

    `test(fleet, pod, ok)` says per satellite whether it passes; only the satellites still
    `ok` need an answer (an expensive filter computes for those only and passes the rest).
    A node-level filter ignores the pod (it stands for a taint).
    """

    name: str
    reason: FilterReason
    test: Callable[[FleetNow, PodShape, Mask], Mask]
    node_level: bool = False
    reads_runway: bool = False

    def passes(self, fleet: FleetNow, pod: PodShape, ok: Mask) -> Mask:
        return self.test(fleet, pod, ok)


@dataclass(frozen=True)
class Cap:
    """Bounds how many pods of a shape each satellite of `rows` (past the filters) takes."""

    name: str
    most_pods: Callable[[FleetNow, PodShape, Rows], Counts]
    reads_runway: bool = False


@dataclass(frozen=True)
class Score:
    """Weighted points per satellite (or per satellite of `rows`); None: no opinion. A
    policy adds its scores' points in order."""

    name: str
    points: Callable[[FleetNow, PodShape, Rows | None], Points | None]
    reads_runway: bool = False


@dataclass(frozen=True)
class Keep:
    """How many busy GPUs each satellite may keep (given the drain lead); the pods beyond
    it drain, for the reason `reasons` gives per satellite of `over`."""

    name: str
    keep: Callable[[FleetNow, Seconds], Counts]
    reasons: Callable[[FleetNow, Seconds, Rows, Counts], list[EvictionReason]]
    reads_runway: bool = False


@dataclass(frozen=True)
class PodDrain:
    """Picks single pods to evict: (slot, reason, the runway or contact left to report)."""

    name: str
    evictions: Callable[[FleetSlots, FleetNow], list[tuple[int, EvictionReason, float]]]


@dataclass(frozen=True)
class Checkpoint:
    """Picks the running pods that write a checkpoint now, outside their own interval."""

    name: str
    due: Callable[[FleetSlots], Rows]


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
    filters: Sequence[Filter],
    fleet: FleetNow,
    pod: PodShape,
    ok: Mask | None = None,
) -> Mask:
    """The satellites that pass every filter (and `ok`, when given)."""
    passing = np.ones(fleet.view.ready.shape, np.bool_) if ok is None else ok.copy()
    for plugin in filters:
        passing &= plugin.passes(fleet, pod, passing)
    return passing


def explain(
    filters: Sequence[Filter],
    fleet: FleetNow,
    pod: PodShape,
    first: Sequence[tuple[str, Mask]] = (),
) -> tuple[Mask, Counter[str]]:
    """The satellites that pass, and per reason how many satellites it rejected first.

    `first` are the shell's own checks, as (reason, passes) pairs, run before the
    filters (kubesat-scheduler's node registration, taints and node selectors).
    """
    n = fleet.view.ready.shape[0]
    passing = np.ones(n, np.bool_)
    out: Counter[str] = Counter()
    checks: list[tuple[str, Mask | Filter]] = [*first]
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
