"""Spreadsheet-safe CSV (OWASP CSV injection): text cells a spreadsheet would run as formulas
get a leading single quote in every CSV the pipeline writes, numbers stay numbers, and
``run.spreadsheet_safe_csv: false`` writes cells as they are."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from segment_report.pipeline.config import load_config
from segment_report.pipeline.io.store import spreadsheet_safe, write_csv
from segment_report.pipeline.runner import validate_inputs
from tests.conftest import invoke, retail_row, write_retail

FORMULAS = ["=1+2", "@SUM(A1)", "-2+3", "\tx", "\rx", "+A1", '=HYPERLINK("http://x")']


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_formula_cells_are_prefixed_and_numbers_untouched(tmp_path):
    frame = pd.DataFrame({
        "text": FORMULAS + ["plain", "-12.50"],
        "amount": [-3.5, 1.0, -2.0, 0.5, 7.0, -1e-3, 2.0, 3.0, -4.0],
        "count": [-1, 2, 3, 4, 5, 6, 7, 8, -9],
        "typed": pd.array(FORMULAS + ["plain", None], dtype="string[pyarrow]"),
    })
    rows = _rows(write_csv(tmp_path / "a.csv", frame))
    assert [r["text"] for r in rows] == ["'" + f for f in FORMULAS] + ["plain", "-12.50"]
    assert [r["typed"] for r in rows] == ["'" + f for f in FORMULAS] + ["plain", ""]
    assert [float(r["amount"]) for r in rows] == frame["amount"].tolist()
    assert [int(r["count"]) for r in rows] == frame["count"].tolist()
    first = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()[1]
    assert first == '"\'=1+2",-3.5,-1,"\'=1+2"'  # text quoted (OWASP), numbers bare
    assert frame["text"].tolist()[:len(FORMULAS)] == FORMULAS  # the caller's frame is not changed


def test_setting_off_writes_cells_as_they_are(tmp_path):
    frame = pd.DataFrame({"text": FORMULAS, "n": range(len(FORMULAS))})
    rows = _rows(write_csv(tmp_path / "a.csv", frame, spreadsheet_safe_cells=False))
    assert [r["text"] for r in rows] == FORMULAS


def test_mixed_object_column_prefixes_only_strings():
    frame = pd.DataFrame({"v": ["=x", -5, None, "ok", 2.5]})
    assert spreadsheet_safe(frame)["v"].tolist()[:2] == ["'=x", -5]
    assert spreadsheet_safe(frame)["v"].tolist()[3:] == ["ok", 2.5]


@pytest.mark.parametrize("safe", [True, False])
def test_quarantine_csv_of_validate(tmp_path, safe):
    rows = [retail_row(1, "7", feedback="nice", rating="4"),
            retail_row(2, "8", total="=1+2", feedback="@SUM(A1)"),
            retail_row(3, "9", total="-2+3", feedback="\tx"),
            retail_row(4, "10", total="-5", feedback="-fine really")]
    path = write_retail(tmp_path / "r.csv", rows)
    cfg = load_config(None, {"input.path": str(path), "run.out_dir": str(tmp_path / "out"),
                             "run.spreadsheet_safe_csv": safe})
    report = validate_inputs(cfg)
    got = {r["Transaction_ID"]: r for r in _rows(report.out_dir / "quarantine.csv")}
    prefix = "'" if safe else ""
    assert got["2"]["Total_Amount"] == prefix + "=1+2" and got["2"]["Feedback"] == prefix + "@SUM(A1)"
    assert got["3"]["Total_Amount"] == prefix + "-2+3" and got["3"]["Feedback"] == prefix + "\tx"
    assert got["4"]["Total_Amount"] == "-5"  # a plain number: negative_amount, not a formula
    assert got["4"]["Feedback"] == prefix + "-fine really"
    assert got["4"]["row"] == "4" and got["2"]["Customer_ID"] == "8"


@pytest.mark.parametrize("safe", [True, False])
def test_sentiment_score_csv_output(tmp_path, runner, safe):
    src = tmp_path / "reviews.csv"
    pd.DataFrame({"body": ["=1+2 love it", "great fit", "-awful"], "stars": [5, -1, 1]}).to_csv(src, index=False)
    config = tmp_path / "c.yaml"
    config.write_text(f"run: {{spreadsheet_safe_csv: {str(safe).lower()}}}\n", encoding="utf-8")
    res = invoke(runner, "sentiment", "score", src, "--text-col", "body", "--model", "vader", "--config", config)
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "reviews.scored.csv")
    prefix = "'" if safe else ""
    assert [r["body"] for r in rows] == [prefix + "=1+2 love it", "great fit", prefix + "-awful"]
    assert [r["stars"] for r in rows] == ["5", "-1", "1"]
