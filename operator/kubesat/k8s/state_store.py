"""The engine's durable state, kept in ConfigMaps the Constellation owns.

The state of a large fleet (1000 satellites: 1.3-1.5 MB of JSON, growing with the Jobs'
units) does not fit in the Constellation's status: an object is limited to about 1.5 MB
in etcd. So it is compressed (about 8x) and cut into shards below a ConfigMap's 1 MiB,
and the status keeps only a reference: the shards' names, their size and checksum, and
the step they hold.

Shards are written to one of two slots, never the slot the status refers to, and the
status is patched only after every shard is written: a write cut short by a crash leaves
the last complete state in place. The ConfigMaps carry an owner reference, so deleting
the Constellation deletes them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from kubesat.k8s.api import Api, status_of
from kubesat.spec import CONSTELLATION_LABEL, GROUP, VERSION

SHARD_BYTES: Final = 512 * 1024  # compressed bytes per ConfigMap (the API allows 1 MiB)
COMPRESSION_LEVEL: Final = 1  # fast; level 6 saves 15% more for 4x the time
DATA_KEY: Final = "state.zlib"
NOT_FOUND: Final = 404
CONFLICT: Final = 409
LABEL_ROLE: Final = "kubesat.io/role"
ROLE_STATE: Final = "engine-state"


class Encoding(StrEnum):
    """How the shards hold the state."""

    ZLIB_JSON = "zlib+json"


class StateUnreadableError(Exception):
    """A referenced state is missing or does not match its checksum."""


@dataclass(frozen=True)
class StateRef:
    """What the status says about the state: where it is and what it holds."""

    config_maps: tuple[str, ...]
    size_bytes: int
    sha256: str
    step: int
    slot: int
    encoding: Encoding = Encoding.ZLIB_JSON

    def as_status(self) -> dict[str, Any]:
        return {
            "configMaps": list(self.config_maps),
            "bytes": self.size_bytes,
            "sha256": self.sha256,
            "step": self.step,
            "slot": self.slot,
            "encoding": str(self.encoding),
        }

    @classmethod
    def from_status(cls, ref: dict[str, Any]) -> StateRef:
        return cls(
            tuple(str(name) for name in ref.get("configMaps") or ()),
            int(ref.get("bytes", 0)),
            str(ref.get("sha256", "")),
            int(ref.get("step", 0)),
            int(ref.get("slot", 0)),
            Encoding(str(ref.get("encoding", Encoding.ZLIB_JSON))),
        )


# -- the codec (pure) --------------------------------------------------------------------


def encode_state(state: dict[str, Any]) -> tuple[list[bytes], int, str]:
    """The state as compressed shards, with the compressed size and its SHA-256."""
    text = json.dumps(state, separators=(",", ":"), allow_nan=False).encode()
    packed = zlib.compress(text, COMPRESSION_LEVEL)
    shards = [packed[i : i + SHARD_BYTES] for i in range(0, len(packed), SHARD_BYTES)]
    return shards or [b""], len(packed), hashlib.sha256(packed).hexdigest()


def decode_state(shards: Sequence[bytes], ref: StateRef) -> dict[str, Any]:
    """The state the shards hold; StateUnreadableError when they are not the ones `ref` names."""
    packed = b"".join(shards)
    if len(packed) != ref.size_bytes or hashlib.sha256(packed).hexdigest() != ref.sha256:
        raise StateUnreadableError(
            f"the state in ConfigMaps {', '.join(ref.config_maps)} does not match its checksum"
        )
    state: dict[str, Any] = json.loads(zlib.decompress(packed))
    return state


def shard_names(constellation: str, slot: int, count: int) -> tuple[str, ...]:
    return tuple(f"{constellation}-state-{slot}-{i}" for i in range(count))


def shard_body(
    name: str, constellation: str, owner_uid: str, shard: bytes, annotations: dict[str, str]
) -> dict[str, Any]:
    """One shard as a ConfigMap owned by its Constellation."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "labels": {CONSTELLATION_LABEL: constellation, LABEL_ROLE: ROLE_STATE},
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Constellation",
                    "name": constellation,
                    "uid": owner_uid,
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "binaryData": {DATA_KEY: base64.b64encode(shard).decode()},
    }


def shard_bytes(config_map: Any) -> bytes:
    """The shard a ConfigMap (a client object or a plain dict) holds."""
    data = (
        config_map.get("binaryData")
        if isinstance(config_map, dict)
        else getattr(config_map, "binary_data", None)
    ) or {}
    return base64.b64decode(data.get(DATA_KEY, ""))


def read_state(core: Any, namespace: str, status: dict[str, Any]) -> dict[str, Any]:
    """The durable state a Constellation's status refers to (blocking; for tools and tests).

    A status written before the state moved to ConfigMaps holds it inline.
    """
    if status.get("state"):
        return dict(status["state"])
    raw = status.get("stateRef")
    if not raw:
        return {}
    ref = StateRef.from_status(raw)
    shards = []
    for name in ref.config_maps:
        try:
            shards.append(shard_bytes(core.read_namespaced_config_map(name, namespace)))
        except Exception as error:
            if status_of(error) == NOT_FOUND:
                raise StateUnreadableError(f"ConfigMap {namespace}/{name} is gone") from error
            raise
    return decode_state(shards, ref)


# -- the store ----------------------------------------------------------------------------


class StateStore:
    """Writes and reads one Constellation's state shards through the operator's API."""

    def __init__(self, api: Api, namespace: str, name: str, owner_uid: str) -> None:
        self.api = api
        self.namespace = namespace
        self.name = name
        self.owner_uid = owner_uid
        self.slot_in_status: int | None = None  # the slot the status refers to

    def adopt(self, status: dict[str, Any]) -> None:
        """Remember which slot the status refers to, so the next write takes the other."""
        raw = status.get("stateRef")
        self.slot_in_status = StateRef.from_status(raw).slot if raw else None

    async def load(self, status: dict[str, Any]) -> dict[str, Any]:
        """The state the status refers to; {} when there is none. Raises StateUnreadableError."""
        self.adopt(status)
        state: dict[str, Any] = await self.api.call(
            "get", "configmaps", read_state, self.api.core, self.namespace, status
        )
        return state

    async def save(self, state: dict[str, Any]) -> StateRef:
        """Write the state's shards to the free slot; the reference for the status."""
        slot = 1 if self.slot_in_status == 0 else 0
        shards, size, digest = await asyncio.to_thread(encode_state, state)
        names = shard_names(self.name, slot, len(shards))
        annotations = {
            "kubesat.io/step": str(int(state.get("step", 0))),
            "kubesat.io/sha256": digest,
        }
        for name, shard in zip(names, shards, strict=True):
            body = shard_body(name, self.name, self.owner_uid, shard, annotations)
            await self._put(name, body)
        return StateRef(names, size, digest, int(state.get("step", 0)), slot)

    def referenced(self, ref: StateRef) -> None:
        """The status now refers to `ref`: its slot is the one not to write next."""
        self.slot_in_status = ref.slot

    async def _put(self, name: str, body: dict[str, Any]) -> None:
        """Replace the ConfigMap, creating it the first time (a create that lost a race to
        another writer replaces it after all)."""
        try:
            await self._replace(name, body)
        except Exception as error:
            if status_of(error) != NOT_FOUND:
                raise
            try:
                await self.api.call(
                    "create",
                    "configmaps",
                    self.api.core.create_namespaced_config_map,
                    self.namespace,
                    body,
                )
            except Exception as created_error:
                if status_of(created_error) != CONFLICT:
                    raise
                await self._replace(name, body)

    async def _replace(self, name: str, body: dict[str, Any]) -> None:
        core = self.api.core
        await self.api.call(
            "update", "configmaps", core.replace_namespaced_config_map, name, self.namespace, body
        )
