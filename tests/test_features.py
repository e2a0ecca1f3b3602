"""The analysis window and the customer feature table."""

from __future__ import annotations

import pandas as pd
import pytest

from segment_report.pipeline.errors import InputDataError
from segment_report.pipeline.stages.features import build_customer_features, category_slug, resolve_window


def _dates(*values: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)))


def test_last_complete_month():
    assert resolve_window(_dates("2026-05-03", "2026-10-31"), "last", 12).label == "2026-10"
    assert resolve_window(_dates("2026-05-03", "2026-10-29"), "last", 12).label == "2026-10"
    assert resolve_window(_dates("2026-05-03", "2026-10-28"), "last", 12).label == "2026-09"


def test_explicit_period_and_lookback():
    window = resolve_window(_dates("2026-01-03", "2026-07-15", "2026-10-31"), "2026-08", 3)
    assert window.end == pd.Timestamp("2026-08-31")
    assert window.start == pd.Timestamp("2026-05-31")


def test_period_without_data_is_a_clear_error():
    with pytest.raises(InputDataError, match="runs from 2026-01-03 to 2026-10-31"):
        resolve_window(_dates("2026-01-03", "2026-10-31"), "2027-02", 1)


def test_category_slug():
    assert category_slug("Home Decor") == "home_decor"
    assert category_slug("  Toys & Games ") == "toys_games"


def test_feature_values():
    tx = pd.DataFrame({
        "transaction_id": ["t1", "t2", "t3", "t4", "t5"],
        "customer_id": ["a", "a", "a", "b", "b"],
        "date": pd.to_datetime(["2026-03-01", "2026-09-10", "2026-09-30", "2026-09-01", "2026-11-02"]),
        "quantity": [1.0, 3.0, 2.0, 4.0, 1.0],
        "total": [10.0, 30.0, 60.0, 0.0, 99.0],
        "category": ["Books", "Books", "Clothing", "Books", "Books"],
    })
    customers = pd.DataFrame({"customer_id": ["a", "b"], "age": [30.0, None], "is_us": [True, False],
                              "state": ["OH", None]})
    reviews = pd.DataFrame({"review_id": ["r1", "r2"], "customer_id": ["a", "a"],
                            "date": pd.to_datetime(["2026-09-10", "2025-01-01"]), "text": ["x", "y"],
                            "rating": [5.0, 1.0]})
    window = resolve_window(tx["date"], "2026-09", 3)
    feats = build_customer_features(tx, customers, reviews, window).set_index("customer_id")
    a, b = feats.loc["a"], feats.loc["b"]
    assert a["frequency"] == 2 and a["monetary"] == 90.0 and a["avg_order_value"] == 45.0
    assert a["recency_days"] == 0 and a["items_per_order"] == 2.5
    assert a["tenure_days"] == (pd.Timestamp("2026-09-30") - pd.Timestamp("2026-03-01")).days
    assert a["cat_share_books"] == pytest.approx(1 / 3) and a["cat_share_clothing"] == pytest.approx(2 / 3)
    assert a["top_category"] == "Clothing" and a["review_count"] == 1
    # b's window spend is 0: category mix falls back to order counts; the November order is outside
    assert b["frequency"] == 1 and b["monetary"] == 0.0 and b["cat_share_books"] == 1.0
    assert b["recency_days"] == 29 and not b["is_us"] and pd.isna(b["age"])
