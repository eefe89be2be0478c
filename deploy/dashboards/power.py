"""kubesat / Power and eclipses: sunlight, batteries, ground contacts and heat."""

from __future__ import annotations

from deploy.dashboards.panels import (
    FLEET,
    POWER_STATES,
    SATS,
    band,
    bar_gauge,
    board,
    constellation,
    per_constellation,
    per_satellite,
    power_state,
    query,
    rate,
    satellite,
    state_timeline,
    steps,
    timeseries_panel,
)
from grafana_foundation_sdk.models import common as c
from grafana_foundation_sdk.models import dashboard as d

# Mean power from an energy counter: joules per wall second over simulated seconds per
# wall second, so the rate is per simulated second whatever the clock's speedup.
PER_SIMULATED_SECOND = (
    " / on (constellation) max by (constellation)"
    f" (deriv(kubesat_simulated_time_seconds{FLEET}[$__rate_interval]))"
)

# What the satellites' 0/1 gauges read as on the state timelines (POWER_STATES: the power).
SUNLIT = {0: ("eclipse", "dark-blue"), 1: ("sunlit", "yellow")}
IN_CONTACT = {0: ("no contact", "transparent"), 1: ("in contact", "green")}


def build() -> d.Dashboard:
    return board(
        "kubesat-power",
        "kubesat / Power and eclipses",
        "Sunlight, eclipses, batteries and ground contacts of each satellite.",
        [constellation(), satellite()],
        [
            band(
                0,
                9,
                state_timeline(
                    "Sunlit or in eclipse",
                    per_satellite(f"kubesat_satellite_sunlit{SATS}"),
                    SUNLIT,
                    about="1 while the whole solar disc is visible; penumbra counts as eclipse.",
                ),
            ),
            band(
                9,
                9,
                state_timeline(
                    "Power state",
                    per_satellite(power_state(SATS)),
                    POWER_STATES,
                    about="Sunlit, in eclipse on battery, or off: the battery reached its"
                    " depth-of-discharge floor (the payload is disconnected until it recharges)"
                    " or a latch-up power-cycles the satellite.",
                ),
            ),
            band(
                18,
                9,
                timeseries_panel(
                    "Battery state of charge",
                    query(f"kubesat_battery_charge_ratio{SATS}", "{{satellite}}"),
                    unit="percentunit",
                    ceiling=1,
                    legend_table=True,
                ),
                timeseries_panel(
                    "Solar and load power (fleet)",
                    per_constellation(f"kubesat_solar_power_watts{SATS}", "solar"),
                    per_constellation(f"kubesat_load_power_watts{SATS}", "load"),
                    per_constellation(
                        rate(f"kubesat_solar_energy_joules_total{SATS}"),
                        "solar, mean over the interval",
                        then=PER_SIMULATED_SECOND,
                    ),
                    unit="watt",
                    about="Instantaneous solar and load power at each scrape, and the mean solar"
                    " power between scrapes from the energy counter (per simulated second),"
                    " which misses no eclipse however coarse the scrape interval.",
                ),
            ),
            band(
                27,
                9,
                timeseries_panel(
                    "Net power per satellite",
                    query(
                        f"kubesat_solar_power_watts{SATS} - kubesat_load_power_watts{SATS}",
                        "{{satellite}}",
                    ),
                    unit="watt",
                    floor=None,
                    legend_table=True,
                    about="Solar minus load: positive charges the battery, negative drains it.",
                ),
                bar_gauge(
                    "Next eclipse in",
                    per_satellite(f"kubesat_next_eclipse_seconds{SATS}", instant=True),
                    display=c.BarGaugeDisplayMode.BASIC,
                    color=d.FieldColorModeId.THRESHOLDS,
                    colors=steps("dark-blue", 1, "orange", 600, "yellow"),
                    unit="s",
                    about="Simulated time until each satellite enters Earth's shadow (0: in"
                    " shadow now). Satellites with no eclipse in the forecast are not shown.",
                ),
            ),
            band(
                36,
                8,
                state_timeline(
                    "Ground contact",
                    per_satellite(f"kubesat_ground_link_up{SATS}"),
                    IN_CONTACT,
                    about="While any ground station sees the satellite above its elevation mask.",
                ),
            ),
            band(
                44,
                9,
                timeseries_panel(
                    "Temperature per satellite",
                    query(f"kubesat_satellite_temperature_celsius{SATS}", "{{satellite}}"),
                    unit="celsius",
                    floor=None,
                    legend_table=True,
                    about="Lumped temperature of each satellite's payload and radiator"
                    " (constellations with spec.thermal). GPUs are held off at the maximum"
                    " temperature; eclipses cool, sunlight warms.",
                ),
                timeseries_panel(
                    "GPUs held off by heat",
                    per_satellite(f"kubesat_gpus_throttled{SATS}"),
                    per_constellation(f"kubesat_gpus_throttled{SATS}", "fleet"),
                    legend_table=True,
                    about="GPUs the radiator cannot carry now, per satellite (the node condition"
                    " ThermalThrottling), and the fleet total.",
                ),
            ),
            band(
                53,
                9,
                timeseries_panel(
                    "Heat rejected (fleet)",
                    per_constellation(
                        rate(f"kubesat_heat_rejected_joules_total{SATS}"),
                        "rejected",
                        then=PER_SIMULATED_SECOND,
                    ),
                    per_constellation(
                        f"kubesat_load_power_watts{SATS}"
                        f" and on (satellite) kubesat_satellite_temperature_celsius{SATS}",
                        "load",
                    ),
                    unit="watt",
                    legend_table=True,
                    about="Mean power the radiators rejected between scrapes, per simulated"
                    " second, from the heat counter; against the electrical load that ends up as"
                    " heat.",
                ),
            ),
        ],
    )
