"""The durable state's codec: exact round trip, shards under a ConfigMap's limit, and a
checksum that refuses shards from another write."""

from __future__ import annotations

import random
from typing import Any

import pytest

from kubesat.k8s.state_store import (
    SHARD_BYTES,
    StateRef,
    StateUnreadableError,
    decode_state,
    encode_state,
    shard_body,
    shard_bytes,
    shard_names,
)

CONFIG_MAP_LIMIT_BYTES = 1024 * 1024


def big_state(seed: int, floats: int) -> dict[str, Any]:
    """A state of random floats (incompressible digits): several shards' worth."""
    rng = random.Random(seed)
    return {
        "step": 4321,
        "stateOfChargeWh": [rng.random() * 1e4 for _ in range(floats)],
        "jobs": {"ns/train/uid": {"progress": [rng.random() for _ in range(floats)]}},
    }


def ref_for(state: dict[str, Any], slot: int = 0) -> tuple[list[bytes], StateRef]:
    shards, size, digest = encode_state(state)
    return shards, StateRef(shard_names("c", slot, len(shards)), size, digest, 4321, slot)


def test_round_trip_is_exact_across_several_shards() -> None:
    state = big_state(1, 150_000)
    shards, ref = ref_for(state)
    assert len(shards) >= 2
    assert all(len(s) <= SHARD_BYTES for s in shards)
    assert decode_state(shards, ref) == state  # floats come back bit for bit


def test_a_shard_fits_in_a_config_map_with_its_metadata() -> None:
    shards, ref = ref_for(big_state(2, 150_000))
    body = shard_body(ref.config_maps[0], "c", "uid-1", shards[0], {"kubesat.io/step": "1"})
    assert shard_bytes(body) == shards[0]
    assert len(shard_bytes(body)) < CONFIG_MAP_LIMIT_BYTES  # what the API server counts
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_shards_of_another_write_are_refused() -> None:
    shards, ref = ref_for(big_state(3, 150_000))
    other, _ = ref_for(big_state(4, 150_000))
    with pytest.raises(StateUnreadableError, match="checksum"):
        decode_state([other[0], *shards[1:]], ref)
    with pytest.raises(StateUnreadableError):
        decode_state(shards[:-1], ref)


def test_reference_round_trips_through_the_status() -> None:
    _, ref = ref_for({"step": 4321}, slot=1)
    assert StateRef.from_status(ref.as_status()) == ref
    assert ref.as_status()["configMaps"] == ["c-state-1-0"]
