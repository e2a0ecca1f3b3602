"""Safe publishing: a lock per period, stale locks taken over, failures leave the report intact."""

from __future__ import annotations

import contextlib
import errno
import json
from pathlib import Path
import os
import shutil
import socket
import subprocess
import sys

import pytest

from segment_report.pipeline.io.publish import RunLock
from tests.conftest import invoke, use_vader


def _run(runner, data, out, *extra):
    config = use_vader(Path(data).parent / "vader.yaml")
    return invoke(runner, "-q", "run", "--no-gates", "--config", config, "--input", data, "--out", out,
                  "--period", "2026-10", *extra)


def test_second_run_on_same_folder_refuses(runner, tmp_path, small_retail):
    out = tmp_path / "out"
    with RunLock(out, "2026-10"):
        result = _run(runner, small_retail, out)
    assert result.exit_code == 2
    assert "another run is writing period 2026-10" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr
    assert not (out / "2026-10" / "manifest.json").exists()
    assert _run(runner, small_retail, out).exit_code == 0  # lock released


def test_stale_lock_is_taken_over(runner, tmp_path, small_retail):
    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    lock = out / ".locks" / "2026-10.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": int(dead), "host": socket.gethostname()}))
    result = _run(runner, small_retail, out)
    assert result.exit_code == 0, result.output
    assert not lock.exists()


def test_failed_run_keeps_previous_report(runner, tmp_path, small_retail, monkeypatch):
    out = tmp_path / "out"
    assert _run(runner, small_retail, out).exit_code == 0
    published = out / "2026-10"
    before = {p.relative_to(published): p.read_bytes() for p in published.rglob("*")
              if p.is_file() and p.name != "status.json"}

    import segment_report.pipeline.runner as runner_module

    def explode(cfg, transactions):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner_module, "STAGES", (runner_module.Stage("features", explode, ("transactions",), ()),))
    result = _run(runner, small_retail, out, "--force")
    assert result.exit_code == 1
    after = {p.relative_to(published): p.read_bytes() for p in published.rglob("*")
             if p.is_file() and p.name != "status.json"}
    assert after == before
    status = json.loads((published / "status.json").read_text())
    assert status["state"] == "failed" and status["stage"] == "features"
    assert "disk on fire" in status["reason"] and status["exit_code"] == 1
    assert "unchanged" in status["report_kept"]
    assert not (out / ".staging").exists()


def test_rerun_with_force_replaces_report(runner, tmp_path, small_retail):
    out = tmp_path / "out"
    assert _run(runner, small_retail, out).exit_code == 0
    first = json.loads((out / "2026-10" / "manifest.json").read_text())
    result = _run(runner, small_retail, out, "--force")
    assert result.exit_code == 0 and "up to date" not in result.output
    second = json.loads((out / "2026-10" / "manifest.json").read_text())
    assert second["started_at"] >= first["started_at"] and second["wall_seconds"] != first["wall_seconds"]
    assert second["fingerprint"] == first["fingerprint"]
    status = json.loads((out / "2026-10" / "status.json").read_text())
    assert status["state"] == "succeeded"
    assert not (out / ".trash" / "2026-10").exists()


def test_rerun_of_an_up_to_date_period_recomputes_nothing(runner, tmp_path, small_retail):
    out = tmp_path / "out"
    assert _run(runner, small_retail, out).exit_code == 0
    published = out / "2026-10"
    before = {p.relative_to(published): p.read_bytes() for p in published.rglob("*") if p.is_file()}
    result = _run(runner, small_retail, out)
    assert result.exit_code == 0 and "up to date" in result.output
    assert {p.relative_to(published): p.read_bytes() for p in published.rglob("*") if p.is_file()} == before
    # a changed input is not up to date
    small_retail.write_text(small_retail.read_text().replace("Lovely fabric", "Awful fabric"))
    result = _run(runner, small_retail, out)
    assert result.exit_code == 0 and "up to date" not in result.output
    assert (published / "manifest.json").read_bytes() != before[Path("manifest.json")]


# --------------------------------------------------------------------------- a failing output disk

def _snapshot(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _assert_disk_failure(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.count("error: ") == 1 and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"


def test_full_disk_at_the_first_write_keeps_report_and_status_byte_identical(runner, tmp_path, small_retail,
                                                                             monkeypatch):
    out = tmp_path / "out"
    assert _run(runner, small_retail, out).exit_code == 0
    published = out / "2026-10"
    before = _snapshot(published)

    from segment_report.pipeline.io import store

    def full(*args, dir=None, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dir))

    monkeypatch.setattr(store.tempfile, "mkstemp", full)
    result = _run(runner, small_retail, out, "--force")
    _assert_disk_failure(result, str(published), "no space left on the device (ENOSPC)", "free disk space")
    assert _snapshot(published) == before  # status.json included: it could not be rewritten either
    assert not (out / ".staging").exists()


def test_full_disk_while_building_records_exit_2_and_keeps_the_report(runner, tmp_path, small_retail,
                                                                      monkeypatch):
    out = tmp_path / "out"
    assert _run(runner, small_retail, out).exit_code == 0
    published = out / "2026-10"
    before = {k: v for k, v in _snapshot(published).items() if k.name != "status.json"}

    from segment_report.pipeline.io import store

    mkstemp = store.tempfile.mkstemp

    def full_in_staging(*args, dir=None, **kwargs):
        if ".staging" in str(dir):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dir))
        return mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(store.tempfile, "mkstemp", full_in_staging)
    result = _run(runner, small_retail, out, "--force")
    _assert_disk_failure(result, str(out / ".staging"), "ENOSPC")
    assert {k: v for k, v in _snapshot(published).items() if k.name != "status.json"} == before
    status = json.loads((published / "status.json").read_text())
    assert status["state"] == "failed" and status["exit_code"] == 2 and "ENOSPC" in status["reason"]
    assert "unchanged" in status["report_kept"]
    assert not (out / ".staging").exists()


@contextlib.contextmanager
def _mounted(*commands: list[str], target: Path):
    """Run mount commands (skipping the test where mounting is not permitted), unmount after."""
    for command in commands:
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            subprocess.run(["umount", str(target)], capture_output=True)
            pytest.skip(f"cannot mount here ({' '.join(command[:3])}: {proc.stderr.strip()[:120]})")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def _can_mount() -> bool:
    return sys.platform.startswith("linux") and shutil.which("mount") is not None and os.geteuid() == 0


@pytest.mark.skipif(not _can_mount(), reason="mounting a test file system needs root on Linux")
@pytest.mark.parametrize("room", [0, 256 << 10], ids=["full", "full-mid-run"])
def test_really_full_tmpfs_is_exit_2_and_the_report_stays(runner, tmp_path, small_retail, room):
    """A real full disk: at once (the lock cannot be taken), or after a little room (the run
    fails while writing its results)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    with _mounted(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], target=disk):
        out = disk / "out"
        assert _run(runner, small_retail, out).exit_code == 0
        published = out / "2026-10"
        before = {k: v for k, v in _snapshot(published).items() if k.name != "status.json"}
        status_before = (published / "status.json").read_bytes()
        with open(disk / "filler", "wb", buffering=0) as filler:  # fill the disk to the last byte
            for chunk in (1 << 16, 1):
                try:
                    while True:
                        filler.write(b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        os.truncate(disk / "filler", max(0, (disk / "filler").stat().st_size - room))
        result = _run(runner, small_retail, out, "--force")
        _assert_disk_failure(result, str(out), "ENOSPC")
        assert {k: v for k, v in _snapshot(published).items() if k.name != "status.json"} == before
        status = (published / "status.json").read_bytes()
        assert status == status_before or json.loads(status)["exit_code"] == 2
        (disk / "filler").unlink()  # with room again, the next run succeeds
        again = _run(runner, small_retail, out, "--force")
        assert again.exit_code == 0, again.stderr


@pytest.mark.skipif(not _can_mount(), reason="mounting a test file system needs root on Linux")
def test_read_only_output_is_exit_2_and_the_report_is_untouched(runner, tmp_path, small_retail):
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    assert _run(runner, small_retail, source).exit_code == 0
    before = _snapshot(source)
    with _mounted(["mount", "--bind", str(source), str(view)],
                  ["mount", "-o", "remount,ro,bind", str(view)], target=view):
        result = _run(runner, small_retail, view, "--force")
        _assert_disk_failure(result, str(view), "read-only file system (EROFS)", "writable disk")
    assert _snapshot(source) == before
