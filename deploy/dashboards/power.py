"""kubesat / Power and eclipses: sunlight, batteries, ground contacts and heat."""

from __future__ import annotations

from deploy.dashboards.panels import (
    FLEET,
    POWER_STATES,
    SATS,
    bar_gauge,
    board,
    constellation,
    power_state,
    query,
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


def build() -> d.Dashboard:
    return board(
        "kubesat-power",
        "kubesat / Power and eclipses",
        "Sunlight, eclipses, batteries and ground contacts of each satellite.",
        [constellation(), satellite()],
        [
            state_timeline(
                "Sunlit or in eclipse",
                (0, 0, 24, 9),
                query(f"max by (satellite) (kubesat_satellite_sunlit{SATS})", "{{satellite}}"),
                {0: ("eclipse", "dark-blue"), 1: ("sunlit", "yellow")},
                about="1 while the whole solar disc is visible; penumbra counts as eclipse.",
            ),
            state_timeline(
                "Power state",
                (0, 9, 24, 9),
                query(f"max by (satellite) ({power_state(SATS)})", "{{satellite}}"),
                POWER_STATES,
                about="Sunlit, in eclipse on battery, or off: the battery reached its"
                " depth-of-discharge floor (the payload is disconnected until it recharges) or"
                " a latch-up power-cycles the satellite.",
            ),
            timeseries_panel(
                "Battery state of charge",
                (0, 18, 12, 9),
                query(f"kubesat_battery_charge_ratio{SATS}", "{{satellite}}"),
                unit="percentunit",
                ceiling=1,
                legend_table=True,
            ),
            timeseries_panel(
                "Solar and load power (fleet)",
                (12, 18, 12, 9),
                query(
                    f"sum by (constellation) (kubesat_solar_power_watts{SATS})",
                    "solar {{constellation}}",
                ),
                query(
                    f"sum by (constellation) (kubesat_load_power_watts{SATS})",
                    "load {{constellation}}",
                ),
                query(
                    "sum by (constellation) "
                    f"(rate(kubesat_solar_energy_joules_total{SATS}[$__rate_interval]))"
                    + PER_SIMULATED_SECOND,
                    "solar, mean over the interval {{constellation}}",
                ),
                unit="watt",
                about="Instantaneous solar and load power at each scrape, and the mean solar"
                " power between scrapes from the energy counter (per simulated second), which"
                " misses no eclipse however coarse the scrape interval.",
            ),
            timeseries_panel(
                "Net power per satellite",
                (0, 27, 12, 9),
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
                (12, 27, 12, 9),
                query(
                    f"max by (satellite) (kubesat_next_eclipse_seconds{SATS})",
                    "{{satellite}}",
                    instant=True,
                ),
                display=c.BarGaugeDisplayMode.BASIC,
                color=d.FieldColorModeId.THRESHOLDS,
                colors=steps("dark-blue", 1, "orange", 600, "yellow"),
                unit="s",
                about="Simulated time until each satellite enters Earth's shadow (0: in shadow"
                " now). Satellites with no eclipse in the forecast are not shown.",
            ),
            state_timeline(
                "Ground contact",
                (0, 36, 24, 8),
                query(f"max by (satellite) (kubesat_ground_link_up{SATS})", "{{satellite}}"),
                {0: ("no contact", "transparent"), 1: ("in contact", "green")},
                about="While any ground station sees the satellite above its elevation mask.",
            ),
            timeseries_panel(
                "Temperature per satellite",
                (0, 44, 12, 9),
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
                (12, 44, 12, 9),
                query(f"max by (satellite) (kubesat_gpus_throttled{SATS})", "{{satellite}}"),
                query(
                    f"sum by (constellation) (kubesat_gpus_throttled{SATS})",
                    "fleet {{constellation}}",
                ),
                legend_table=True,
                about="GPUs the radiator cannot carry now, per satellite (the node condition"
                " ThermalThrottling), and the fleet total.",
            ),
            timeseries_panel(
                "Heat rejected (fleet)",
                (0, 53, 24, 9),
                query(
                    "sum by (constellation) "
                    f"(rate(kubesat_heat_rejected_joules_total{SATS}[$__rate_interval]))"
                    + PER_SIMULATED_SECOND,
                    "rejected {{constellation}}",
                ),
                query(
                    f"sum by (constellation) (kubesat_load_power_watts{SATS}"
                    f" and on (satellite) kubesat_satellite_temperature_celsius{SATS})",
                    "load {{constellation}}",
                ),
                unit="watt",
                legend_table=True,
                about="Mean power the radiators rejected between scrapes, per simulated second,"
                " from the heat counter; against the electrical load that ends up as heat.",
            ),
        ],
    )
