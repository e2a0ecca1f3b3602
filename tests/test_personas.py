"""Personas: profiles, rule-based unique names, descriptions (no clustering involved)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from segment_report.pipeline.stages.segments.personas import describe_segment, name_segments, profile_segments


@pytest.fixture()
def table():
    rng = np.random.default_rng(0)
    n = 300
    seg = np.repeat([1, 2, 3], 100)
    freq = np.where(seg == 1, rng.poisson(15, n) + 1, rng.poisson(2, n) + 1).astype("int64")
    items = np.where(seg == 1, rng.normal(6, 0.5, n), rng.normal(2, 0.3, n))
    aov = np.where(seg == 2, rng.normal(400, 30, n), rng.normal(60, 10, n))
    pos = np.where(seg == 3, rng.normal(0.2, 0.05, n), rng.normal(0.8, 0.05, n))
    electronics = np.where(seg == 2, 0.8, 0.1)
    df = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],
        "recency_days": rng.uniform(1, 100, n), "frequency": freq, "monetary": freq * aov,
        "avg_order_value": aov, "items_per_order": items, "tenure_days": rng.uniform(200, 400, n),
        "cat_share_electronics": electronics, "cat_share_home_decor": 1 - electronics,
        "age": rng.normal(40, 10, n),
        "gender": pd.array(rng.choice(["female", "male"], n), dtype="string"),
        "income_band": pd.array(rng.choice(["low", "medium", "high"], n), dtype="string"),
        "state": pd.array(np.where(seg == 3, "TX", rng.choice(["CA", "NY"], n)), dtype="string"),
        "positive_prob": pos, "share_negative": (pos < 0.5).astype(float),
        "sentiment_missing": np.zeros(n, dtype=bool),
    })
    return df, seg


def test_profile_numbers(table):
    df, seg = table
    profiles = profile_segments(df, seg, ["frequency"])
    assert [p["size"] for p in profiles] == [100, 100, 100]
    assert sum(p["share"] for p in profiles) == pytest.approx(1.0)
    assert sum(p["spend_share"] for p in profiles) == pytest.approx(1.0)
    p1 = next(p for p in profiles if p["id"] == 1)
    f = p1["features"]["frequency"]
    assert f["median"] == pytest.approx(float(np.median(df["frequency"][seg == 1])))
    assert f["mean"] == pytest.approx(float(df["frequency"][seg == 1].mean()))
    assert f["z"] > 1 and f["ratio"] > 2
    p3 = next(p for p in profiles if p["id"] == 3)
    assert p3["top_states"][0]["state"] == "TX" and p3["top_states"][0]["share"] == 1.0
    assert p3["top_states"][0]["lift"] == pytest.approx(3.0)
    assert p3["sentiment"]["z"] < -1
    p2 = next(p for p in profiles if p["id"] == 2)
    assert p2["top_categories"][0]["category"] == "electronics"
    assert p2["top_categories"][0]["lift"] > 2


def test_names_follow_traits_and_are_unique(table):
    df, seg = table
    profiles = profile_segments(df, seg)
    names = name_segments(profiles)
    assert "loyal" in names[1].lower() and "big-basket" in names[1].lower()
    assert "premium" in names[2].lower() and "electronics buyers" in names[2].lower()
    assert names[3].lower().endswith("very critical")
    assert len(set(names.values())) == 3
    assert name_segments(profiles) == names  # deterministic


def test_identical_profiles_still_get_unique_names(table):
    df, _ = table
    seg = np.repeat([1, 2, 3], 100)
    rng = np.random.default_rng(1)
    seg = rng.permutation(seg)  # three random halves: same traits
    names = name_segments(profile_segments(df, seg))
    assert len(set(names.values())) == 3


def test_fixed_names_are_kept_and_not_reused(table):
    df, seg = table
    profiles = profile_segments(df, seg)
    free = name_segments(profiles)
    names = name_segments(profiles, fixed={2: free[1]})
    assert names[2] == free[1]
    assert names[1] != free[1]
    assert len(set(names.values())) == 3


def test_descriptions_are_words_only(table):
    df, seg = table
    for p in profile_segments(df, seg):
        text = describe_segment(p)
        assert not re.search(r"\d", text)
        assert text.startswith("Compared with the average customer")
    no_sentiment = df.drop(columns=["positive_prob", "share_negative", "sentiment_missing"])
    p = profile_segments(no_sentiment, seg)[0]
    assert p["sentiment"] is None
    assert "No review sentiment" in describe_segment(p)
