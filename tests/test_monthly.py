"""Monthly operation: month-over-month changes and the migration matrix, quality gates that
hold a run back (exit 3, nothing sent), and ``run --email`` against a real SMTP server."""

from __future__ import annotations

import email
from dataclasses import asdict
import json
import shutil
import socket
import subprocess
from email import policy
from pathlib import Path

import pandas as pd
import pytest
import yaml
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from segment_report.pipeline.stages.changes import migration
from segment_report.pipeline.config import GatesConfig
from segment_report.pipeline.stages.gates import check_gates, gates_document
from segment_report.reports.narrative import gate_message, gates_reason
from segment_report.reports.views import changes_view
from tests.conftest import use_vader


# --------------------------------------------------------------------------- units

def _frame(rows: list[tuple[str, int]]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [r[0] for r in rows], "segment_id": [r[1] for r in rows],
                         "segment_name": [f"Persona {r[1]}" for r in rows]})


def test_migration_counts_moves_new_and_lapsed():
    before = _frame([("a", 1), ("b", 1), ("c", 2), ("d", 2), ("e", 2)])
    after = _frame([("a", 1), ("b", 2), ("c", 2), ("f", 1), ("g", 3)])  # d, e lapsed; f, g new
    mig = migration(before, after)
    assert [n["key"] for n in mig["from"]] == ["s1", "s2", "new"]
    assert [n["key"] for n in mig["to"]] == ["s1", "s2", "s3", "lapsed"]
    assert mig["counts"] == [[1, 1, 0, 0], [0, 1, 0, 2], [1, 0, 1, 0]]
    assert mig["totals"] == {"previous_customers": 5, "current_customers": 5, "new": 2, "lapsed": 2,
                             "stayed": 2, "moved": 1}
    assert {"from": "s2", "to": "lapsed", "customers": 2} == mig["flows"][0]


def test_changes_view_bullets_use_the_saved_numbers():
    before = _frame([("a", 1), ("b", 1), ("c", 2), ("d", 2), ("e", 2)])
    after = _frame([("a", 1), ("b", 2), ("c", 2), ("f", 1), ("g", 3)])
    kpis = {"customers": {"current": 5, "previous": 5, "delta": 0, "relative": 0.0},
            "revenue": {"current": 1200.0, "previous": 1000.0, "delta": 200.0, "relative": 0.2}}
    view = changes_view({"previous_period": "2026-09", "kpis": kpis, "segments": [],
                         "migration": migration(before, after)})
    assert view["available"] and view["previous_label"] == "September 2026"
    assert view["bullets"][0] == ("Revenue up 20% to $1,200 (from $1,000); active customers about "
                                  "unchanged at 5.")
    assert view["bullets"][1] == "2 new customers and 2 lapsed; 2 of 5 (40%) stayed in their persona and 1 moved."
    assert view["bullets"][2] == "Largest move: 1 customer from Persona 1 to Persona 2."
    assert view["migration"].rows[-1].cells == ("Total", "2", "2", "1", "2", "7")
    assert not changes_view({"previous_period": None, "kpis": kpis, "notes": [{"code": "no_previous_run"}]})["available"]


RESULTS = {
    "data_quality": {"totals": {"rows_read": 1000, "rows_quarantined": 50}},
    "changes": {"kpis": {"customers": {"current": 800}}},
    "segments": {"summary": {"stability": {"ari_mean": 0.8}}},
    "drivers": {"status": "ok", "model": {"r2_test": 0.5}},
    "sentiment": {"agreement_with_ratings": {"n": 400, "macro_f1": 0.7}},
}


def test_gates_pass_fail_and_unmeasured():
    assert gates_document(check_gates(GatesConfig(), RESULTS))["passed"]
    strict = GatesConfig(max_quarantined_share=0.01, min_value_model_r2=0.9)
    doc = gates_document(check_gates(strict, RESULTS))
    assert not doc["passed"] and doc["failed"] == ["max_quarantined_share", "min_value_model_r2"]
    assert "share of rows quarantined 0.05 (needs <= 0.01): FAILED" in gates_reason(doc)
    few_ratings = {**RESULTS, "sentiment": {"agreement_with_ratings": {"n": 10, "macro_f1": 0.1}}}
    gate = {g.name: g for g in check_gates(GatesConfig(), few_ratings)}["min_sentiment_macro_f1"]
    assert gate.passed and gate.value is None
    assert gate_message(asdict(gate)) == ("sentiment macro-F1 against star ratings: not measured in this run "
                                          "(fewer than 50 rated reviews)")
    many = {**RESULTS, "changes": {"kpis": {"customers": {"current": 4768}}}}
    assert gate_message(gates_document(check_gates(GatesConfig(), many))["gates"][0]) == \
        "customers in the window 4,768 (needs >= 50): ok"
    assert gates_reason(gates_document(check_gates(GatesConfig(), many))) is None
    assert check_gates(GatesConfig(enabled=False), RESULTS) == []
    assert "min_segment_stability" not in {g.name for g in check_gates(GatesConfig(min_segment_stability=None),
                                                                        RESULTS)}


# --------------------------------------------------------------------------- two monthly runs

class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.original_content, policy=policy.default)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _smtp_env(port: int) -> dict[str, str]:
    return {"SEGMENT_REPORT_SMTP_HOST": "127.0.0.1", "SEGMENT_REPORT_SMTP_PORT": str(port),
            "SEGMENT_REPORT_SMTP_TLS": "none"}


@pytest.fixture(scope="module")
def months(fast_demo, tmp_path_factory):
    """A copy of the fast demo (generated data, September and October run through the API),
    then ``run --period 2026-10 --email`` as a scheduler calls it: October is up to date, so the
    run recomputes nothing and sends the report."""
    root = tmp_path_factory.mktemp("months")
    shutil.copytree(fast_demo / "data", root / "data")
    for period in ("2026-09", "2026-10"):
        shutil.copytree(fast_demo / period, root / "out" / period)
    config = use_vader(root / "data" / "segment-report.yaml")
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    server.start()
    try:
        second = CliRunner().invoke(__import__("segment_report.pipeline.cli", fromlist=["cli"]).cli,
                                    ["run", "--config", str(config), "--out", str(root / "out"),
                                     "--period", "2026-10", "--email", "--to", "cfo@example.com"],
                                    env=_smtp_env(server.port), catch_exceptions=False)
    finally:
        server.stop()
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output  # the same inputs and config as the API's run
    return root, inbox


def test_migration_matrix_totals_match_both_months(months):
    root, _ = months
    sep = pd.read_parquet(root / "out" / "2026-09" / "results" / "customers.parquet")
    oct_ = pd.read_parquet(root / "out" / "2026-10" / "results" / "customers.parquet")
    changes = json.loads((root / "out" / "2026-10" / "results" / "changes.json").read_text())
    assert changes["previous_period"] == "2026-09"
    mig = changes["migration"]
    counts = pd.DataFrame(mig["counts"], index=[n["key"] for n in mig["from"]],
                          columns=[n["key"] for n in mig["to"]])
    assert counts.drop(index="new").to_numpy().sum() == len(sep)
    assert counts.drop(columns="lapsed").to_numpy().sum() == len(oct_)
    assert counts.loc["new"].sum() == len(set(oct_["customer_id"]) - set(sep["customer_id"]))
    assert counts["lapsed"].sum() == len(set(sep["customer_id"]) - set(oct_["customer_id"]))
    for node in mig["from"][:-1]:  # per-segment row totals are last month's segment sizes
        assert node["customers"] == int((sep["segment_id"] == node["segment_id"]).sum())
    assert changes["kpis"]["customers"] == {"current": len(oct_), "previous": len(sep),
                                            "delta": len(oct_) - len(sep),
                                            "relative": (len(oct_) - len(sep)) / len(sep)}
    segments = json.loads((root / "out" / "2026-10" / "results" / "segments.json").read_text())
    assert segments["summary"]["mode"] == "reuse"  # last month's model assigned this month's customers


def test_second_month_reports_show_the_changes(months):
    root, _ = months
    run = root / "out" / "2026-10"
    index = (run / "site" / "index.html").read_text()
    assert "What changed since September 2026" in index and 'id="migration-sankey"' in index
    assert "vs Sep 2026" in index
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    text = subprocess.run(["pdftotext", "-layout", str(run / "pdf" / "executive-summary.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    page1 = text.split("\f")[0]
    assert "What changed since September 2026" in page1
    view = changes_view(json.loads((run / "results" / "changes.json").read_text()))
    assert " ".join(view["bullets"][1].split()[:4]) in " ".join(page1.split())
    assert "Movement between personas since September 2026" in text
    first = (root / "out" / "2026-09" / "pdf" / "executive-summary.pdf")
    first_text = subprocess.run(["pdftotext", str(first), "-"], capture_output=True, text=True).stdout
    assert "First report in this output folder" in first_text


def test_run_email_sends_the_pdf_after_passing_gates(months):
    root, inbox = months
    run = root / "out" / "2026-10"
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["cfo@example.com"] and "October 2026" in msg["Subject"]
    attachment = next(msg.iter_attachments())
    assert attachment.get_content() == (run / "pdf" / "executive-summary.pdf").read_bytes()
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "succeeded" and status["gates"]["passed"] and "sent to" in status["email"]


def _config_with(root: Path, name: str, **sections) -> Path:
    cfg = yaml.safe_load((root / "data" / "segment-report.yaml").read_text())
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    path = root / "data" / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_failed_gate_holds_the_report_and_sends_nothing(months, tmp_path):
    root, _ = months
    work = Path(shutil.copytree(root, tmp_path / "copy"))
    config = _config_with(work, "strict.yaml", gates={"min_customers": 100000})
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    server.start()
    try:
        result = CliRunner().invoke(__import__("segment_report.pipeline.cli", fromlist=["cli"]).cli,
                                    ["run", "--config", str(config), "--out", str(work / "out"),
                                     "--period", "2026-10", "--email", "--to", "cfo@example.com"],
                                    env=_smtp_env(server.port), catch_exceptions=False)
    finally:
        server.stop()
    assert result.exit_code == 3, result.output
    assert "held back" in result.output and "needs >= 100000" in result.output
    assert "Traceback" not in result.output
    assert inbox.messages == []
    status = json.loads((work / "out" / "2026-10" / "status.json").read_text())
    assert status["state"] == "held" and status["exit_code"] == 3 and status["stage"] == "gates"
    assert "min_customers" in status["gates"]["failed"] and status["email"].startswith("not sent")
    index = (work / "out" / "2026-10" / "site" / "index.html").read_text()  # published for review
    assert "Held back by a quality gate, not for distribution" in index


def test_delivery_failure_exits_4_and_keeps_the_report(months, tmp_path):
    root, _ = months
    work = Path(shutil.copytree(root, tmp_path / "copy"))
    config = _config_with(work, "noretry.yaml", email={"retries": 0, "timeout_s": 5})
    run = work / "out" / "2026-09"
    before = (run / "pdf" / "executive-summary.pdf").read_bytes()
    result = CliRunner().invoke(__import__("segment_report.pipeline.cli", fromlist=["cli"]).cli,
                                ["run", "--config", str(config), "--out", str(work / "out"), "--period",
                                 "2026-09", "--email", "--to", "cfo@example.com"],
                                env=_smtp_env(_free_port()), catch_exceptions=False)
    assert result.exit_code == 4, result.output
    assert "up to date" in result.output and "could not send" in result.output
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and status["stage"] == "email" and status["exit_code"] == 4
    assert (run / "pdf" / "executive-summary.pdf").read_bytes() == before
    # the scheduler's next attempt recomputes nothing and only retries the e-mail
    inbox = Inbox()
    server = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    server.start()
    try:
        again = CliRunner().invoke(__import__("segment_report.pipeline.cli", fromlist=["cli"]).cli,
                                   ["run", "--config", str(config), "--out", str(work / "out"), "--period",
                                    "2026-09", "--email", "--to", "cfo@example.com"],
                                   env=_smtp_env(server.port), catch_exceptions=False)
    finally:
        server.stop()
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output and len(inbox.messages) == 1
    assert json.loads((run / "status.json").read_text())["state"] == "succeeded"
