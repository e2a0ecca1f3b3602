"""Segments stage: feature matrix, tuning range, determinism, reuse, carry-over, edge cases.

The UMAP/HDBSCAN fits are shared through module-scoped fixtures: numba compiles UMAP's
kernels once per process (~10-20 s on the 2-core dev machine), every later fit of these
few hundred customers takes a few seconds.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from segment_report.pipeline.config import SegmentsConfig
from segment_report.pipeline.errors import ConfigError, InputDataError
from segment_report.pipeline.stages.segments.carry_over import match_previous
from segment_report.pipeline.stages.segments.features import FeatureTransformer
from segment_report.pipeline.stages.segments.model import SegmentModel
from segment_report.pipeline.stages.segments.stability import confidence_level
from segment_report.pipeline.stages.segments.stage import segment_customers
from segment_report.reports.narrative.notes import note_text

CATS = ("books", "clothing", "electronics", "home_decor")
# freq, recency, aov, items, tenure, category weights, positive_prob
PLANTED = [
    (16, 10, 80, 6.0, 900, (1, 1, 1, 6), 0.85),
    (1.3, 250, 50, 1.5, 300, (2, 2, 2, 2), 0.55),
    (4, 40, 400, 1.3, 600, (1, 8, 1, 1), 0.75),
    (5, 30, 250, 1.2, 40, (1, 1, 8, 1), 0.8),
    (7, 50, 35, 2.5, 700, (8, 1, 1, 1), 0.2),
]


def make_customers(n: int, seed: int, sentiment: bool = True, id_offset: int = 0):
    """Planted-persona customer table (5 personas) and the true persona per row."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(PLANTED), n)
    cols = {k: np.empty(n) for k in ("frequency", "recency_days", "avg_order_value",
                                     "items_per_order", "tenure_days", "positive_prob")}
    shares = np.empty((n, len(CATS)))
    for i, (f, r, a, it, t, w, s) in enumerate(PLANTED):
        m = truth == i
        k = int(m.sum())
        cols["frequency"][m] = 1 + rng.poisson(max(f - 1, 0.2), k)
        cols["recency_days"][m] = rng.gamma(2.0, r / 2.0, k)
        cols["avg_order_value"][m] = a * rng.lognormal(0, 0.3, k)
        cols["items_per_order"][m] = np.clip(it * rng.lognormal(0, 0.2, k), 1, None)
        cols["tenure_days"][m] = t * rng.lognormal(0, 0.25, k) + cols["recency_days"][m]
        cols["positive_prob"][m] = np.clip(rng.normal(s, 0.1, k), 0.01, 0.99)
        shares[m] = rng.dirichlet(np.array(w, float) * 2, k)
    df = pd.DataFrame({"customer_id": [f"C{i + id_offset:05d}" for i in range(n)]})
    for k in ("recency_days", "frequency", "avg_order_value", "items_per_order", "tenure_days"):
        df[k] = cols[k]
    df["frequency"] = df["frequency"].astype("int64")
    df["monetary"] = df["frequency"] * df["avg_order_value"]
    for j, c in enumerate(CATS):
        df[f"cat_share_{c}"] = shares[:, j]
    df["age"] = np.where(rng.random(n) < 0.1, np.nan, rng.normal(40, 12, n).round())
    df["gender"] = pd.array(rng.choice(["female", "male", None], n, p=[0.5, 0.45, 0.05]), dtype="string")
    df["income"] = np.nan
    df["income_band"] = pd.array(rng.choice(["low", "medium", "high", None], n), dtype="string")
    df["state"] = pd.array(rng.choice(["CA", "TX", "NY", None], n), dtype="string")
    df["country"] = "USA"
    df["is_us"] = df["state"].notna().to_numpy()
    df["review_count"] = 1
    if sentiment:
        df["positive_prob"] = cols["positive_prob"]
        df["share_negative"] = (cols["positive_prob"] < 0.4).astype(float)
        df["sentiment_missing"] = False
    return df, truth


# deterministic (seeded single-thread UMAP) is the default, so the tests exercise the default
FAST = dict(n_epochs=100, stability_runs=2, stability_sample_size=300)


@pytest.fixture(scope="module")
def planted():
    return make_customers(700, seed=0)


@pytest.fixture(scope="module")
def fitted(planted):
    customers, _ = planted
    return segment_customers(customers, SegmentsConfig(**FAST), seed=3)


def test_recovers_planted_personas_within_range(planted, fitted):
    _, truth = planted
    a = fitted.assignments
    assert list(a.columns) == ["customer_id", "segment_id", "segment_name", "membership_strength",
                               "was_noise", "umap_x", "umap_y"]
    assert 4 <= fitted.summary["n_segments"] <= 10 and fitted.summary["in_range"]
    assert adjusted_rand_score(truth, a["segment_id"]) >= 0.85
    assert (a["segment_id"] >= 1).all()  # noise assigned by default
    assert a["membership_strength"].between(0, 1).all()
    assert np.isfinite(a[["umap_x", "umap_y"]].to_numpy()).all()
    names = [s["name"] for s in fitted.segments]
    assert len(set(names)) == len(names)
    assert sum(s["size"] for s in fitted.segments) == len(a)
    # the tuning table records every candidate and exactly one winner
    assert sum(t["chosen"] for t in fitted.summary["tuning"]) == 1


def test_segments_json_is_strict_json_with_stability(fitted):
    text = json.dumps(fitted.to_json(), allow_nan=False)
    data = json.loads(text)
    seg = data["segments"][0]
    assert {"id", "name", "description", "size", "share", "profile", "stability", "carry_over"} <= set(seg)
    assert seg["stability"]["confidence"] in {"high", "medium", "low"}
    assert 0.0 <= seg["stability"]["jaccard_mean"] <= 1.0
    assert len(seg["stability"]["jaccard_runs"]) == 2
    assert data["summary"]["stability"]["ari_mean"] is not None
    assert seg["profile"]["features"]["monetary"]["median"] > 0


def test_tuning_lands_in_a_narrow_range(planted):
    customers, _ = planted
    cfg = SegmentsConfig(**{**FAST, "stability_runs": 0, "min_segments": 2, "max_segments": 3})
    result = segment_customers(customers, cfg, seed=3)
    assert 2 <= result.summary["n_segments"] <= 3


def test_same_data_config_seed_gives_identical_assignments(planted, fitted):
    customers, _ = planted
    again = segment_customers(customers, SegmentsConfig(**FAST), seed=3)
    pd.testing.assert_frame_equal(again.assignments, fitted.assignments)
    assert json.dumps(again.to_json()) == json.dumps(fitted.to_json())


def test_reuse_assigns_new_customers_after_save_load(tmp_path, fitted):
    fitted.model.save(tmp_path / "model" / "segments")
    model = SegmentModel.load(tmp_path / "model" / "segments")
    new, truth = make_customers(300, seed=11, id_offset=50_000)
    result = segment_customers(new, SegmentsConfig(**FAST), seed=3, previous=model, reuse=True)
    assert result.summary["mode"] == "reuse"
    assert set(result.assignments["segment_id"]) <= set(fitted.model.names)
    assert {s["name"] for s in result.segments} <= set(fitted.model.names.values())
    assert adjusted_rand_score(truth, result.assignments["segment_id"]) >= 0.8
    assert all(s["carry_over"]["status"] == "reused" for s in result.segments)


def test_refit_carries_ids_and_names_over(planted, fitted):
    customers, _ = planted
    # next month: most customers return, some are new, and the seed differs
    returning = customers.iloc[100:].reset_index(drop=True)
    newcomers, _ = make_customers(100, seed=5, id_offset=90_000)
    month2 = pd.concat([returning, newcomers], ignore_index=True)
    second = segment_customers(month2, SegmentsConfig(**{**FAST, "stability_runs": 0}), seed=4,
                               previous=fitted.model)
    before = fitted.assignments.set_index("customer_id")
    after = second.assignments.set_index("customer_id")
    common = before.index.intersection(after.index)
    agree = (before.loc[common, "segment_id"] == after.loc[common, "segment_id"]).mean()
    assert agree >= 0.9
    continued = [s for s in second.segments if s["carry_over"]["status"] == "continued"]
    assert len(continued) >= 4
    for s in continued:
        assert s["id"] == s["carry_over"]["matched_previous_id"]
        assert s["name"] == fitted.model.names[s["id"]]
    # a third month refitted from the second keeps the same ids and names again
    third = segment_customers(month2, SegmentsConfig(**{**FAST, "stability_runs": 0}), seed=5,
                              previous=second.model)
    assert {s["id"]: s["name"] for s in third.segments if s["carry_over"]["status"] == "continued"} \
        == {s["id"]: s["name"] for s in second.segments if s["id"] in
            {t["id"] for t in third.segments if t["carry_over"]["status"] == "continued"}}


def test_match_previous_flags_split_merge_new_vanished():
    ids = [f"c{i}" for i in range(400)]
    prev = pd.DataFrame({"customer_id": ids, "segment_id": [1] * 100 + [2] * 100 + [3] * 100 + [4] * 100})
    # 1 stays; 2 splits into 2 and 5; 3 and 4 merge into 3; 6 is all newcomers
    cur_seg = [1] * 100 + [2] * 50 + [5] * 50 + [3] * 200
    cur = pd.DataFrame({"customer_id": ids + [f"n{i}" for i in range(80)],
                        "segment_id": cur_seg + [6] * 80})
    m = match_previous(cur, prev)
    assert m["matches"][1][0] == 1 and m["matches"][1][1] == pytest.approx(1.0)
    assert m["split_from"] == {2: 2, 5: 2}
    assert sorted(m["merged_from"][3]) == [3, 4]
    assert 6 not in m["matches"]
    assert len(m["vanished"]) == 1 and m["vanished"][0] in (3, 4)


def test_tiny_table_gives_one_segment_with_a_message():
    tiny, _ = make_customers(30, seed=1)
    result = segment_customers(tiny, SegmentsConfig(**FAST), seed=0)
    assert result.summary["n_segments"] == 1
    assert result.assignments["segment_id"].nunique() == 1
    assert [w["code"] for w in result.summary["warnings"]] == ["too_few_customers"]
    assert "too few to segment" in note_text(result.summary["warnings"][0])
    json.dumps(result.to_json(), allow_nan=False)


def test_identical_rows_give_one_segment():
    one, _ = make_customers(1, seed=2)
    same = pd.concat([one] * 200, ignore_index=True)
    same["customer_id"] = [f"X{i}" for i in range(200)]
    result = segment_customers(same, SegmentsConfig(**FAST), seed=0)
    assert result.summary["n_segments"] == 1
    assert [w["code"] for w in result.summary["warnings"]] == ["too_few_profiles"]
    assert "distinct feature profiles" in note_text(result.summary["warnings"][0])


def test_constant_column_and_nans_are_handled():
    customers, truth = make_customers(400, seed=7)
    customers["items_per_order"] = 2.0  # constant
    customers.loc[customers.index[::7], "monetary"] = np.nan
    customers.loc[customers.index[::5], "recency_days"] = np.nan
    customers["age"] = np.nan  # all missing
    result = segment_customers(customers, SegmentsConfig(**{**FAST, "stability_runs": 0}), seed=1)
    schema = result.summary["feature_schema"]
    assert schema["items_per_order"]["constant"] is True
    assert schema["monetary"]["missing_share"] == pytest.approx(1 / 7, abs=0.01)
    assert result.assignments["segment_id"].notna().all()
    assert 4 <= result.summary["n_segments"] <= 10
    assert adjusted_rand_score(truth, result.assignments["segment_id"]) >= 0.6


def test_table_without_sentiment_columns():
    customers, truth = make_customers(400, seed=8, sentiment=False)
    result = segment_customers(customers, SegmentsConfig(**{**FAST, "stability_runs": 0}), seed=1)
    assert "positive_prob" not in result.summary["features"]
    assert all(s["profile"]["sentiment"] is None for s in result.segments)
    assert "No review sentiment" in result.segments[0]["description"]
    assert result.summary["n_segments"] >= 3


def test_feature_transformer_rules():
    df = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                       "monetary": [0.0, np.e - 1, np.e ** 2 - 1, np.nan],
                       "gender": pd.array(["Female", "male", None, "female"], dtype="string"),
                       "income_band": pd.array(["low", "high", None, "medium"], dtype="string"),
                       "cat_share_a": [1.0, 0.0, 0.5, 0.5], "cat_share_b": [0.0, 1.0, 0.5, 0.5]})
    t = FeatureTransformer(("monetary", "gender", "income_band", "cat_share_*")).fit(df)
    X, imputed = t.transform(df)
    assert t.output_names_ == ["monetary", "gender=female", "gender=male", "income_band",
                               "cat_share_a", "cat_share_b"]
    assert t.schema_["monetary"]["log1p"] and t.schema_["monetary"]["center"] == pytest.approx(1.0)
    assert X[3, 0] == 0.0  # NaN imputed with the median -> 0 after centring
    # indicators / income-band steps are worth 0.3, dequantized by +-half a step
    assert np.all(np.abs(X[:, 1] - [0.3, 0.0, 0.0, 0.3]) <= 0.15)
    assert np.all(np.abs(X[:, 2] - [0.0, 0.3, 0.0, 0.0]) <= 0.15)
    assert np.all(np.abs(X[:, 3] / 0.3 - [-1.0, 1.0, 0.0, 0.0]) <= 0.5)
    # the jitter is keyed by customer_id: row order does not change a customer's row
    X_rev, _ = t.transform(df.iloc[::-1])
    np.testing.assert_array_equal(X_rev[::-1], X)
    assert t.schema_["cat_share_a"]["scale"] == t.schema_["cat_share_b"]["scale"]
    X2, imputed = t.transform(df.drop(columns=["monetary"]))
    assert imputed == ["monetary"] and (X2[:, 0] == 0).all()


def test_imputed_sentiment_does_not_set_its_scale():
    rng = np.random.default_rng(0)
    scored = np.r_[rng.uniform(0.0, 0.2, 50), rng.uniform(0.8, 1.0, 50)]
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(200)],
                       "positive_prob": np.r_[scored, np.full(100, scored.mean())],
                       "sentiment_missing": np.r_[np.zeros(100, bool), np.ones(100, bool)]})
    t = FeatureTransformer(("positive_prob",)).fit(df)
    q75, q25 = np.percentile(scored, [75, 25])
    assert t.schema_["positive_prob"]["scale"] == pytest.approx(q75 - q25)
    assert t.schema_["positive_prob"]["center"] == pytest.approx(np.median(scored))
    # counted with the imputed half the IQR would be a fraction of the reviewers' spread
    pooled = FeatureTransformer(("positive_prob",)).fit(df.drop(columns=["sentiment_missing"]))
    assert pooled.schema_["positive_prob"]["scale"] < t.schema_["positive_prob"]["scale"] / 3


def test_bad_inputs_raise_clear_errors(planted, tmp_path):
    customers, _ = planted
    with pytest.raises(ConfigError, match="may not be built on"):
        segment_customers(customers, SegmentsConfig(features=("monetary", "state")), seed=0)
    with pytest.raises(ConfigError, match="no such column"):
        segment_customers(customers, SegmentsConfig(features=("monetary", "loyalty_score")), seed=0)
    with pytest.raises(InputDataError, match="duplicate customer_id"):
        segment_customers(pd.concat([customers.head(3)] * 2), SegmentsConfig(), seed=0)
    with pytest.raises(InputDataError, match="empty"):
        segment_customers(customers.head(0), SegmentsConfig(), seed=0)
    with pytest.raises(ConfigError, match="no previous model"):
        segment_customers(customers, SegmentsConfig(), seed=0, reuse=True)
    with pytest.raises(InputDataError, match="no saved segment model"):
        SegmentModel.load(tmp_path)
    with pytest.raises(ConfigError, match="min_segments"):
        from segment_report.pipeline.config import load_config
        load_config(overrides={"segments.min_segments": 8, "segments.max_segments": 4})


def test_confidence_thresholds():
    assert confidence_level(0.9) == "high" and confidence_level(0.75) == "high"
    assert confidence_level(0.7) == "medium" and confidence_level(0.6) == "medium"
    assert confidence_level(0.59) == "low" and confidence_level(None) == "low"


def test_umap_kernels_keep_their_compiled_code_on_disk():
    # without numba's cache every fresh process compiles UMAP again before its first fit
    import sys

    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    from segment_report.pipeline.stages.segments.clustering import cache_compiled_kernels

    cache_compiled_kernels()
    kernels = [obj for name, module in list(sys.modules.items()) if name.split(".")[0] == "umap"
               for obj in vars(module).values()
               if isinstance(obj, Dispatcher) and obj.__module__ == name]
    uncached = [k.__name__ for k in kernels if isinstance(k._cache, NullCache) and not k.signatures]
    assert len(kernels) > 50 and uncached == []
    # kernels numba cannot cache (dynamic globals) are compiled as before, without a warning
    import warnings

    from numba.core.errors import NumbaWarning

    with warnings.catch_warnings(record=True) as seen:
        warnings.warn('Cannot cache compiled function "nn_descent" as it uses dynamic globals',
                      NumbaWarning)
        warnings.warn("another numba warning", NumbaWarning)
    assert [str(w.message) for w in seen] == ["another numba warning"]


def test_numba_runs_its_parallel_kernels_without_an_openmp_pool(monkeypatch):
    """numba's OpenMP layer kept threads spinning beside torch's and made the next month's
    review scoring in the same process 10x slower; the workqueue layer is chosen unless the
    user set NUMBA_THREADING_LAYER."""
    import numba

    from segment_report.pipeline.stages.segments.clustering import cache_compiled_kernels

    monkeypatch.delenv("NUMBA_THREADING_LAYER", raising=False)
    monkeypatch.setattr(numba.config, "THREADING_LAYER", "default")
    cache_compiled_kernels()
    assert numba.config.THREADING_LAYER == "workqueue"
    monkeypatch.setenv("NUMBA_THREADING_LAYER", "omp")
    monkeypatch.setattr(numba.config, "THREADING_LAYER", "omp")
    cache_compiled_kernels()
    assert numba.config.THREADING_LAYER == "omp"
