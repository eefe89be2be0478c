"""The `kubesat` command: simulate, sweep, forecast, operator, bench.

Errors in user input end with one line naming the field and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubesat.arguments import positive_number

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _fail(message: str) -> int:
    print(f"kubesat: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubesat",
        description="An orbital AI data center as a Kubernetes cluster.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    fc = commands.add_parser(
        "forecast",
        help="eclipses, ground contacts and SAA passes of satellites from TLEs",
        description="Forecast what each satellite goes through: eclipses (umbra and "
        "penumbra, conical shadow), ground-station contacts and South Atlantic Anomaly passes.",
    )
    fc.add_argument("--tle", required=True, type=Path, help="TLE file (3-line or 2-line sets)")
    fc.add_argument("--start", required=True, help="start instant, e.g. 2026-11-24T00:00:00Z")
    fc.add_argument("--hours", type=positive_number(), default=24.0, help="span (default 24)")
    fc.add_argument(
        "--station",
        action="append",
        default=[],
        metavar="NAME:LAT:LON[:ALT_M[:MIN_ELEV_DEG]]",
        help="ground station (repeatable); mask defaults to 10 deg",
    )
    fc.add_argument(
        "--step",
        type=positive_number("seconds"),
        default=10.0,
        help="sampling step in seconds before boundary refinement (default 10)",
    )
    fc.add_argument(
        "--saa-threshold",
        type=float,
        default=None,
        help="proton flux (>10 MeV, cm^-2 s^-1) that counts as an SAA pass",
    )
    fc.add_argument("--no-radiation", action="store_true", help="skip the SAA passes")
    fc.add_argument("--json", action="store_true", help="print JSON instead of tables")

    from kubesat.k8s.commands import add_operator_parser
    from kubesat.sim.commands import add_simulate_parser, add_sweep_parser

    add_simulate_parser(commands)
    add_sweep_parser(commands)
    add_operator_parser(commands)
    return parser


def run_forecast(args: argparse.Namespace) -> int:
    from kubesat.core.forecast import forecast
    from kubesat.core.geometry import Sky
    from kubesat.core.ground import parse_station
    from kubesat.core.orbits import Fleet, parse_tle_text
    from kubesat.core.timebase import TimeGrid, iso_z, parse_utc

    start = parse_utc(args.start, "--start")
    try:
        text = args.tle.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--tle: cannot read {str(args.tle)!r}: {error.strerror}") from None
    stations = [parse_station(s) for s in args.station]
    names = [s.name for s in stations]
    if len(set(names)) != len(names):
        raise UsageError(f"--station: names must be unique, got {names}")
    fleet = Fleet(parse_tle_text(text, source=f"--tle {args.tle}"))
    grid = TimeGrid.regular(start, args.hours * 3600.0, args.step)
    sky = Sky.on(grid)
    flux_model, threshold = None, 0.0
    if not args.no_radiation:
        from kubesat.core.radiation import (
            DEFAULT_SOLAR,
            default_saa_threshold,
            drifted_flux_model,
        )

        flux_model = drifted_flux_model(DEFAULT_SOLAR, start)
        threshold = (
            args.saa_threshold if args.saa_threshold is not None else default_saa_threshold()
        )

    forecasts = forecast(fleet, sky, stations, flux_model, threshold or 1.0)

    def iso(offset: float | None) -> str | None:
        return None if offset is None else iso_z(grid.instant(offset))

    document = {
        "satellites": [
            {
                "name": f.name,
                "period_minutes": round(f.period_minutes, 4),
                "sunlit_fraction": round(f.sunlit_fraction, 6),
                "eclipses": [
                    {
                        "start": iso(e.start_seconds),
                        "end": iso(e.end_seconds),
                        "umbra_start": iso(e.umbra_start_seconds),
                        "umbra_end": iso(e.umbra_end_seconds),
                    }
                    for e in f.eclipses
                ],
                "contacts": [
                    {
                        "station": c.station,
                        "aos": iso(c.aos_seconds),
                        "los": iso(c.los_seconds),
                        "max_elevation_deg": round(c.max_elevation_deg, 3),
                    }
                    for c in f.contacts
                ],
                "saa_passes": [
                    {
                        "start": iso(p.start_seconds),
                        "end": iso(p.end_seconds),
                        "peak_flux": round(p.peak_flux, 3),
                    }
                    for p in f.radiation_passes
                ],
            }
            for f in forecasts
        ]
    }
    if args.json:
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_forecast_tables(document)
    return 0


def _print_forecast_tables(document: dict[str, Any]) -> None:
    for sat in document["satellites"]:
        print(
            f"{sat['name']}  period {sat['period_minutes']:.2f} min  "
            f"sunlit {100 * sat['sunlit_fraction']:.1f}%"
        )
        if sat["eclipses"]:
            print(f"  {'eclipse start':<25}{'end':<25}{'minutes':>8}  umbra")
            for e in sat["eclipses"]:
                minutes = (_seconds(e["end"]) - _seconds(e["start"])) / 60
                umbra = "yes" if e["umbra_start"] else "no"
                print(f"  {e['start']:<25}{e['end']:<25}{minutes:>8.1f}  {umbra}")
        else:
            print("  no eclipse")
        if sat["contacts"]:
            print(f"  {'station':<14}{'AOS':<25}{'LOS':<25}{'max el':>7}")
            for c in sat["contacts"]:
                print(
                    f"  {c['station']:<14}{c['aos']:<25}{c['los']:<25}"
                    f"{c['max_elevation_deg']:>6.1f}°"
                )
        for p in sat["saa_passes"]:
            print(f"  SAA {p['start']} → {p['end']}  peak {p['peak_flux']:.0f} /cm²/s")
        print()


def _seconds(iso_text: str) -> float:
    from kubesat.core.timebase import parse_utc

    return parse_utc(iso_text).timestamp()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "forecast":
            return run_forecast(args)
        return int(args.run(args))
    except (UsageError, ValueError) as error:
        return _fail(str(error))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
