"""The step's first phase: radiation upsets (sampled or injected) hit GPUs and satellites.

A SEFI hangs one GPU (its pod dies, the GPU is back after a recovery time); a latch-up
power-cycles the whole satellite (its pods die, the bus and payload are off for longer).
"""

from __future__ import annotations

import numpy as np

from kubesat.core.upsets import UpsetEvents, UpsetKind
from kubesat.engine.events import EndReason, Notice, NoticeKind
from kubesat.engine.lifecycle import end, end_on_satellite
from kubesat.engine.state import FleetState
from kubesat.telemetry import UPSET_KINDS


def upset_step(s: FleetState, upsets: UpsetEvents) -> None:
    """The upsets drawn for [now, now + step), in time order."""
    now = s.now
    for i in range(len(upsets)):
        upset(
            s,
            int(upsets.satellite[i]),
            UpsetKind(int(upsets.kind[i])),
            int(upsets.gpu[i]),
            now,
            injected=False,
        )


def upset(s: FleetState, sat: int, kind: UpsetKind, gpu: int, now: float, injected: bool) -> Notice:
    """One upset of `kind` on `sat` (and `gpu`, for a SEFI) at `now`."""
    name = UPSET_KINDS[kind]
    s.counters.add(s.counters.upsets, name)
    s.upsets_by_satellite[sat, kind] += 1
    killed: list[int] = []
    lost = 0.0
    if kind == UpsetKind.SEFI and s.g > 0:
        gpu = min(max(gpu, 0), s.g - 1)
        slot = int(s.gpu_owner[sat, gpu])
        if slot >= 0:
            ended = end(s, slot, EndReason.SEFI, gpu=gpu)
            killed.append(ended.pod)
            lost += ended.lost_gpu_seconds
        recovery = s.config.sefi_recovery_seconds
        s.gpu_broken_until[sat, gpu] = now + recovery
        if now + recovery > s.upset_until[sat]:
            s.upset_until[sat] = now + recovery
            s.upset_kind[sat] = kind
    elif kind == UpsetKind.LATCHUP:
        killed, lost = end_on_satellite(s, sat, EndReason.LATCHUP)
        recovery = s.config.latchup_recovery_seconds
        s.down_until[sat] = max(s.down_until[sat], now + recovery)
        s.bus_off_until[sat] = max(s.bus_off_until[sat], now + recovery)
        if s.down_until[sat] >= s.upset_until[sat]:
            s.upset_until[sat] = s.down_until[sat]
            s.upset_kind[sat] = kind
    notice = Notice(
        NoticeKind.UPSET,
        sat,
        now,
        upset=name,
        gpu=gpu if kind == UpsetKind.SEFI else None,
        pods=tuple(killed),
        lost_gpu_seconds=lost,
        injected=injected,
    )
    s.decisions.append(notice)
    return notice


def inject(s: FleetState, sat: int, kind: UpsetKind, gpu: int | None = None) -> Notice:
    """An upset now, as if sampled (fault injection). Without a GPU: the first busy one."""
    if gpu is None:
        owners = np.flatnonzero(s.gpu_owner[sat] >= 0)
        gpu = int(owners[0]) if owners.size else 0
    return upset(s, sat, kind, gpu, s.now, injected=True)


def recovered(s: FleetState, before: float) -> None:
    """Notices for the satellites whose upset ended between `before` and now."""
    ended = (s.upset_until > before) & (s.upset_until <= s.now)
    for sat in np.flatnonzero(ended):
        s.decisions.append(Notice(NoticeKind.RECOVERED, int(sat), s.now))
