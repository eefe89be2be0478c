"""One constellation's durable state: read back when the operator starts, written every
few seconds with the Constellation status that refers to it, so a restarted operator
continues from the last state written (`kubesat.k8s.state_store` keeps the shards).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubesat.core.timebase import iso_z
from kubesat.engine.durable import to_state
from kubesat.engine.fleet import FleetEngine
from kubesat.k8s.api import Api, status_of
from kubesat.k8s.fleet_refs import EventFunc
from kubesat.k8s.state_store import NOT_FOUND, StateStore, StateUnreadableError
from kubesat.spec import GROUP, VERSION

logger = logging.getLogger("kubesat.runtime")


@dataclass(frozen=True)
class PersistenceConfig:
    """What persisting one constellation reads and writes (the runtime's values)."""

    namespace: str
    constellation: str  # its name
    uid: str  # its uid: the state's ConfigMaps are owned by it
    body: dict[str, Any]  # the Constellation, as the object of Events
    api: Api
    event: EventFunc
    engine: FleetEngine  # read only: the state saved
    start_utc: datetime  # spec.clock.start: the clock's anchor, saved with the state


class Persistence:
    """Loads and saves one constellation's durable state; one save in flight at most."""

    def __init__(self, config: PersistenceConfig) -> None:
        self.config = config
        self.store = StateStore(config.api, config.namespace, config.constellation, config.uid)
        self.persisting: asyncio.Task[None] | None = None

    def durable_state(self) -> dict[str, Any]:
        """The engine's state and the clock's anchor: what a restart continues from."""
        state = to_state(self.config.engine)
        state["clockStart"] = iso_z(self.config.start_utc)
        return state

    async def load(self, status: dict[str, Any]) -> dict[str, Any]:
        """The state the status refers to; none (a fresh start) when it cannot be read."""
        try:
            return await self.store.load(status)
        except StateUnreadableError as error:
            self.config.event(
                self.config.body, "Warning", "StateLost", f"{error}: the timeline starts over"
            )
            return {}

    async def save(self, status: dict[str, Any], final: bool) -> None:
        """Write the state, then `status` with its reference. A write still in flight is
        not doubled (the next tick writes a newer state); a final save waits for it."""
        in_flight = self.persisting is not None and not self.persisting.done()
        if not final:
            if not in_flight:
                self.persisting = asyncio.create_task(
                    self.write(self.durable_state(), status, final=False),
                    name=f"kubesat-persist-{self.config.namespace}/{self.config.constellation}",
                )
            return
        if in_flight:
            assert self.persisting is not None
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self.persisting
        await self.write(self.durable_state(), status, final=True)

    async def write(self, state: dict[str, Any], status: dict[str, Any], final: bool) -> None:
        """Save the state's shards, then patch the status that refers to them."""
        namespace, name, api = self.config.namespace, self.config.constellation, self.config.api
        try:
            ref = await self.store.save(state)
            # merge patch: the reference replaces a state an older version kept inline
            body = {"status": {**status, "stateRef": ref.as_status(), "state": None}}

            def call() -> Any:
                return api.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, "constellations", name, body
                )

            await api.call("patch", "constellations/status", call)
            self.store.referenced(ref)
        except Exception as error:
            if status_of(error) == NOT_FOUND:
                return  # the Constellation is being deleted
            if final:
                raise
            logger.warning("persisting the state of %s/%s failed: %s", namespace, name, error)
