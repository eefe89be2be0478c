"""The downlink phase: results waiting on board go down during ground contacts."""

from __future__ import annotations

import numpy as np

from kubesat.engine.environment import Column
from kubesat.engine.state import EPSILON, FleetState


def downlink_step(s: FleetState, column: Column) -> None:
    """Results waiting on board go down, first finished first, at the best rate of the
    stations in view; a result has landed when its last byte has."""
    rate_bps = column.downlink_bps
    if rate_bps is None or not s.downlink_backlog_bytes.any():
        return
    c = s.counters
    for sat in np.flatnonzero((s.downlink_backlog_bytes > 0) & (rate_bps > 0)):
        bytes_per_second = float(rate_bps[sat]) / 8.0
        budget = bytes_per_second * s.dt
        queue = s.downlink_queue[sat]
        while queue and budget > 0:
            item = queue[0]
            take = min(item[2], budget)
            item[2] -= take
            budget -= take
            s.downlink_backlog_bytes[sat] -= take
            c.downlinked_bytes += take
            if item[2] <= EPSILON:
                queue.pop(0)
                landed = s.now + s.dt - budget / bytes_per_second
                latency = landed - item[3]
                c.results_landed += 1
                c.landed_latency_seconds += latency
                c.landed_latency_max_seconds = max(c.landed_latency_max_seconds, latency)
        if not queue:
            s.downlink_backlog_bytes[sat] = 0.0
