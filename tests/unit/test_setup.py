"""The README's `make test` installs what the tests need; CI calls the same command.

deploy/install-system-packages.sh is run for real, with `apt-get` and `sudo` replaced by
recorders on a PATH that holds only what the script may use, so the packages it would
install for each missing command are checked without touching the machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.prerequisites import missing

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "install-system-packages.sh"
TOOLS = ("prometheus", "promtool", "openssl", "shellcheck")
RECORDER = '#!/bin/sh\necho "$(basename "$0") $*" >> "$RECORD"\n'


def _make_target(name: str) -> tuple[list[str], str]:
    """A Makefile target's prerequisites and recipe."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{name}:([^#\n]*)(?:##.*)?\n((?:\t.*\n)*)", text, re.MULTILINE)
    assert match, f"no `{name}` target"
    return match.group(1).split(), match.group(2)


def test_make_test_installs_every_prerequisite_first():
    prerequisites, recipe = _make_target("test")
    assert {"deps", "install", "controlplane"} <= set(prerequisites)
    assert "pytest" in recipe
    _, deps_recipe = _make_target("deps")
    assert "install-system-packages.sh" in deps_recipe


def test_ci_runs_the_readme_command():
    text = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", text, re.MULTILINE)
    assert "export CI=true" in text
    assert "pip install" not in text  # set-up lives in `make test`, not only in CI
    readme = (ROOT / "README.md").read_text()
    assert "make test " in readme and "make deps" in readme


def _run(tmp_path: Path, present: tuple[str, ...], uid_root: bool) -> tuple[str, list[str]]:
    """Run the script with only `present` of TOOLS on PATH; return stdout and recorded calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sort", "basename"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {0 if uid_root else 1000}\n")
    for name in (*present, "apt-get", "sudo"):
        (bin_dir / name).write_text(RECORDER)
    # sudo runs its arguments, as the real one does
    (bin_dir / "sudo").write_text(RECORDER + '"$@"\n')
    for path in bin_dir.iterdir():
        path.chmod(0o755)
    record = tmp_path / "record"
    record.touch()
    env = {"PATH": str(bin_dir), "RECORD": str(record), "HOME": str(tmp_path)}
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, str(SCRIPT)], env=env, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout, record.read_text().splitlines()


def test_install_script_installs_nothing_when_all_present(tmp_path):
    if not Path("/etc/ssl/certs/ca-certificates.crt").exists():
        missing("ca-certificates is not installed (`make deps` installs it)")
    stdout, calls = _run(tmp_path, TOOLS, uid_root=True)
    assert "all present" in stdout
    assert calls == []


@pytest.mark.parametrize("uid_root", [True, False])
def test_install_script_installs_the_missing_packages(tmp_path, uid_root):
    stdout, calls = _run(tmp_path, ("openssl",), uid_root=uid_root)
    installs = [call for call in calls if call.startswith("apt-get install")]
    assert len(installs) == 1
    packages = set(installs[0].split()) - {"apt-get", "install", "-y", "-q"}
    packages -= {"--no-install-recommends"}
    assert {"prometheus", "shellcheck"} <= packages
    assert "openssl" not in packages
    assert any(call.startswith("apt-get update") for call in calls)
    assert any(call.startswith("sudo ") for call in calls) is not uid_root
    assert "installing" in stdout
