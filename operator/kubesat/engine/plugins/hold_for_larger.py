"""Reserve (predictive): room kept for larger pods that will need a satellite soon (their
pods are draining, or they found none now), so smaller pods do not fragment the
satellites that could take them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

import numpy as np
from numpy.typing import NDArray

from kubesat.engine.plugins.framework import Filter, FleetNow, PodShape, run_filters
from kubesat.engine.plugins.slots import FleetSlots
from kubesat.engine.slot_state import DRAINING

# per GPUs per pod: (how many pods wait for room, the longest runway they need)
Waiting = dict[int, tuple[int, float]]


class HoldForLarger:
    """The reserve plugin: what waits for room, and the room held for it."""

    name: Final = "HoldForLarger"

    def draining(self, state: FleetSlots) -> Waiting:
        """Pods draining now, by GPUs per pod: (how many, the longest runway they need)."""
        s = state
        out: Waiting = {}
        for slot in np.flatnonzero(s.slot_state == DRAINING):
            job = int(s.slot_job[slot])
            if not s.job_active[job] or s.job_complete[job]:
                continue
            gpus = s.jobs[job].gpus_per_pod
            count, most = out.get(gpus, (0, 0.0))
            out[gpus] = (count + 1, max(most, s.required_runway(job)))
        return out

    def unplaced(self, soon: Waiting, gpus: int, count: int, need_seconds: float) -> None:
        """`count` pods of `gpus` GPUs found no satellite now: hold for them too."""
        waiting, most = soon.get(gpus, (0, 0.0))
        soon[gpus] = (waiting + count, max(most, need_seconds))

    def held(
        self,
        filters: Sequence[Filter],
        node_filters: Sequence[Filter],
        fleet: FleetNow,
        free: NDArray[np.int64],
        busy: NDArray[np.int64],
        gpus: int,
        soon: Waiting,
    ) -> NDArray[np.int64]:
        """GPUs held back, per satellite, for the larger pods of `soon` before pods of
        `gpus` GPUs are placed (`node_filters`: those of `filters` that ignore the pod):
        the satellites that could take them now or at the sunrise
        coming within their required runway, fullest first."""
        view = fleet.view
        held = np.zeros(free.shape, np.int64)
        for larger, (count, need) in sorted(soon.items(), reverse=True):
            if larger <= gpus or count <= 0:
                continue
            spare = free - held
            current = FleetNow(fleet.power, replace(view, free_gpus=spare, busy_gpus=busy))
            ok = run_filters(filters, current, PodShape(larger, False, need))
            sunrise_soon = (
                run_filters(node_filters, current, PodShape(larger))
                & (spare >= larger)
                & (view.seconds_to_shadow <= 0)
                & (view.shadow_seconds <= need)
            )
            candidates = np.flatnonzero(ok | sunrise_soon)
            order = np.argsort(-spare[candidates], kind="stable")
            for sat in candidates[order][:count]:
                held[sat] += larger
        return held
