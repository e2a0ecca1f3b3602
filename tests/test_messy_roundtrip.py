"""Issue 2 acceptance: `generate --messy` then `validate` quarantines exactly the injected invalid
rows with a reason, keeps every valid row, and reads mixed dates and state spellings correctly
(the messy file, once ingested, equals the clean file generated from the same seed)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from segment_report.pipeline.config import load_config
from segment_report.pipeline.stages.ingest.stage import ingest
from tests.conftest import invoke

REASON_OF = {"amount": "amount_not_a_number", "date": "date_unparseable",
             "customer_id": "customer_id_missing", "negative_total": "negative_amount"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from click.testing import CliRunner

    root = tmp_path_factory.mktemp("gen")
    runner = CliRunner()
    for name, extra in (("messy", ["--messy"]), ("clean", [])):
        result = invoke(runner, "generate", "--out", root / name, "--transactions", "4000",
                        "--seed", "11", *extra)
        assert result.exit_code == 0, result.output
    return root


def test_generate_messy_then_validate(generated, runner):
    messy = generated / "messy"
    result = invoke(runner, "validate", "--config", messy / "segment-report.yaml",
                    "--out", messy / "out")
    assert result.exit_code == 0, result.output
    truth = json.loads((messy / "ground_truth.json").read_text())
    quarantine = pd.read_csv(messy / "out" / "validation" / "quarantine.csv", dtype=str)
    quality = json.loads((messy / "out" / "validation" / "data_quality.json").read_text())

    for kind, ids in truth["invalid_transaction_ids"].items():
        got = set(quarantine.loc[quarantine["reason_code"] == REASON_OF[kind], "Transaction_ID"])
        assert got == set(ids), kind
    assert quarantine["reason"].str.len().gt(10).all()
    assert len(quarantine) == truth["counts"]["invalid_total"]
    totals = quality["totals"]
    assert totals["duplicates_dropped"] == truth["counts"]["duplicates_injected"]["retail_table"]
    assert totals["rows_kept"] == truth["counts"]["transactions"]
    assert totals["rows_read"] == truth["counts"]["rows_written"]["retail_table"]


def test_messy_reads_the_same_as_clean(generated):
    def load(name):
        cfg = load_config(generated / name / "segment-report.yaml")
        return ingest(cfg.input, cfg.privacy)

    messy, clean = load("messy"), load("clean")
    cols = ["transaction_id", "customer_id", "date", "total", "quantity", "category"]
    m = messy.transactions[cols].sort_values("transaction_id").reset_index(drop=True)
    c = clean.transactions[cols].sort_values("transaction_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(m, c, check_dtype=False)
    mc = messy.customers.set_index("customer_id")
    cc = clean.customers.set_index("customer_id")
    assert mc.index.equals(cc.index)
    for col in ("state", "country", "is_us"):
        assert mc[col].astype(str).equals(cc[col].astype(str)), col
    truth = pd.read_csv(generated / "clean" / "truth_customers.csv", dtype=str).set_index("customer_id")
    us = truth[truth["country"] == "USA"]
    assert (cc.loc[us.index, "state"].astype(str) == us["state"]).all()
