"""Checkpoint GangCheckpoint (predictive): a running gang checkpoints as often as its risk
of losing a member calls for: at Young's interval sqrt(2 x write x mean time between the
upsets that kill a member (SEFIs, latch-ups) at the proton flux its members fly through
now), when that is shorter than its own interval. One such upset restarts every member, so a
large gang crossing the South Atlantic Anomaly saves its work every few minutes."""

from __future__ import annotations

import math

import numpy as np

from kubesat.engine.plugins.framework import Checkpoint, Rows
from kubesat.engine.plugins.slots import FleetSlots
from kubesat.engine.slot_state import RUNNING


def gangs_due(s: FleetSlots) -> Rows:
    """The slots of the gangs whose checkpoint falls due now."""
    model = s.config.upsets
    none = np.zeros(0, np.int64)
    if model is None or s.flux is None or not s.job_gang.any():
        return none
    killing = model.sefi_fraction + model.latchup_fraction
    running = (s.slot_state == RUNNING) & (s.slot_job >= 0)
    running &= s.job_gang[np.maximum(s.slot_job, 0)]
    due = [none]
    for job in np.unique(s.slot_job[running]):
        members = np.flatnonzero(running & (s.slot_job == job))
        sats = s.slot_sat[members]
        rate = float(np.sum(model.rate_per_second(s.flux[sats], s.slot_gpus[members])))
        if rate * killing <= 0:
            continue
        young = math.sqrt(2.0 * float(s.write[job]) / (rate * killing))
        if young >= float(s.interval[job]):
            continue
        if float(s.slot_since[members].max()) < young:
            continue
        due.append(members)
    return np.concatenate(due)


GANG_CHECKPOINT = Checkpoint("GangCheckpoint", gangs_due)
