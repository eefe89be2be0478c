"""What a pod's simulated container is doing: the states of a pod slot."""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class SlotState(IntEnum):
    """What a pod's simulated container is doing."""

    FREE = 0
    RESTORING = 1  # reading its last checkpoint (as long as a write)
    RUNNING = 2
    WRITING = 3  # writing a periodic checkpoint (GPUs busy, no progress)
    DRAINING = 4  # evicted or deleted: writing its last checkpoint, then it stops


# plain ints for the hot array comparisons (enum attribute lookups cost more than the step)
FREE, RESTORING, RUNNING, WRITING, DRAINING = (int(state) for state in SlotState)
LIVE_STATES: Final = (RESTORING, RUNNING, WRITING)
