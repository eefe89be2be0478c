"""Write deploy/dashboards/*.json from the dashboard modules (`make dashboards`).

    python -m deploy.dashboards.build            write the files that differ
    python -m deploy.dashboards.build --check    write nothing; exit 1 naming stale files

Edit the modules, not the JSON: tests/unit/test_dashboards.py fails when a committed file
differs from what its module generates. `make dashboards` then copies the files into the
chart (deploy/sync-chart-assets.sh).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from deploy.dashboards import operator_board, overview, power, radiation, workloads
from deploy.dashboards.panels import render
from grafana_foundation_sdk.models.dashboard import Dashboard

HERE = Path(__file__).resolve().parent
BOARDS: dict[str, Callable[[], Dashboard]] = {
    "kubesat-operator.json": operator_board.build,
    "kubesat-overview.json": overview.build,
    "kubesat-power.json": power.build,
    "kubesat-radiation.json": radiation.build,
    "kubesat-workloads.json": workloads.build,
}


def main(argv: list[str]) -> int:
    check = argv == ["--check"]
    if argv and not check:
        print(f"usage: python -m deploy.dashboards.build [--check], got {argv}", file=sys.stderr)
        return 2
    problems = []
    for name, build in BOARDS.items():
        path = HERE / name
        text = render(build())
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        if check:
            problems.append(f"deploy/dashboards/{name}: not what its module generates")
        else:
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote deploy/dashboards/{name}")
    problems += [
        f"deploy/dashboards/{path.name}: no module builds it (add one to BOARDS)"
        for path in sorted(HERE.glob("*.json"))
        if path.name not in BOARDS
    ]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and check:
        print("run `make dashboards`", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
