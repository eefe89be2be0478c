"""The engine's downlink state as plain JSON (part of `durable.to_state`): results waiting
on board for a contact and the downlink counters, so a restarted operator still brings
them down."""

from __future__ import annotations

from typing import Any

from kubesat.engine.fleet import FleetEngine


def downlink_state(engine: FleetEngine) -> dict[str, Any] | None:
    """Per satellite, the queued results (by Job key and unit); None when nothing waits
    and nothing was brought down."""
    e = engine
    c = e.counters
    if not any(e.downlink_queue) and c.results_landed == 0:
        return None
    queues = {
        e.names[sat]: [
            [e.job_keys[int(job)], int(e.unit_index[int(unit)]), float(left), float(done)]
            for job, unit, left, done in queue
        ]
        for sat, queue in enumerate(e.downlink_queue)
        if queue
    }
    return {
        "queues": queues,
        "downlinkedBytes": c.downlinked_bytes,
        "resultsLanded": c.results_landed,
        "landedLatencySeconds": c.landed_latency_seconds,
        "landedLatencyMaxSeconds": c.landed_latency_max_seconds,
    }


def restore_downlink_state(engine: FleetEngine, saved: dict[str, Any] | None) -> None:
    """Take back `downlink_state` (queues of Jobs or satellites gone are dropped)."""
    e = engine
    if not saved:
        return
    index = {name: i for i, name in enumerate(e.names)}
    for name, queue in (saved.get("queues") or {}).items():
        sat = index.get(name)
        if sat is None:
            continue
        for key, unit_index, left, done in queue:
            job = e.job_index(str(key))
            if job is None:
                continue
            units = e.units_of(job)
            units = units[e.unit_index[units] == int(unit_index)]
            if units.size == 0:
                continue
            e.downlink_queue[sat].append([job, int(units[0]), float(left), float(done)])
            e.downlink_backlog_bytes[sat] += float(left)
    c = e.counters
    c.downlinked_bytes = float(saved.get("downlinkedBytes", 0.0))
    c.results_landed = int(saved.get("resultsLanded", 0))
    c.landed_latency_seconds = float(saved.get("landedLatencySeconds", 0.0))
    c.landed_latency_max_seconds = float(saved.get("landedLatencyMaxSeconds", 0.0))
