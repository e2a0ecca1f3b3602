"""Safe publishing: a lock per period, stale locks taken over, failures leave the report intact."""

from __future__ import annotations

import json
from pathlib import Path
import os
import socket
import subprocess
import sys

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
