"""The panel patterns the kubesat dashboards share, built with grafana-foundation-sdk.

Every panel queries Prometheus through the `${datasource}` variable; its queries get the
refIds A, B, C... in order, and the dashboard numbers its panels 1, 2, 3... in order. The
panels are built without a position: `band` lays them out side by side on Grafana's
24-column grid, a band at a time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from itertools import accumulate, chain
from string import ascii_uppercase
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    geomap,
    prometheus,
    stat,
    statetimeline,
    timeseries,
)
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models import dashboard as d
from grafana_foundation_sdk.models import geomap as g
from grafana_foundation_sdk.models import prometheus as p

DATASOURCE = c.DataSourceRef(type_val="prometheus", uid="${datasource}")
# The dashboard schema the panels below are written for (Grafana migrates it up on load);
# left alone, the SDK would claim its own, 42.
SCHEMA_VERSION = 39

# kubesat_satellite_sunlit + 1, times power available and node ready (the Power state
# panels), and 3 for the South Atlantic Anomaly marker of the overview map.
POWER_STATES = {
    0: ("off (battery at floor / power cycle)", "red"),
    1: ("eclipse, on battery", "blue"),
    2: ("sunlit", "yellow"),
    3: ("South Atlantic Anomaly", "purple"),
}

# The selectors of the template variables: the constellations picked, and their satellites.
FLEET = '{constellation=~"$constellation"}'
SATS = '{constellation=~"$constellation", satellite=~"$satellite"}'

# Useful GPU-seconds over what sunlight and batteries allowed, since the start.
GOODPUT = f"kubesat_goodput_ratio{FLEET}"

Panel = Builder[d.Panel]
GRID_WIDTH = 24


def power_state(selector: str) -> str:
    """PromQL of each satellite's POWER_STATES value (0, 1 or 2)."""
    return (
        f"(kubesat_satellite_sunlit{selector} + 1) * kubesat_power_available{selector}"
        f" * kubesat_node_ready{selector}"
    )


def rate(counter: str) -> str:
    """PromQL of a counter's per-second rate over the panel's interval."""
    return f"rate({counter}[$__rate_interval])"


def increase(counter: str) -> str:
    """PromQL of how much a counter grew over the panel's interval."""
    return f"increase({counter}[$__rate_interval])"


def query(
    expr: str, legend: str = "__auto", *, instant: bool = False, table: bool = False
) -> prometheus.Dataquery:
    """A PromQL query as code: a range query (time series) unless `instant`."""
    built = (
        prometheus.Dataquery()
        .datasource(DATASOURCE)
        .editor_mode(p.QueryEditorMode.CODE)
        .expr(expr)
        .legend_format(legend)
    )
    if table:
        built = built.format(p.PromQueryFormat.TABLE)
    return built.instant() if instant else built.range()


def per_constellation(expr: str, legend: str = "", *, then: str = "") -> prometheus.Dataquery:
    """`expr` summed over each constellation (followed by `then`, such as " / 3600"), a
    series a constellation named "<legend> <constellation>"."""
    named = f"{legend} {{{{constellation}}}}".lstrip()
    return query(f"sum by (constellation) ({expr}){then}", named)


def per_satellite(expr: str, how: str = "max", *, instant: bool = False) -> prometheus.Dataquery:
    """`expr` reduced by `how` to one series a satellite, named after it."""
    return query(f"{how} by (satellite) ({expr})", "{{satellite}}", instant=instant)


def increase_by(label: str, counter: str) -> prometheus.Dataquery:
    """How much a counter grew over each interval, one series a value of `label`."""
    return query(f"sum by ({label}) ({increase(counter)})", f"{{{{{label}}}}}")


def table_rows(
    expr: str, how: str = "max", *, anomaly: float | None = None, instant: bool = True
) -> prometheus.Dataquery:
    """A table query of one row a satellite; with `anomaly`, one more row, the value
    `anomaly` for the South Atlantic Anomaly (the map's marker)."""
    expr = f"{how} by (constellation, plane, satellite) ({expr})"
    if anomaly is not None:
        marker = (
            f'label_replace(vector({anomaly:g}), "satellite", "South Atlantic Anomaly", "", "")'
        )
        expr = f"{expr} or {marker}"
    return query(expr, instant=instant, table=True)


def steps(base: str, *then: float | str) -> dashboard.ThresholdsConfig:
    """Absolute thresholds read as a number line: steps("red", 0.5, "orange", 0.8, "green")."""
    marks = [d.Threshold(value=None, color=base)]
    marks += [d.Threshold(value=v, color=col) for v, col in zip(then[::2], then[1::2], strict=True)]
    return dashboard.ThresholdsConfig().mode(d.ThresholdsMode.ABSOLUTE).steps(marks)


def value_map(states: Mapping[int, tuple[str, str]]) -> d.ValueMap:
    """Numbers shown as words with a colour: {0: ("eclipse", "dark-blue"), ...}."""
    return d.ValueMap(
        options={
            str(value): d.ValueMappingResult(text=text, color=color, index=index)
            for index, (value, (text, color)) in enumerate(states.items())
        }
    )


def placed(panel: Any, title: str, targets: Sequence[prometheus.Dataquery], about: str) -> Any:
    """`panel` with its title, description and queries (refIds A, B...)."""
    for ref, target in zip(ascii_uppercase, targets, strict=False):
        panel = panel.with_target(target.ref_id(ref))
    return panel.title(title).description(about).datasource(DATASOURCE)


def band(
    y: int, h: int, *panels: Any, widths: Sequence[int] = (), x: int = 0
) -> list[Panel | dashboard.Row]:
    """`panels` side by side, `h` rows high from row `y`, from column `x` on: as wide as
    `widths` says, else sharing the rest of the grid's width alike."""
    widths = widths or [(GRID_WIDTH - x) // len(panels)] * len(panels)
    lefts = accumulate(widths[:-1], initial=x)
    return [
        panel.grid_pos(d.GridPos(x=left, y=y, w=w, h=h))
        for panel, left, w in zip(panels, lefts, widths, strict=True)
    ]


def _reduce_last() -> common.ReduceDataOptions:
    return common.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def stat_panel(
    title: str,
    *targets: prometheus.Dataquery,
    colors: dashboard.ThresholdsConfig,
    unit: str = "none",
    text: c.BigValueTextMode = c.BigValueTextMode.AUTO,
    decimals: int | None = None,
    about: str = "",
) -> stat.Panel:
    """A big number: the last value of each query, coloured by `colors`."""
    panel = (
        placed(stat.Panel(), title, targets, about)
        .unit(unit)
        .color_scheme(dashboard.FieldColor().mode(d.FieldColorModeId.THRESHOLDS))
        .thresholds(colors)
        .mappings([])
        .reduce_options(_reduce_last())
        .color_mode(c.BigValueColorMode.VALUE)
        .graph_mode(c.BigValueGraphMode.NONE)
        .justify_mode(c.BigValueJustifyMode.AUTO)
        .orientation(c.VizOrientation.AUTO)
        .text_mode(text)
        .wide_layout(True)
        .show_percent_change(False)
    )
    return panel if decimals is None else panel.decimals(decimals)


def goodput_stat(title: str, target: prometheus.Dataquery, about: str = "") -> stat.Panel:
    """Goodput as a percentage: red below 50 %, orange below 80 %, else green."""
    colors = steps("red", 0.5, "orange", 0.8, "green")
    return stat_panel(title, target, colors=colors, unit="percentunit", decimals=1, about=about)


def pending_pods() -> stat.Panel:
    """GPU pods no satellite has taken yet: green at none, orange from one."""
    pending = 'sum(kubesat_pods{constellation=~"$constellation", phase="Pending"})'
    colors = steps("green", 1, "orange")
    return stat_panel("Pending pods", query(pending, "pending", instant=True), colors=colors)


def timeseries_panel(
    title: str,
    *targets: prometheus.Dataquery,
    unit: str = "none",
    about: str = "",
    bars: bool = False,
    stacked: bool = False,
    fill: int = 10,
    floor: float | None = 0,
    ceiling: float | None = None,
    legend_table: bool = False,
) -> timeseries.Panel:
    """Lines (or stacked bars, per interval) over time; a table legend on the right shows
    each series' last value."""
    legend = common.VizLegendOptions().show_legend(True)
    if legend_table:
        legend = legend.display_mode(c.LegendDisplayMode.TABLE)
        legend = legend.placement(c.LegendPlacement.RIGHT).calcs(["lastNotNull"])
    else:
        legend = legend.display_mode(c.LegendDisplayMode.LIST)
        legend = legend.placement(c.LegendPlacement.BOTTOM).calcs([])
    stacking = c.StackingMode.NORMAL if bars or stacked else c.StackingMode.NONE
    panel = (
        placed(timeseries.Panel(), title, targets, about)
        .unit(unit)
        .color_scheme(dashboard.FieldColor().mode(d.FieldColorModeId.PALETTE_CLASSIC))
        .draw_style(c.GraphDrawStyle.BARS if bars else c.GraphDrawStyle.LINE)
        .line_interpolation(c.LineInterpolation.STEP_AFTER if bars else c.LineInterpolation.LINEAR)
        .line_width(1)
        .fill_opacity(80 if bars else fill)
        .show_points(c.VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(common.StackingConfig().mode(stacking).group("A"))
        .axis_placement(c.AxisPlacement.AUTO)
        .gradient_mode(c.GraphGradientMode.NONE)
        .legend(legend)
        .tooltip(
            common.VizTooltipOptions().mode(c.TooltipDisplayMode.MULTI).sort(c.SortOrder.DESCENDING)
        )
    )
    if floor is not None:
        panel = panel.min(floor)
    return panel if ceiling is None else panel.max(ceiling)


def gpus_panel(*, on_board: bool = False) -> timeseries.Panel:
    """GPUs running pods and GPUs powered and ready (and, if `on_board`, all the GPUs), a
    series a constellation."""
    powered = f"kubesat_gpus{FLEET} * kubesat_power_available{FLEET} * kubesat_node_ready{FLEET}"
    targets = [
        per_constellation(f"kubesat_gpus_busy{FLEET}", "busy"),
        per_constellation(powered, "powered and ready"),
    ]
    if on_board:
        targets.append(per_constellation(f"kubesat_gpus{FLEET}", "on board"))
    return timeseries_panel("GPUs", *targets)


def state_timeline(
    title: str,
    target: prometheus.Dataquery,
    states: Mapping[int, tuple[str, str]],
    about: str = "",
) -> statetimeline.Panel:
    """One band per series, coloured by the state its value maps to."""
    return (
        placed(statetimeline.Panel(), title, [target], about)
        .color_scheme(dashboard.FieldColor().mode(d.FieldColorModeId.THRESHOLDS))
        .thresholds(steps("text"))
        .mappings([value_map(states)])
        .fill_opacity(80)
        .line_width(0)
        .merge_values(True)
        .show_value(c.VisibilityMode.NEVER)
        .align_value(c.TimelineValueAlignment.LEFT)
        .row_height(0.9)
        .legend(
            common.VizLegendOptions()
            .show_legend(True)
            .display_mode(c.LegendDisplayMode.LIST)
            .placement(c.LegendPlacement.BOTTOM)
        )
        .tooltip(
            common.VizTooltipOptions().mode(c.TooltipDisplayMode.SINGLE).sort(c.SortOrder.NONE)
        )
    )


def bar_gauge(
    title: str,
    target: prometheus.Dataquery,
    *,
    display: c.BarGaugeDisplayMode,
    color: d.FieldColorModeId,
    colors: dashboard.ThresholdsConfig,
    unit: str | None = None,
    about: str = "",
) -> bargauge.Panel:
    """One horizontal bar per series, at its last value."""
    panel = placed(bargauge.Panel(), title, [target], about)
    if unit is not None:
        panel = panel.unit(unit)
    return (
        panel.min(0)
        .color_scheme(dashboard.FieldColor().mode(color))
        .thresholds(colors)
        .orientation(c.VizOrientation.HORIZONTAL)
        .display_mode(display)
        .show_unfilled(True)
        .value_mode(c.BarGaugeValueMode.COLOR)
        .name_placement(c.BarGaugeNamePlacement.LEFT)
        .sizing(c.BarGaugeSizing.AUTO)
        .reduce_options(_reduce_last())
    )


def merge_and_rename(columns: Sequence[str], *, drop_time: bool) -> list[d.DataTransformerConfig]:
    """Join table queries into one frame per satellite, the value of query A in a column
    named columns[0], of B in columns[1], and so on."""
    renames = {f"Value #{ref}": name for ref, name in zip(ascii_uppercase, columns, strict=False)}
    return [
        d.DataTransformerConfig(id_val="merge", options={}),
        d.DataTransformerConfig(
            id_val="organize",
            options={
                "excludeByName": {"Time": True} if drop_time else {},
                "indexByName": {},
                "renameByName": renames,
            },
        ),
    ]


def map_layer(kind: str, name: str, config: Mapping[str, Any]) -> common.MapLayerOptions:
    """A data layer of a geomap, placed by the latitude and longitude columns."""
    return (
        common.MapLayerOptions()
        .type(kind)
        .name(name)
        .config(config)
        .location(
            common.FrameGeometrySource()
            .mode(c.FrameGeometrySourceMode.COORDS)
            .latitude("latitude")
            .longitude("longitude")
        )
        .tooltip(True)
    )


def geomap_panel(
    title: str,
    targets: Sequence[prometheus.Dataquery],
    layer: common.MapLayerOptions,
    transformations: list[d.DataTransformerConfig],
    about: str = "",
) -> geomap.Panel:
    """A world map with one data layer over the default basemap."""
    return (
        placed(geomap.Panel(), title, targets, about)
        .basemap(common.MapLayerOptions().type("default").name("Basemap").config({}))
        .controls(
            geomap.ControlsOptions()
            .mouse_wheel_zoom(True)
            .show_attribution(True)
            .show_debug(False)
            .show_measure(False)
            .show_scale(False)
            .show_zoom(True)
        )
        .layers([layer])
        .tooltip(geomap.TooltipOptions().mode(g.TooltipMode.DETAILS))
        .view(geomap.MapViewConfig().id("zero").lat(0).lon(0).zoom(1).all_layers(True))
        .transformations(transformations)
    )


def variable(name: str, label: str, selector: str) -> dashboard.QueryVariable:
    """A multi-value variable of the values of a label, All meaning any (`.*`)."""
    text = f"label_values({selector}, {name})"
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .definition(text)
        .query({"query": text, "refId": "StandardVariableQuery"})
        .hide(d.VariableHide.DONT_HIDE)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .options([])
        .refresh(d.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .regex("")
        .sort(d.VariableSort.ALPHABETICAL_ASC)
    )


def constellation() -> dashboard.QueryVariable:
    return variable("constellation", "Constellation", "kubesat_simulated_time_seconds")


def satellite() -> dashboard.QueryVariable:
    selector = 'kubesat_satellite_sunlit{constellation=~"$constellation"}'
    return variable("satellite", "Satellite", selector)


def board(
    uid: str,
    title: str,
    about: str,
    variables: Sequence[dashboard.QueryVariable],
    bands: Sequence[Sequence[Panel | dashboard.Row]],
) -> d.Dashboard:
    """A kubesat dashboard: UTC, shared crosshair, refreshed every 10 s, linked to the
    others by the kubesat tag, with a data source picker before `variables`; its panels
    are those of `bands`, top to bottom."""
    built = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(about)
        .tags(["kubesat"])
        .editable()
        .fiscal_year_start_month(0)
        .tooltip(d.DashboardCursorSync.CROSSHAIR)
        .refresh("10s")
        .time("now-1h", "now")
        .timezone("utc")
        .version(1)
        .week_start("")
        .annotation(
            dashboard.AnnotationQuery()
            .built_in(1)
            .datasource(c.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .name("Annotations & Alerts")
            .type("dashboard")
        )
        .link(
            dashboard.DashboardLink("kubesat")
            .type(d.DashboardLinkType.DASHBOARDS)
            .tags(["kubesat"])
            .as_dropdown(True)
            .icon("external link")
            .include_vars(True)
            .keep_time(True)
            .target_blank(False)
        )
        .with_variable(
            dashboard.DatasourceVariable("datasource")
            .label("Data source")
            .type("prometheus")
            .hide(d.VariableHide.DONT_HIDE)
            .include_all(False)
            .multi(False)
            .regex("")
        )
    )
    for var in variables:
        built = built.with_variable(var)
    for number, panel in enumerate(chain.from_iterable(bands), start=1):
        if isinstance(panel, dashboard.Row):
            built = built.with_row(panel.id(number))
        else:
            built = built.with_panel(panel.id(number))
    model = built.build()
    model.schema_version = SCHEMA_VERSION
    # The SDK puts every link and annotation toggle in Grafana 12's controls menu; without
    # a placement they stay where Grafana has always shown them, above the panels.
    for item in [*(model.links or []), *(model.annotations.list_val or [])]:
        item.placement = None
    return model


def render(model: d.Dashboard) -> str:
    """The dashboard's JSON as the chart ships it: sorted keys, two-space indent."""
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
