"""kubesat / Constellation overview: where the satellites are, their power, and goodput."""

from __future__ import annotations

from deploy.dashboards.panels import (
    FLEET,
    GOODPUT,
    POWER_STATES,
    band,
    board,
    constellation,
    geomap_panel,
    goodput_stat,
    gpus_panel,
    map_layer,
    merge_and_rename,
    pending_pods,
    per_constellation,
    placed,
    power_state,
    query,
    stat_panel,
    steps,
    table_rows,
    timeseries_panel,
    value_map,
)
from grafana_foundation_sdk.builders import common, dashboard, geomap, table
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models import dashboard as d


def satellite_map() -> geomap.Panel:
    """Satellites coloured by power state, and a large purple disc on the SAA (-27, -45)."""
    markers = map_layer(
        "markers",
        "Satellites",
        {
            "showLegend": True,
            "style": {
                "color": {"field": "power", "fixed": "dark-green"},
                "opacity": 0.7,
                "rotation": {"fixed": 0, "max": 360, "min": -360, "mode": "mod"},
                "size": {"fixed": 7, "max": 40, "min": 7, "field": "size"},
                "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
                "symbolAlign": {"horizontal": "center", "vertical": "center"},
                "textConfig": {
                    "fontSize": 10,
                    "offsetX": 0,
                    "offsetY": 12,
                    "textAlign": "center",
                    "textBaseline": "middle",
                },
            },
        },
    )
    return (
        geomap_panel(
            "Satellites by power state",
            [
                table_rows(f"kubesat_satellite_latitude_degrees{FLEET}", anomaly=-27),
                table_rows(f"kubesat_satellite_longitude_degrees{FLEET}", anomaly=-45),
                table_rows(power_state(FLEET), anomaly=3),
                table_rows(f"kubesat_gpus{FLEET} * 0 + 1", anomaly=12),
                table_rows(f"kubesat_battery_charge_ratio{FLEET}"),
            ],
            markers,
            merge_and_rename(["latitude", "longitude", "power", "size", "battery"], drop_time=True),
            about="Each satellite at its sub-satellite point: yellow sunlit, blue in eclipse on"
            " battery, red off (battery at its floor, or a latch-up power cycle). The large"
            " purple disc marks the South Atlantic Anomaly (AP8, 500-600 km), where most upsets"
            " happen. Positions are sampled at each scrape: a satellite moves speedup x the"
            " scrape interval between two points.",
        )
        .color_scheme(dashboard.FieldColor().mode(d.FieldColorModeId.THRESHOLDS))
        .thresholds(steps("red", 1, "blue", 2, "yellow", 3, "purple"))
        .mappings([value_map(POWER_STATES)])
    )


def satellite_table() -> table.Panel:
    """One row per satellite, its columns named by the organize transformation."""
    color_text = d.DynamicConfigValue(
        id_val="custom.cellOptions", value=c.TableColorTextCellOptions()
    )
    return (
        placed(
            table.Panel(),
            "Satellites",
            [
                table_rows(f"kubesat_battery_charge_ratio{FLEET}"),
                table_rows(power_state(FLEET)),
                table_rows(f"kubesat_gpus_busy{FLEET}"),
                table_rows(f"kubesat_ground_link_up{FLEET}"),
                table_rows(f"kubesat_next_eclipse_seconds{FLEET}"),
                table_rows(f"kubesat_radiation_upsets_total{FLEET}", "sum"),
            ],
            "One row per satellite, as it is now.",
        )
        .transformations(
            merge_and_rename(
                ["battery", "power", "GPUs busy", "ground link", "next eclipse in", "upsets"],
                drop_time=True,
            )
        )
        .align(c.FieldTextAlignment.AUTO)
        .cell_options(c.TableAutoCellOptions())
        .override_by_name(
            "battery",
            [
                d.DynamicConfigValue(id_val="unit", value="percentunit"),
                d.DynamicConfigValue(
                    id_val="custom.cellOptions",
                    value=c.TableBarGaugeCellOptions(mode=c.BarGaugeDisplayMode.BASIC),
                ),
                d.DynamicConfigValue(id_val="min", value=0),
                d.DynamicConfigValue(id_val="max", value=1),
            ],
        )
        .override_by_name(
            "power",
            [d.DynamicConfigValue(id_val="mappings", value=[value_map(POWER_STATES)]), color_text],
        )
        .override_by_name(
            "ground link",
            [
                d.DynamicConfigValue(
                    id_val="mappings",
                    value=[value_map({0: ("no", "text"), 1: ("up", "green")})],
                ),
                color_text,
            ],
        )
        .override_by_name("next eclipse in", [d.DynamicConfigValue(id_val="unit", value="s")])
        .show_header(True)
        .cell_height(c.TableCellHeight.SM)
        .sort_by([common.TableSortByFieldState().display_name("satellite").desc(False)])
    )


def build() -> d.Dashboard:
    return board(
        "kubesat-overview",
        "kubesat / Constellation overview",
        "Where the satellites are, which are in sunlight, on battery or off, and how much of"
        " what sunlight allows the fleet turns into useful GPU work.",
        [constellation()],
        [
            band(
                0,
                4,
                goodput_stat(
                    "Goodput",
                    query(GOODPUT, "{{constellation}}", instant=True),
                    about="Useful GPU-seconds completed over the GPU-seconds sunlight and"
                    " batteries could have powered, since the start.",
                ),
                stat_panel(
                    "GPUs busy",
                    query(f"sum(kubesat_gpus_busy{FLEET})", "busy", instant=True),
                    query(f"sum(kubesat_gpus{FLEET})", "on board", instant=True),
                    colors=steps("green"),
                    about="GPUs running pods, and GPUs on board.",
                ),
                stat_panel(
                    "Sunlit satellites",
                    query(f"sum(kubesat_satellite_sunlit{FLEET})", "sunlit", instant=True),
                    query(f"count(kubesat_satellite_sunlit{FLEET})", "satellites", instant=True),
                    colors=steps("yellow"),
                ),
                stat_panel(
                    "Ground link up",
                    query(f"sum(kubesat_ground_link_up{FLEET})", "in contact", instant=True),
                    colors=steps("blue"),
                    about="Satellites a ground station sees now.",
                ),
                pending_pods(),
                stat_panel(
                    "Simulated time",
                    query(
                        f"max(kubesat_simulated_time_seconds{FLEET}) * 1000", "now", instant=True
                    ),
                    colors=steps("text"),
                    unit="dateTimeAsIsoNoDateIfToday",
                    about="The simulated clock (UTC); it runs spec.clock.speedup times wall time.",
                ),
            ),
            band(4, 14, satellite_map(), widths=[16]),
            band(
                4,
                5,
                stat_panel(
                    "Radiation upsets by kind",
                    query(
                        f"sum by (kind) (kubesat_radiation_upsets_total{FLEET})",
                        "{{kind}}",
                        instant=True,
                    ),
                    colors=steps("purple"),
                    text=c.BigValueTextMode.VALUE_AND_NAME,
                    about="Upsets since the start. SEFIs kill the pod on the GPU hit; latch-ups"
                    " power-cycle the satellite.",
                ),
                x=16,
            ),
            band(
                9,
                9,
                timeseries_panel(
                    "Fleet power",
                    per_constellation(f"kubesat_solar_power_watts{FLEET}", "solar"),
                    per_constellation(f"kubesat_load_power_watts{FLEET}", "load"),
                    unit="watt",
                ),
                x=16,
            ),
            band(18, 10, satellite_table()),
            band(
                28,
                8,
                timeseries_panel(
                    "Goodput over time",
                    query(GOODPUT, "since start {{constellation}}"),
                    unit="percentunit",
                ),
                gpus_panel(),
            ),
        ],
    )
