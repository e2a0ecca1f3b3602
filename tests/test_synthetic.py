"""Tests of the synthetic data generator (pipeline/synthetic/): small, seeded, fast."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from segment_report.pipeline.cli import cli
from segment_report.pipeline.config import load_config
from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.states import normalise_states
from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset, generate_frames
from segment_report.pipeline.synthetic.catalogue import (CATEGORIES, CATEGORY_BASE_PRICE, CUSTOMER_COLUMNS,
                                                         PERSONAS, RETAIL_COLUMNS, REVIEW_COLUMNS,
                                                         TRANSACTION_COLUMNS)

N = 2_000


@pytest.fixture(scope="module")
def retail_clean():
    return generate_frames(GenerateConfig(n_transactions=N, seed=7))


@pytest.fixture(scope="module")
def retail_messy():
    return generate_frames(GenerateConfig(n_transactions=N, seed=7, messy=True))


@pytest.fixture(scope="module")
def tables_clean():
    return generate_frames(GenerateConfig(mode="tables", n_transactions=N, seed=7))


@pytest.fixture(scope="module")
def tables_messy():
    return generate_frames(GenerateConfig(mode="tables", n_transactions=N, seed=7, messy=True))


# --------------------------------------------------------------------------- helpers

def _number(values: pd.Series) -> pd.Series:
    """Parse amounts the way ingest must: strip spaces, '$' and thousands separators."""
    text = values.astype("string").str.strip().str.replace(r"^\$", "", regex=True)
    text = text.str.replace(r"(?<=\d),(?=\d{3}(\D|$))", "", regex=True)
    return pd.to_numeric(text.where(text.str.fullmatch(r"-?\d+(\.\d+)?", na=False)),
                         errors="coerce")


def _date(values: pd.Series) -> pd.Series:
    """Parse the three date formats the generator mixes; anything else is NaT."""
    text = values.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for fmt, pattern in (("%Y-%m-%d", r"\d{4}-\d{2}-\d{2}"), ("%m/%d/%Y", r"\d{1,2}/\d{1,2}/\d{4}"),
                         ("%m-%d-%y", r"\d{2}-\d{2}-\d{2}")):
        m = text.str.fullmatch(pattern, na=False)
        out[m] = pd.to_datetime(text[m], format=fmt, errors="coerce")
    return out


def _problems(df: pd.DataFrame, cust: str, date: str, total: str, amount: str | None) -> pd.DataFrame:
    """One boolean column per invalid-row reason."""
    tot = _number(df[total])
    bad_amount = tot.isna()
    if amount is not None:
        bad_amount |= _number(df[amount]).isna()
    return pd.DataFrame({
        "amount": bad_amount,
        "date": _date(df[date]).isna(),
        "customer_id": df[cust].isna() | (df[cust].astype("string").str.strip() == ""),
        "negative_total": tot < 0,
    })


# --------------------------------------------------------------------------- determinism

def test_same_seed_same_frames_and_different_seed_differs(retail_clean):
    frames, truth = generate_frames(GenerateConfig(n_transactions=N, seed=7))
    for key, df in retail_clean[0].items():
        pd.testing.assert_frame_equal(frames[key], df)
    assert truth == retail_clean[1]
    other, _ = generate_frames(GenerateConfig(n_transactions=N, seed=8))
    assert not other["retail_table"]["Customer_ID"].equals(frames["retail_table"]["Customer_ID"])


@pytest.mark.parametrize("mode", ["retail_table", "tables"])
def test_written_files_are_byte_identical_for_the_same_seed(tmp_path, mode):
    cfg = GenerateConfig(mode=mode, n_transactions=1_000, seed=3, messy=True)
    a = generate_dataset(cfg, tmp_path / "a")
    b = generate_dataset(cfg, tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert len(names) == len(a.data_files) + 4
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert b.summary().startswith(next(iter(a.data_files.values())).name)


# --------------------------------------------------------------------------- layouts and config

def test_retail_layout(retail_clean):
    df = retail_clean[0]["retail_table"]
    assert tuple(df.columns) == RETAIL_COLUMNS
    assert len(df) == N
    assert df["Transaction_ID"].is_unique
    assert set(df["Product_Category"]) == set(CATEGORIES)
    assert set(df["Income"]) <= {"Low", "Medium", "High"}
    assert set(df["Country"]) == {"USA", "UK", "Germany", "Canada", "Australia"}
    us = df["Country"] == "USA"
    assert normalise_states(df.loc[us, "State"]).notna().all()
    assert df.loc[us, "State"].str.fullmatch(r"[A-Z][a-z]+( [A-Z][a-z]+)*|District of Columbia").all()
    assert 0.8 < us.mean() < 0.97
    # A customer's personal attributes are the same on all their rows.
    personal = ["Name", "Email", "Phone", "Address", "City", "State", "Zipcode", "Country", "Age",
                "Gender", "Income"]
    assert (df.groupby("Customer_ID")[personal].nunique(dropna=False) == 1).all().all()
    emails = df.drop_duplicates("Customer_ID")["Email"]
    assert emails.is_unique and emails.str.fullmatch(r"[a-z]+[._]?[a-z]+\d+@[a-z.]*example\.(com|org|net)").all()
    # Feedback and Ratings only on reviewed rows.
    has_text = df["Feedback"].notna()
    assert (has_text == df["Ratings"].notna()).all()
    assert has_text.sum() == round(0.25 * N)


def test_total_is_amount_times_quantity(retail_clean):
    df = retail_clean[0]["retail_table"]
    assert (df["Amount"] > 0).all()
    assert df["Total_Purchases"].between(1, 10).all()
    assert np.allclose(df["Total_Amount"], (df["Amount"] * df["Total_Purchases"]).round(2), atol=1e-9)


def test_tables_layout(tables_clean):
    frames, truth = tables_clean
    assert tuple(frames["customers"].columns) == CUSTOMER_COLUMNS
    assert tuple(frames["transactions"].columns) == TRANSACTION_COLUMNS
    assert tuple(frames["reviews"].columns) == REVIEW_COLUMNS
    tx = frames["transactions"]
    assert len(tx) == N and tx["transaction_id"].is_unique
    assert set(tx["customer_id"]) <= set(frames["customers"]["customer_id"])
    assert np.allclose(tx["total"], (tx["amount"] * tx["quantity"]).round(2))
    assert frames["customers"]["income"].between(18_000, 250_000).all()
    rev = frames["reviews"]
    assert rev["review_id"].is_unique and len(rev) == truth["counts"]["reviews"]
    assert set(rev["review_id"]) == set(frames["truth_reviews"]["review_id"])


@pytest.mark.parametrize("mode", ["retail_table", "tables"])
def test_written_config_loads_and_points_at_the_files(tmp_path, mode):
    ds = generate_dataset(GenerateConfig(mode=mode, n_transactions=1_000), tmp_path / "d")
    cfg = load_config(ds.config_file)
    assert cfg.input.mode == mode
    if mode == "retail_table":
        assert Path(cfg.input.path) == ds.data_files["retail_table"].resolve()
    else:
        for key in ("customers", "transactions", "reviews"):
            spec = getattr(cfg.input, key)  # path: a Path, or text (a file, glob, folder or URL)
            assert Path(spec.path) == ds.data_files[key].resolve() and Path(spec.path).exists()
        pii = cfg.input.table_columns("customers")
        assert (pii.name, pii.email, pii.phone, pii.address, pii.city, pii.zipcode) == (
            "name", "email", "phone", "address", "city", "zipcode")
    truth = json.loads(ds.truth_file.read_text())
    assert truth["counts"]["rows_written"] == {k: len(pd.read_csv(p)) for k, p in ds.data_files.items()}


def test_cli_generate(tmp_path):
    result = CliRunner().invoke(cli, ["generate", "--out", str(tmp_path / "g"), "--transactions",
                                      "1000", "--mode", "tables", "--messy", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "transactions.csv" in result.output
    assert (tmp_path / "g" / "ground_truth.json").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"n_personas": 8}, "n_personas"),
    ({"n_transactions": 10}, r"n_transactions.*\[1000, 10000000\]"),
    ({"n_transactions": 10_000_001}, r"n_transactions.*\[1000, 10000000\]"),
    ({"parts": "weekly"}, r"'parts' must be 'none' or 'monthly'; got 'weekly'"),
    ({"end_date": "31/10/2026"}, "end_date"),
    ({"review_share": 1.5}, "review_share"),
])
def test_bad_config_raises_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GenerateConfig(**kwargs)


# --------------------------------------------------------------------------- planted truth

@pytest.mark.parametrize("n_personas", [4, 7])
def test_persona_count_and_shares(n_personas):
    frames, truth = generate_frames(GenerateConfig(n_transactions=N, n_personas=n_personas))
    tc = frames["truth_customers"]
    assert tc["persona_id"].nunique() == n_personas == len(truth["personas"])
    assert [p["name"] for p in truth["personas"]] == [p.name for p in PERSONAS[:n_personas]]
    shares = tc["persona"].value_counts(normalize=True)
    for p in truth["personas"]:
        assert abs(shares[p["name"]] - p["share"]) < 0.01
        assert set(p["traits"]) >= {"age_mean", "orders_mean", "basket_mean", "category_mix",
                                    "sentiment_mean", "last_order"}
    assert tc["n_orders"].sum() == N
    assert 3.5 < N / len(tc) < 5


def test_personas_differ_on_customer_features(retail_clean):
    frames, _ = retail_clean
    df = frames["retail_table"].merge(frames["truth_customers"][["customer_id", "persona_id"]],
                                      left_on="Customer_ID", right_on="customer_id")
    per_cust = df.groupby("Customer_ID").agg(persona=("persona_id", "first"), age=("Age", "first"),
                                             orders=("Transaction_ID", "size"),
                                             items=("Total_Purchases", "mean"),
                                             last=("Date", "max"))
    med = per_cust.groupby("persona").median(numeric_only=True)
    assert med["age"].is_unique and med["age"].max() - med["age"].min() > 30
    assert med["items"].max() >= 5 and med["items"].min() <= 1.5
    lapsed = [i for i, p in enumerate(PERSONAS[:5]) if p.name.startswith("Lapsed")][0]
    last = pd.to_datetime(per_cust["last"]).groupby(per_cust["persona"]).median()
    assert (last.drop(lapsed) - last[lapsed]).min() > pd.Timedelta(days=60)
    top = df.groupby("persona_id")["Product_Category"].agg(lambda s: s.value_counts(normalize=True).iloc[0])
    assert (top > 0.8).all()


def test_satisfaction_raises_spend_within_personas():
    frames, truth = generate_frames(GenerateConfig(n_transactions=10_000, seed=11))
    df = frames["retail_table"].merge(frames["truth_customers"], left_on="Customer_ID",
                                      right_on="customer_id")
    base = df["Product_Category"].map(dict(zip(CATEGORIES, CATEGORY_BASE_PRICE)))
    df["log_price"] = np.log(df["Amount"] / base)
    cust = df.groupby("Customer_ID").agg(p=("persona_id", "first"), u=("satisfaction", "first"),
                                         lp=("log_price", "mean"))
    cust[["u", "lp"]] -= cust.groupby("p")[["u", "lp"]].transform("mean")
    slope = (cust["u"] * cust["lp"]).sum() / (cust["u"] ** 2).sum()
    b = truth["effects"]["sentiment_spend"]["b"]
    assert b == pytest.approx(10 * math.log(1.15), rel=1e-4)
    assert abs(slope - b) < 0.25


def test_satisfaction_is_sentiment_plus_a_personal_deviation_that_ratings_share():
    frames, truth = generate_frames(GenerateConfig(n_transactions=10_000, seed=11))
    tc = frames["truth_customers"].set_index("customer_id")
    dev = tc["satisfaction"] - tc["sentiment"]
    inside = tc["satisfaction"].between(0.03, 0.97) & tc["sentiment"].between(0.03, 0.97)
    assert dev[inside].std() == pytest.approx(0.15, abs=0.01)
    tr = frames["truth_reviews"].join(tc[["sentiment", "satisfaction"]], on="customer_id")
    # ratings follow satisfaction more closely than the latent sentiment it scatters around
    assert tr["rating"].corr(tr["satisfaction"]) > tr["rating"].corr(tr["sentiment"]) + 0.05
    assert truth["reviews"]["rating_model"].startswith("clip(round(1 + 4 u + N(0, 0.45))")


def test_planted_spend_drivers_are_ranked_in_dollars():
    frames, truth = generate_frames(GenerateConfig(n_transactions=10_000, seed=11))
    planted = truth["effects"]["spend_drivers"]
    drivers = planted["factors"]
    assert sorted(d["rank"] for d in drivers.values()) == [1, 2, 3, 4, 5]
    effects = [d["mean_abs_effect"] for d in sorted(drivers.values(), key=lambda d: d["rank"])]
    assert effects == sorted(effects, reverse=True) and effects[-1] > 0
    assert drivers["satisfaction"]["observed_as"] == "review_sentiment"
    # the price level shows through the persona markers, so it is compared with the category mix
    observed = planted["observed"]
    assert observed["category_mix"]["factors"] == ["category_price", "price_level"]
    assert observed["category_mix"]["mean_abs_effect"] > drivers["category_price"]["mean_abs_effect"]
    for group, entry in observed.items():
        for other in entry["tied_with"]:
            assert group in observed[other]["tied_with"]
            a, b = entry["mean_abs_effect"], observed[other]["mean_abs_effect"]
            assert abs(a - b) < planted["tie_margin"] * max(a, b)
    # no planted spend effect: satisfaction moves spend by nothing
    _, flat = generate_frames(GenerateConfig(n_transactions=10_000, seed=11, sentiment_spend_pct=0))
    assert flat["effects"]["spend_drivers"]["factors"]["satisfaction"]["mean_abs_effect"] == 0


def test_observational_shapley_credits_what_moves_the_target():
    """Independent inputs: credit in proportion to their effect. A copy of an input (perfectly
    correlated) shares its credit instead of doubling it; a constant gets none."""
    from segment_report.pipeline.synthetic.planted import _conditional_shapley

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    y = x[:, 0] + 2 * x[:, 1] + rng.normal(0, 0.1, 4000)
    L = np.column_stack([x, x[:, 1], np.ones(4000)])
    rows, phi = _conditional_shapley(L, y, seed=0)
    effect = np.abs(phi).mean(axis=0)
    assert len(rows) == 2000
    assert effect[1] == pytest.approx(effect[2], rel=0.1)
    assert effect[1] + effect[2] == pytest.approx(2 * effect[0], rel=0.1)
    assert effect[3] == 0
    # efficiency: the values add up to each explained row's fitted value minus the mean
    assert np.corrcoef(phi.sum(axis=1), y[rows] - y.mean())[0, 1] > 0.99


def test_planted_state_sentiment(retail_clean):
    frames, truth = retail_clean
    eff = truth["effects"]["state_sentiment"]
    tc = frames["truth_customers"]
    us_mean = tc.loc[tc["country"] == "USA", "sentiment"].mean()
    high = tc.loc[tc["state"].isin(eff["high"]["states"]), "sentiment"].mean()
    low = tc.loc[tc["state"].isin(eff["low"]["states"]), "sentiment"].mean()
    assert high > us_mean + 0.1 and low < us_mean - 0.1
    assert tc.loc[tc["country"] != "USA", "state"].isna().all()


def test_reviews_lengths_labels_and_sources(retail_clean):
    frames, truth = retail_clean
    df = frames["retail_table"]
    rows = df[df["Feedback"].notna()].set_index("Transaction_ID")
    tr = frames["truth_reviews"].set_index("review_id").loc[rows.index]
    words = rows["Feedback"].str.split().str.len()
    assert words.between(3, 150).all()
    assert (rows["Ratings"] == tr["rating"]).all()
    expected = np.select([tr["rating"] <= 2, tr["rating"] == 3], ["negative", "neutral"], "positive")
    assert (tr["true_label"] == expected).all()
    assert set(tr["true_label"]) == {"negative", "neutral", "positive"}
    assert set(tr["text_source"]) == {"real", "composed"}
    assert truth["reviews"]["by_label"] == tr["true_label"].value_counts().to_dict()
    composed = rows.loc[tr["text_source"] == "composed", "Feedback"]
    assert composed.str.contains(r"\b(?:not|didn't|doesn't|wasn't|won't|never|couldn't)\b",
                                 case=False).mean() > 0.15
    assert composed.str.contains(r" but |although", case=False).mean() > 0.1
    assert composed.nunique() > 0.8 * len(composed)
    # Ratings follow latent sentiment.
    s = frames["truth_customers"].set_index("customer_id").loc[rows["Customer_ID"], "sentiment"]
    assert np.corrcoef(s.to_numpy(), rows["Ratings"].astype(float))[0, 1] > 0.5


@pytest.mark.parametrize("fixture", ["retail_clean", "tables_messy"])
def test_planted_pii_in_recorded_number_of_texts(request, fixture):
    frames, truth = request.getfixturevalue(fixture)
    if "retail_table" in frames:
        df = frames["retail_table"]
        texts = df[["Transaction_ID", "Feedback", "Email", "Phone"]].dropna(subset=["Feedback"])
        texts = texts.rename(columns={"Transaction_ID": "id", "Feedback": "text"})
    else:
        cust = frames["customers"].drop_duplicates("customer_id")
        texts = frames["reviews"].merge(cust[["customer_id", "email", "phone"]], on="customer_id")
        texts = texts.rename(columns={"review_id": "id", "email": "Email", "phone": "Phone"})
    hit = [e in t or p in t for t, e, p in zip(texts["text"], texts["Email"], texts["Phone"])]
    pii = truth["reviews"]["pii"]
    assert sum(hit) == pii["count"] == len(pii["review_ids"]) > 0
    assert sorted(texts.loc[hit, "id"]) == sorted(pii["review_ids"])
    assert abs(pii["count"] - 0.01 * truth["counts"]["reviews"]) <= 1


# --------------------------------------------------------------------------- mess

def test_messy_retail_counts_match_truth(retail_messy, retail_clean):
    frames, truth = retail_messy
    df = frames["retail_table"]
    counts = truth["counts"]
    dups = counts["duplicates_injected"]["retail_table"]
    assert len(df) == N + dups + counts["invalid_total"] == counts["rows_written"]["retail_table"]
    assert df.duplicated().sum() == dups > 0
    assert 0.01 <= counts["invalid_total"] / N <= 0.02

    problems = _problems(df, "Customer_ID", "Date", "Total_Amount", "Amount")
    n_problems = problems.sum(axis=1)
    assert n_problems.max() == 1  # exactly one problem per invalid row
    invalid = df[n_problems == 1]
    assert not invalid.duplicated(keep=False).any()
    for reason, ids in truth["invalid_transaction_ids"].items():
        assert len(ids) == counts["invalid_rows"][reason] > 0
        got = invalid.loc[problems.loc[invalid.index, reason], "Transaction_ID"]
        assert sorted(got) == sorted(ids), reason

    # Every valid row, deduplicated, is a clean row with the same values.
    valid = df[n_problems == 0].drop_duplicates()
    clean = retail_clean[0]["retail_table"].set_index("Transaction_ID")
    assert len(valid) == N and valid["Transaction_ID"].is_unique
    valid = valid.set_index("Transaction_ID").loc[clean.index]
    assert (_date(valid["Date"]) == pd.to_datetime(clean["Date"])).all()
    assert np.allclose(_number(valid["Total_Amount"]), clean["Total_Amount"])
    assert np.allclose(_number(valid["Amount"]), clean["Amount"])
    us = clean["Country"] == "USA"
    assert (normalise_states(valid.loc[us, "State"]) == normalise_states(clean.loc[us, "State"])).all()
    assert (valid["State"].str.strip().str.lower() == clean["State"].str.lower()).mean() < 1
    assert (valid["Gender"].str.strip().str.lower().fillna("?")
            == clean["Gender"].str.lower().where(valid["Gender"].notna(), "?")).all()
    assert set(valid["Country"].str.strip().str.lower()) <= {
        "usa", "us", "united states", "uk", "germany", "canada", "australia"}
    assert valid["Total_Amount"].str.startswith("$").any() and valid["Date"].str.contains("/").any()
    unknown = valid.drop_duplicates("Customer_ID")[["Age", "Gender", "Income"]].isna().sum()
    assert {k.lower(): int(v) for k, v in unknown.items()} == counts["customers_with_unknown"]
    assert (unknown > 0).all()
    assert valid["Feedback"].notna().sum() == counts["reviews"]


def test_messy_tables_counts_match_truth(tables_messy, tables_clean):
    frames, truth = tables_messy
    counts = truth["counts"]
    dup = counts["duplicates_injected"]
    for key in ("customers", "transactions", "reviews"):
        assert frames[key].duplicated().sum() == dup[key] > 0
        assert len(frames[key]) == counts["rows_written"][key]
    tx = frames["transactions"]
    problems = _problems(tx, "customer_id", "date", "total", None)
    n_problems = problems.sum(axis=1)
    assert n_problems.max() == 1 and n_problems.sum() == counts["invalid_total"]
    for reason, ids in truth["invalid_transaction_ids"].items():
        got = tx.loc[problems[reason], "transaction_id"]
        assert sorted(got) == sorted(ids) and len(ids) > 0, reason
    valid = tx[n_problems == 0].drop_duplicates().set_index("transaction_id")
    clean = tables_clean[0]["transactions"].set_index("transaction_id")
    assert len(valid) == N
    valid = valid.loc[clean.index]
    assert (_date(valid["date"]) == pd.to_datetime(clean["date"])).all()
    assert np.allclose(_number(valid["total"]), clean["total"])
    cust = frames["customers"].drop_duplicates()
    assert cust["customer_id"].is_unique
    cust = cust.set_index("customer_id").loc[tables_clean[0]["customers"]["customer_id"]]
    us = tables_clean[0]["customers"]["country"].eq("USA").to_numpy()
    assert (normalise_states(cust["state"][us]).to_numpy()
            == normalise_states(tables_clean[0]["customers"]["state"][us]).to_numpy()).all()
    assert set(frames["reviews"].drop_duplicates()["review_id"]) == set(frames["truth_reviews"]["review_id"])


def test_truth_tables_match_counts(retail_messy):
    frames, truth = retail_messy
    tc, tr = frames["truth_customers"], frames["truth_reviews"]
    assert len(tc) == truth["counts"]["customers"] and tc["customer_id"].is_unique
    assert len(tr) == truth["counts"]["reviews"] and tr["review_id"].is_unique
    assert set(tc.columns) >= {"customer_id", "persona", "sentiment", "state", "country"}
    assert tc["sentiment"].between(0, 1).all()
    assert sum(truth["counts"]["non_us_customers"].values()) == (tc["country"] != "USA").sum()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", truth["window"]["start"])
