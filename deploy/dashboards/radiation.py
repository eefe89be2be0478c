"""kubesat / Radiation: upsets by kind, over time, and where the satellites were."""

from __future__ import annotations

from deploy.dashboards.panels import (
    FLEET,
    SATS,
    band,
    bar_gauge,
    board,
    constellation,
    geomap_panel,
    increase,
    increase_by,
    map_layer,
    merge_and_rename,
    per_satellite,
    query,
    rate,
    satellite,
    state_timeline,
    steps,
    table_rows,
    timeseries_panel,
)
from grafana_foundation_sdk.builders import dashboard, geomap
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models import dashboard as d

UPSETS = f"kubesat_radiation_upsets_total{SATS}"
RADIATION_KILLS = (
    'kubesat_pod_failures_total{constellation=~"$constellation", reason=~"sefi|latchup"}'
)


def where_upsets_happened() -> geomap.Panel:
    """A heat map of the upsets in each scrape interval, at the satellite's position then."""
    only_upsets = d.DataTransformerConfig(
        id_val="filterByValue",
        options={
            "filters": [
                {"fieldName": "upsets", "config": {"id": "greater", "options": {"value": 0}}}
            ],
            "match": "any",
            "type": "include",
        },
    )
    return geomap_panel(
        "Where upsets happened",
        [
            table_rows(f"kubesat_satellite_latitude_degrees{SATS}", instant=False),
            table_rows(f"kubesat_satellite_longitude_degrees{SATS}", instant=False),
            table_rows(increase(UPSETS), "sum", instant=False),
        ],
        map_layer(
            "heatmap",
            "Upsets",
            {
                "blur": 20,
                "radius": 8,
                "weight": {"field": "upsets", "fixed": 1, "max": 1, "min": 0},
            },
        ),
        [
            *merge_and_rename(["latitude", "longitude", "upsets"], drop_time=False),
            only_upsets,
        ],
        about="Upsets over the dashboard's time range, at the position each satellite had when"
        " they were scraped: the South Atlantic Anomaly stands out. Positions are sampled at"
        " each scrape, so a short scrape interval (or a low speedup) sharpens it.",
    ).color_scheme(dashboard.FieldColor().mode(d.FieldColorModeId.CONTINUOUS_YL_RD))


def build() -> d.Dashboard:
    return board(
        "kubesat-radiation",
        "kubesat / Radiation",
        "Radiation upsets by kind, over time and by where the satellites were.",
        [constellation(), satellite()],
        [
            band(
                0,
                8,
                timeseries_panel(
                    "Upsets by kind",
                    increase_by("kind", UPSETS),
                    bars=True,
                    about="correctable: counted (ECC); sefi: the GPU hangs, its pod is lost, the"
                    " GPU returns after a recovery time; latchup: the satellite power-cycles.",
                ),
                timeseries_panel(
                    "Upset rate per simulated hour",
                    query(
                        f"3600 * sum by (constellation, kind) ({rate(UPSETS)})"
                        " / on (constellation) group_left max by (constellation)"
                        f" (deriv(kubesat_simulated_time_seconds{FLEET}[$__rate_interval]))",
                        "{{kind}} {{constellation}}",
                    ),
                    about="Upsets per hour of simulated time, whatever the clock's speedup.",
                ),
            ),
            band(
                8,
                14,
                where_upsets_happened(),
                bar_gauge(
                    "Upsets by satellite",
                    per_satellite(UPSETS, "sum", instant=True),
                    display=c.BarGaugeDisplayMode.GRADIENT,
                    color=d.FieldColorModeId.CONTINUOUS_YL_RD,
                    colors=steps("green"),
                    about="Upsets of every kind since the start.",
                ),
                widths=[16, 8],
            ),
            band(
                22,
                8,
                timeseries_panel(
                    "Pods lost to radiation", increase_by("reason", RADIATION_KILLS), bars=True
                ),
                state_timeline(
                    "Node ready",
                    per_satellite(f"kubesat_node_ready{SATS}"),
                    {0: ("not ready", "red"), 1: ("ready", "green")},
                    about="A latch-up power-cycles the satellite: its node is NotReady meanwhile.",
                ),
            ),
        ],
    )
