"""The pure-core rules, checked by import-linter and mypy: kubesat.core and kubesat.engine
do no Kubernetes I/O, and every package type-checks strictly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_imports_no_kubernetes_metrics_or_shells():
    lint_imports = shutil.which("lint-imports")
    assert lint_imports, "import-linter is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_every_package_type_checks_strictly():
    mypy = shutil.which("mypy")
    assert mypy, "mypy is a dev dependency: pip install -e '.[dev]'"
    targets = ["operator/kubesat"]
    result = subprocess.run(
        [mypy, "--no-incremental", *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
