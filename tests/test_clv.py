"""The CLV stage: churn risk and lifetime value from the purchase history, per customer and
persona, its skip rules, month-over-month change, and the generator's planted lifetimes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from segment_report.pipeline.config import ClvConfig
from segment_report.pipeline.stages.clv import estimate_clv
from segment_report.pipeline.stages.clv.stage import _change, _group_numbers, _previous_numbers


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Generated data (12 months) with its planted personas as the run's personas."""
    from segment_report.pipeline.config import load_config
    from segment_report.pipeline.stages.ingest.stage import ingest
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    gen = GenerateConfig(n_transactions=6000, months=12, seed=3)
    data = generate_dataset(gen, tmp_path_factory.mktemp("clv") / "data")
    cfg = load_config(data.config_file)
    tx = ingest(cfg.input, cfg.privacy).transactions
    truth = pd.read_csv(data.out_dir / "truth_customers.csv", dtype={"customer_id": str})
    segments = truth.rename(columns={"persona_id": "segment_id", "persona": "segment_name"})
    lifetimes = json.loads(data.truth_file.read_text())["effects"]["lifetimes"]
    return tx, segments[["customer_id", "segment_id", "segment_name"]], truth, lifetimes, pd.Timestamp(gen.end_date)


@pytest.fixture(scope="module")
def fitted(planted):
    tx, segments, _, _, end = planted
    return estimate_clv(tx, segments, end, ClvConfig(), seed=5)


def test_a_lapsed_persona_is_at_risk_and_the_loyal_ones_are_not(planted, fitted):
    _, _, truth, lifetimes, _ = planted
    doc, scores = fitted.doc, fitted.scores
    assert doc["status"] == "fitted"
    assert scores["p_active"].between(0, 1).all() and (scores["expected_orders"] >= 0).all()
    by_persona = scores.merge(truth, on="customer_id").groupby("persona")["p_active"].mean()
    for name, truth_of in lifetimes["personas"].items():
        if truth_of["lapsed_as_a_whole"]:
            assert by_persona[name] < 0.2, (name, by_persona[name])
        else:
            assert by_persona[name] > 0.75, (name, by_persona[name])
    lapsed = [s for s in doc["segments"] if lifetimes["personas"][s["segment_name"]]["lapsed_as_a_whole"]]
    assert doc["attention"]["segment_name"] == lapsed[0]["segment_name"]
    assert lapsed[0]["at_risk_share"] > 0.8


def test_persona_numbers_add_up_to_the_totals_and_the_customers(fitted):
    doc, scores = fitted.doc, fitted.scores
    for key in ("customers", "at_risk", "expected_orders", "expected_value", "value_lost_to_risk"):
        assert sum(s[key] for s in doc["segments"]) == pytest.approx(doc["totals"][key]), key
    assert doc["totals"]["expected_value"] == pytest.approx(scores["clv"].sum())
    assert doc["totals"]["at_risk"] == int((scores["p_active"] < 0.5).sum())
    assert doc["notes"] == [{"code": "clv_no_previous", "params": {}}]


def test_the_time_split_check_compares_predictions_with_the_hold_out(fitted):
    v = fitted.doc["validation"]
    assert v["cutoff"] == "2026-07-31" and v["holdout_days"] == 92 and v["holdout_months"] == 3
    assert len(v["calibration"]) == 10 and sum(r["customers"] for r in v["calibration"]) == v["customers"]
    means = [r["predicted_orders"] for r in v["calibration"]]
    assert means == sorted(means)
    # on planted data the predicted total is in the right range and the ranks agree
    assert 0.6 < v["predicted_orders"] / v["actual_orders"] < 1.6
    assert v["spearman_value_vs_spend"] > 0.1


def test_same_inputs_and_seed_give_the_same_numbers(planted, fitted):
    tx, segments, _, _, end = planted
    again = estimate_clv(tx, segments, end, ClvConfig(), seed=5)
    pd.testing.assert_frame_equal(again.scores, fitted.scores)


def test_a_short_history_is_skipped_with_a_reason_and_no_numbers(planted):
    tx, segments, _, _, end = planted
    recent = tx[tx["date"] > end - pd.Timedelta(days=75)]
    result = estimate_clv(recent, segments, end, ClvConfig(), seed=5)
    assert result.doc["status"] == "skipped" and result.scores.empty
    assert result.doc["notes"] == [{"code": "clv_short_history", "params": {"months": 3, "needed": 4}}]
    assert "totals" not in result.doc
    off = estimate_clv(tx, segments, end, ClvConfig(enabled=False), seed=5)
    assert off.doc["notes"][0]["code"] == "clv_disabled"


def test_too_few_repeat_customers_is_skipped(planted):
    tx, segments, _, _, end = planted
    result = estimate_clv(tx, segments, end, ClvConfig(min_repeat_customers=10**6), seed=5)
    assert result.doc["notes"][0]["code"] == "clv_few_repeat_customers"


def test_month_over_month_change_per_persona():
    now = pd.DataFrame({"customer_id": list("abcd"), "segment_id": [0, 0, 1, 1],
                        "p_active": [0.9, 0.2, 0.8, 0.6], "expected_orders": [2.0, 0.1, 1.0, 1.0],
                        "clv": [100.0, 10.0, 50.0, 50.0]})
    before = _previous_numbers(now.assign(p_active=[0.9, 0.9, 0.8, 0.3], clv=[100.0, 100.0, 50.0, 25.0]), 0.5)
    change = _change(_group_numbers(now[now.segment_id == 0], 0.5), before[0])
    assert change["at_risk_share_points"] == pytest.approx(50.0)
    assert change["expected_value_pct"] == pytest.approx(-45.0)
    numbers = _group_numbers(now, 0.5)
    assert numbers["at_risk"] == 1
    # value lost: what each would add if certainly active: clv * (1 - p) / p
    assert numbers["value_lost_to_risk"] == pytest.approx(100 * 0.1 / 0.9 + 10 * 0.8 / 0.2 + 50 * 0.2 / 0.8
                                                          + 50 * 0.4 / 0.6)
    assert _previous_numbers(now.drop(columns=["clv"]), 0.5) is None


def test_the_generator_plants_who_is_still_buying(planted):
    tx, _, truth, lifetimes, end = planted
    for name, part in truth.groupby("persona"):
        assert lifetimes["personas"][name]["active_share_at_end"] == pytest.approx(part["active_at_end"].mean())
    last = tx.groupby("customer_id")["date"].max()
    both = truth.set_index("customer_id").join(last.rename("last"))
    # planted lapsers stopped before the last 30 % of the history
    lapsed = both[~both["active_at_end"]]
    assert (lapsed["last"] <= end - pd.Timedelta(days=int(0.29 * 365))).all()
    assert both.loc[both["active_at_end"], "last"].max() > end - pd.Timedelta(days=7)
    assert np.isfinite(truth["monthly_order_rate"]).all()


def test_a_run_folder_has_clv_results_and_crm_columns(fast_demo):
    run_dir = fast_demo / "2026-10"
    doc = json.loads((run_dir / "results" / "clv.json").read_text())
    assert doc["status"] == "fitted" and doc["schema_version"] == 1
    assert doc["totals"]["change"] is not None  # September's run had CLV too
    crm = pd.read_csv(run_dir / "data" / "segments.csv")
    assert {"p_active", "expected_orders", "clv"} <= set(crm.columns)
    assert crm["p_active"].notna().all()
    customers = pd.read_parquet(run_dir / "results" / "customers.parquet")
    assert customers["clv"].sum() == pytest.approx(doc["totals"]["expected_value"])
