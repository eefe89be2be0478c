"""Starting and stopping the local control plane leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import controlplane
from tests.support.controlplane import BinariesMissingError, LocalControlPlane, find_bin_dir
from tests.support.prerequisites import missing

pytestmark = pytest.mark.controlplane


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    try:
        return find_bin_dir(build=os.environ.get("CI", "").lower() == "true")
    except BinariesMissingError as exc:
        missing(str(exc))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_start_stop_leaves_no_process_nor_files(bin_dir: Path) -> None:
    cp = LocalControlPlane(bin_dir)
    cp.start()
    try:
        pids = cp.pids()
        work_dir = cp.work_dir
        assert set(pids) == set(controlplane.REQUIRED_BINARIES)
        assert all(alive(pid) for pid in pids.values())
        assert cp.kubeconfig_path.is_file()
        assert cp.startup_seconds is not None
        assert cp.startup_seconds > 0
    finally:
        cp.stop()
    assert not any(alive(pid) for pid in pids.values())
    assert work_dir is not None
    assert not work_dir.exists()
    cp.stop()  # idempotent


def test_cli_up_status_down(
    bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("KUBESAT_CACHE", str(tmp_path))
    monkeypatch.setenv("KUBESAT_CONTROLPLANE_BIN", str(bin_dir))
    assert controlplane.main(["up"]) == 0
    try:
        out = capsys.readouterr().out
        kubeconfig = tmp_path / "cluster" / "admin.kubeconfig"
        assert f"export KUBECONFIG={kubeconfig}" in out
        assert controlplane.main(["status"]) == 0
        state = controlplane._load_state()
        assert state is not None
        pids = list(state["pids"].values())
        assert all(alive(pid) for pid in pids)
    finally:
        assert controlplane.main(["down"]) == 0
    assert not any(alive(pid) for pid in pids)
    assert not (tmp_path / "cluster").exists()
    assert controlplane.main(["status"]) == 1
