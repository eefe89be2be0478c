import math

import numpy as np

from kubesat.core.upsets import UpsetModel
from kubesat.core.workloads import JobSpec
from kubesat.engine.plugins.gang_checkpoint import GANG_CHECKPOINT
from tests.unit.engine.plugins.engines import engine_with

# 1e-6 cm^2 per GPU in 1000 p/cm^2/s: 1e-3 upsets per GPU-second, every one kills a member
MODEL = UpsetModel(
    cross_section_cm2_per_gpu=1e-6,
    background_per_gpu_second=0.0,
    sefi_fraction=0.5,
    latchup_fraction=0.5,
)


def gang_engine():
    shape = {"parallelism": 2, "completions": 2, "gang": True, "managed": True}
    gang = JobSpec("allreduce", 1, 1e6, 1800.0, 30.0, **shape)
    engine = engine_with("predictive", 2, gang, upsets=MODEL)
    pods = [engine.bind(0, sat, 1, index=sat) for sat in (0, 1)]
    engine.flux = np.full(2, 1000.0)
    return engine, [engine.pod_slot[p] for p in pods if p is not None]


def test_a_gang_checkpoints_at_youngs_interval_of_its_upset_risk():
    # 2 members x 1e-3 /s: Young's interval sqrt(2 x 30 s / 2e-3 /s) = 173.2 s
    young = math.sqrt(2.0 * 30.0 / 2e-3)
    engine, slots = gang_engine()
    engine.slot_since[slots] = young - 1.0
    assert GANG_CHECKPOINT.due(engine).tolist() == []
    engine.slot_since[slots] = young + 1.0
    assert sorted(GANG_CHECKPOINT.due(engine).tolist()) == sorted(slots)


def test_no_flux_no_early_checkpoint():
    engine, slots = gang_engine()
    engine.flux = np.zeros(2)
    engine.slot_since[slots] = 1000.0
    assert GANG_CHECKPOINT.due(engine).tolist() == []
