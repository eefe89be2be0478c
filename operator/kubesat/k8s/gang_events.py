"""What a Job's Events say about its gang: placed whole (where, at what step time) or
waiting (why no member was placed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kubesat.core.workloads import JobSpec
from kubesat.engine.events import GangPlaced, GangWait, GangWaiting

SHOWN_SATELLITES: Final = 8  # satellites named in a message, then "and N more"

_WAIT_TEXT: Final = {
    GangWait.CAPACITY: "the satellites the policy allows now hold only {placeable} of its "
    "{members} members (runway, free GPUs, upsets)",
    GangWait.LINKS: "the satellites the policy allows hold its {members} members, but no "
    "set of them is joined by laser links that are up",
}


def _satellites(names: Sequence[str], ring: Sequence[int]) -> str:
    distinct = list(dict.fromkeys(ring))
    shown = ", ".join(names[i] for i in distinct[:SHOWN_SATELLITES])
    more = len(distinct) - SHOWN_SATELLITES
    return f"{shown} and {more} more" if more > 0 else shown


def gang_event(
    decision: GangPlaced | GangWaiting, names: Sequence[str], spec: JobSpec
) -> tuple[str, str, str]:
    """(type, reason, message) of the Event on the gang's Job."""
    if isinstance(decision, GangPlaced):
        return (
            "Normal",
            "GangScheduled",
            f"all {len(decision.satellites)} members placed at once on "
            f"{_satellites(names, decision.satellites)}: a training step takes "
            f"{decision.step_seconds:.3g} s ({spec.compute_seconds_per_step:.3g} s compute, "
            f"{decision.exchange_seconds:.3g} s gradient exchange)",
        )
    text = _WAIT_TEXT[decision.reason].format(
        placeable=decision.placeable, members=decision.members
    )
    return "Normal", "GangWaiting", f"no member placed: {text}"
