"""What a constellation's writers share to point at its Satellites: their uids, as the
Satellite index shows them, and the shape of the function that posts an Event.

The runtime owns one `SatelliteUids` and hands it to the writers: the announcer records
the uids, the status writer and the Events read them. Nobody else keeps a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from kubesat.k8s.satellites import reference

# (involved object, type, reason, message): the operator's `EventRecorder`
EventFunc: TypeAlias = Callable[[dict[str, Any], str, str, str], None]


class SatelliteUids:
    """The uid of each Satellite object of one constellation, by name, once seen."""

    def __init__(self, namespace: str, names: tuple[str, ...]) -> None:
        self.namespace = namespace
        self.names = names
        self.by_name: dict[str, str] = {}

    def record(self, name: str, uid: str) -> None:
        self.by_name[name] = uid

    def known(self) -> NDArray[np.bool_]:
        """Per satellite, whether its Satellite object has been seen (its status can be
        patched)."""
        return np.array([name in self.by_name for name in self.names], np.bool_)

    def ref(self, i: int) -> dict[str, Any]:
        """Satellite i as the object of an Event (with its uid once known)."""
        return reference(self.namespace, self.names[i], self.by_name.get(self.names[i]))
