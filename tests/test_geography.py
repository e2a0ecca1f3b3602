"""Geography stage: per-state statistics, shrinkage, Moran's I / LISA, findings (and the sentences
written from them), geometry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from segment_report.pipeline.config import GeographyConfig, load_config
from segment_report.pipeline.errors import ConfigError, InputDataError
from segment_report.pipeline.io.schema import StatesDoc
from segment_report.pipeline.io.store import RunFolder, read_json
from segment_report.pipeline.stages.geography import (SKIP_CODES, analyse_geography, benjamini_hochberg,
                                                      local_moran_pvalues)
from segment_report.pipeline.io.geometry import load_regions, load_us_states
from segment_report.pipeline.stages.findings import resolve_pointer
from segment_report.pipeline.states import STATE_CODES
from segment_report.reports.narrative import geography_sentences, numbers_in_text
from segment_report.reports.narrative.notes import SPATIAL_SKIPPED, multiple_testing_text

HIGH = ("CO", "UT", "WY")
LOW = ("GA", "SC", "NC")
TINY = "VT"
NO_REVIEWS = "OR"
CFG = GeographyConfig(permutations=999)


def planted_customers(seed: int = 0, n: int = 6000, effect: float = 0.12) -> pd.DataFrame:
    """US customers with a planted high (CO, UT, WY) and low (GA, SC, NC) cluster.

    Vermont gets 6 customers, all with extreme positive sentiment (must never be flagged);
    Oregon's customers have no scored review.
    """
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 1.5, len(STATE_CODES))
    weights /= weights.sum()
    state = rng.choice(STATE_CODES, size=n, p=weights).astype(object)
    base = np.full(n, 0.65)
    base[np.isin(state, HIGH)] += effect
    base[np.isin(state, LOW)] -= effect
    prob = rng.beta(base * 8, (1 - base) * 8)
    review_count = rng.poisson(1.5, n) + 0
    missing = (review_count == 0) | (state == NO_REVIEWS)
    review_count[state == NO_REVIEWS] = 0
    tiny = np.flatnonzero(state == TINY)
    state[tiny[6:]] = "CA"
    prob[tiny[:6]] = 0.99
    segment = rng.integers(0, 3, n)
    return pd.DataFrame({
        "customer_id": [f"c{i:05d}" for i in range(n)],
        "state": pd.array(state, dtype="string"),
        "country": "USA", "is_us": True,
        "positive_prob": np.where(missing, 0.65, prob),
        "sentiment_missing": missing,
        "review_count": review_count,
        "monetary": rng.gamma(2.0, 80.0, n),
        "segment_id": segment,
        "segment_name": pd.Series(segment).map({0: "Loyal", 1: "Bargain", 2: "New"}).to_numpy(),
    })


@pytest.fixture(scope="module")
def planted() -> pd.DataFrame:
    return planted_customers()


@pytest.fixture(scope="module")
def result(planted):
    return analyse_geography(planted, None, CFG, seed=7)


def _texts(report: dict) -> list[str]:
    return [s.text for s in geography_sentences(report)]


def _check_findings(report: dict) -> None:
    """Every number a sentence prints is one of its finding's numbers (as printed, to 2
    decimals), and each of those is the value its source pointer reads in the report."""
    assert "narrative" not in report
    for sentence in geography_sentences(report):
        stored = [float(v) for v in sentence.numbers.values()]
        for value in numbers_in_text(sentence.text, sentence.labels):
            # an interval "0.62-0.65" reads as 0.62 and -0.65
            assert any(min(abs(value - s), abs(-value - s)) <= 0.005 + 1e-12 for s in stored), \
                (value, sentence)
        for key, value in sentence.numbers.items():
            assert resolve_pointer(report, sentence.sources[key]) == value, (key, sentence)


def by_code(report: dict) -> dict[str, dict]:
    return {s["code"]: s for s in report["states"]}


def test_report_has_every_state_and_is_strict_json(result):
    report = result.report
    assert [s["code"] for s in report["states"]] == list(STATE_CODES)
    text = json.dumps(report, allow_nan=False)
    assert "NaN" not in text
    oh = by_code(report)["OH"]
    for key in ("name", "fips", "customers", "reviewers", "reviews", "mean_positive_prob", "ci_low",
                "ci_high", "shrunk_positive_prob", "spend_per_customer", "segment_mix",
                "insufficient_data", "lisa_class", "lisa_p", "lisa_p_adjusted"):
        assert key in oh
    assert oh["name"] == "Ohio" and oh["fips"] == "39"
    assert oh["ci_low"] < oh["mean_positive_prob"] < oh["ci_high"]
    assert sum(m["share"] for m in oh["segment_mix"]) == pytest.approx(1.0)
    assert report["spatial"]["moran_p"] is not None
    assert report["spatial"]["multiple_testing"] == "fdr_bh_two_step"
    assert "Benjamini-Hochberg" in multiple_testing_text(report["spatial"])


def test_planted_clusters_found_tiny_state_never_flagged(result):
    states = by_code(result.report)
    flagged = {c for c, s in states.items() if s["lisa_class"] != "not significant"}
    assert len({c for c in HIGH if states[c]["lisa_class"] == "HH"}) >= 2
    assert len({c for c in LOW if states[c]["lisa_class"] == "LL"}) >= 2
    assert len(flagged - set(HIGH) - set(LOW)) <= 1
    vt = states[TINY]
    assert vt["customers"] == 6 and vt["insufficient_data"] and vt["rank"] is None
    assert vt["lisa_class"] == "not significant" and not vt["lisa_tested"]
    assert result.report["spatial"]["moran_significant"]
    assert any("High-sentiment cluster" in s for s in _texts(result.report))
    high = next(f for f in result.report["findings"] if f["kind"] == "spatial_cluster")
    assert high["refs"] == {"direction": "high", "codes": list(HIGH)}


def test_shrinkage_moves_small_states_most(result):
    states = by_code(result.report)
    mu = result.report["national"]["mean_positive_prob"]
    vt = states[TINY]
    # Six customers at 0.99 must not look like the best state.
    assert abs(vt["shrunk_positive_prob"] - mu) < 0.5 * abs(vt["mean_positive_prob"] - mu)
    for s in states.values():
        if s["reviewers"] > 0:
            lo, hi = sorted((s["mean_positive_prob"], mu))
            assert lo - 1e-9 <= s["shrunk_positive_prob"] <= hi + 1e-9


def test_state_without_reviews(result):
    oregon = by_code(result.report)[NO_REVIEWS]
    assert oregon["customers"] >= CFG.min_customers
    assert oregon["reviewers"] == 0 and oregon["reviews"] == 0
    assert oregon["mean_positive_prob"] is None and oregon["ci_low"] is None
    assert oregon["insufficient_data"] and oregon["lisa_class"] == "not significant"
    assert oregon["shrunk_positive_prob"] == pytest.approx(result.report["national"]["mean_positive_prob"])


def test_states_with_no_customers_are_listed(planted):
    subset = planted[~planted["state"].isin(["TX", "ME"])]
    states = by_code(analyse_geography(subset, None, CFG, seed=1).report)
    assert states["TX"]["customers"] == 0 and states["TX"]["insufficient_data"]
    assert states["ME"]["spend_per_customer"] is None


def test_unknown_and_non_us_rows_counted_not_mapped(planted):
    extra = pd.DataFrame({
        "customer_id": ["u1", "u2", "u3", "n1", "n2", "s1", "s2", "s3", "s4"],
        "state": pd.array([None, "Atlantis", "PR", None, "Ontario", " ohio ", "OHIO", "oh", "39"],
                          dtype="string"),
        "is_us": [True, True, True, False, False, True, True, True, True],
        "positive_prob": 0.5, "sentiment_missing": False, "review_count": 1, "monetary": 10.0,
    })
    both = pd.concat([planted, extra], ignore_index=True)
    report = analyse_geography(both, None, CFG, seed=1).report
    cov = report["coverage"]
    assert cov == {"customers_total": len(both), "customers_mapped": len(planted) + 4,
                   "non_us": 2, "unknown_state": 3}
    base = by_code(analyse_geography(planted, None, CFG, seed=1).report)["OH"]["customers"]
    assert by_code(report)["OH"]["customers"] == base + 4
    assert "2 are outside the US" in _texts(report)[0]
    assert "3 have no recognisable state" in _texts(report)[0]
    _check_findings(report)


def test_single_state_does_not_crash():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(80)], "state": "OH", "is_us": True,
                       "positive_prob": rng.uniform(0, 1, 80), "sentiment_missing": False,
                       "review_count": 1, "monetary": 5.0})
    report = analyse_geography(df, None, CFG, seed=0).report
    states = by_code(report)
    assert states["OH"]["rank"] == 1 and states["OH"]["customers"] == 80
    assert report["spatial"]["skipped"] in SKIP_CODES
    assert report["spatial"]["moran_i"] is None
    assert not any(report["hotspots"].values())
    assert "spatial_test_skipped" in [f["kind"] for f in report["findings"]]
    assert any("No spatial clustering test was run" in s for s in _texts(report))
    _check_findings(report)


def test_no_customer_with_reviews():
    df = pd.DataFrame({"customer_id": ["a", "b"], "state": ["OH", "TX"], "is_us": True,
                       "positive_prob": [0.5, 0.5], "sentiment_missing": True,
                       "review_count": 0, "monetary": 1.0})
    report = analyse_geography(df, None, CFG, seed=0).report
    assert report["national"]["mean_positive_prob"] is None
    assert all(s["insufficient_data"] for s in report["states"])
    json.dumps(report, allow_nan=False)
    assert [f["kind"] for f in report["findings"]] == ["coverage", "no_scored_reviews"]
    _check_findings(report)


def test_no_planted_effect_says_nothing_is_significant():
    df = planted_customers(seed=11, effect=0.0)
    report = analyse_geography(df, None, CFG, seed=11).report
    assert report["hotspots"] == {"high": [], "low": [], "outliers_high_among_low": [],
                                  "outliers_low_among_high": []}
    assert "no_hotspot" in [f["kind"] for f in report["findings"]]
    assert any("No state is a significant local hotspot" in s for s in _texts(report))
    _check_findings(report)


def test_sentence_numbers_equal_report_numbers(result):
    """The planted run has every kind of finding but the skipped test and no hotspot: each
    sentence prints only its finding's numbers, and those trace to the report."""
    kinds = [f["kind"] for f in result.report["findings"]]
    assert kinds[:3] == ["coverage", "national_mean", "spatial_autocorrelation"]
    assert {"spatial_cluster", "highest_lowest", "insufficient_regions"} <= set(kinds)
    _check_findings(result.report)


def test_reviews_table_counts_reviews_per_state(planted):
    ids = planted.loc[planted["state"] == "OH", "customer_id"].iloc[:3].tolist()
    reviews = pd.DataFrame({"review_id": ["r1", "r2", "r3", "r4", "r5"],
                            "customer_id": ids + [ids[0], "unknown-customer"]})
    states = by_code(analyse_geography(planted, reviews, CFG, seed=0).report)
    assert states["OH"]["reviews"] == 4
    assert sum(s["reviews"] for s in states.values()) == 4


def test_same_seed_same_report(planted):
    a = analyse_geography(planted, None, CFG, seed=5).report
    b = analyse_geography(planted, None, CFG, seed=5).report
    assert json.dumps(a) == json.dumps(b)


def test_islands_excluded_or_linked(planted):
    excluded = analyse_geography(planted, None, CFG, seed=0).report["spatial"]
    assert excluded["islands"] == ["AK", "HI"] and excluded["excluded"] == ["AK", "HI"]
    linked = analyse_geography(planted, None, GeographyConfig(permutations=999, islands="nearest"),
                               seed=0).report
    assert linked["spatial"]["excluded"] == []
    assert by_code(linked)["AK"]["lisa_p"] is not None


def test_missing_sentiment_column_is_a_clear_error(planted):
    with pytest.raises(InputDataError, match="positive_prob"):
        analyse_geography(planted.drop(columns="positive_prob"), None, CFG, seed=0)


def test_save_and_load_round_trip(result, tmp_path):
    folder = RunFolder(tmp_path).create()
    path = folder.write_document("states", result.report)
    assert path == tmp_path / "results" / "states.json"
    assert read_json(path) == {**json.loads(json.dumps(result.report)), "schema_version": StatesDoc.SCHEMA_VERSION}
    assert folder.read_document("states").states[0].code == result.report["states"][0]["code"]
    with pytest.raises(InputDataError, match="states.json not found"):
        RunFolder(tmp_path / "nowhere").read_document("states")


def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(0).uniform(0, 0.2, 25)
    assert np.allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"))
    assert benjamini_hochberg(np.array([])).size == 0


def test_local_moran_pvalues_detect_a_planted_lattice_cluster():
    from libpysal.weights import lat2W

    w = lat2W(6, 6)
    w.transform = "r"
    z = np.random.default_rng(0).normal(size=36)
    z[[0, 1, 6, 7]] += 3.0
    z = (z - z.mean()) / z.std()
    p = local_moran_pvalues(z, w, 999, seed=0)
    assert p.shape == (36,) and ((p > 0) & (p <= 0.5 + 1e-9)).all()
    assert p[[0, 1, 6, 7]].max() < 0.05
    assert np.median(p) > 0.1


@pytest.mark.slow
def test_numpy_engine_agrees_with_esda(planted):
    """esda's own conditional permutations compile numba code (~12 s), hence slow."""
    cfg = GeographyConfig(permutations=9999)
    fast = analyse_geography(planted, None, cfg, seed=3).states
    ref = analyse_geography(planted, None, cfg.model_copy(update={"lisa_engine": "esda"}),
                            seed=3).states
    both = fast["lisa_p"].notna()
    p = ref.loc[both, "lisa_p"]
    # Two independent Monte Carlo estimates: allow 4.5 standard errors of their difference, plus
    # 1/48 because a draw equal to the observed value counts as "as extreme" here while esda's
    # fastmath comparison can miss that exact tie (it matters for one-neighbour states: Maine).
    tolerance = 4.5 * np.sqrt(2 * p * (1 - p) / 9999) + 1 / 48
    assert (np.abs(fast.loc[both, "lisa_p"] - p) < tolerance).all()
    assert fast["lisa_quadrant"].tolist() == ref["lisa_quadrant"].tolist()

# --------------------------------------------------------------------------- geometry

def test_builtin_geometry_has_51_states_with_shared_borders():
    from libpysal.weights import Queen

    regions = load_us_states()
    frame = regions.frame
    assert list(frame["code"]) == list(STATE_CODES)
    assert frame.crs.to_epsg() == 4326 and frame.geometry.is_valid.all()
    w = Queen.from_dataframe(frame, ids=list(frame["code"]), use_index=False, silence_warnings=True)
    assert set(w.islands) == {"AK", "HI"}
    assert set(w.neighbors["AZ"]) == {"CA", "NV", "UT", "CO", "NM"}  # Four Corners: Queen
    assert set(w.neighbors["DC"]) == {"MD", "VA"}
    path = Path(__import__("segment_report.pipeline", fromlist=["x"]).__file__).parent / "data" / "us_states.geojson"
    assert path.stat().st_size < 300_000


def _grid_geojson(path: Path) -> Path:
    features = []
    names = ["Ontario", "Quebec", "Manitoba", "Alberta"]
    for i, name in enumerate(names):
        x0, y0 = -100 + 5 * (i % 2), 50 + 5 * (i // 2)
        ring = [[x0, y0], [x0 + 5, y0], [x0 + 5, y0 + 5], [x0, y0 + 5], [x0, y0]]
        features.append({"type": "Feature", "properties": {"PRENAME": name, "PRUID": str(35 + i)},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_custom_geojson_maps_non_us_customers(tmp_path):
    geojson = _grid_geojson(tmp_path / "provinces.geojson")
    rng = np.random.default_rng(1)
    region = rng.choice(["ontario", " QUEBEC ", "Manitoba", "alberta", "Yukon"], size=400)
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(400)], "state": region,
                       "is_us": False, "positive_prob": rng.uniform(0, 1, 400),
                       "sentiment_missing": False, "review_count": 1, "monetary": 1.0})
    cfg = GeographyConfig(permutations=99, geojson=geojson, key_column="PRENAME")
    report = analyse_geography(df, None, cfg, seed=0).report
    assert [s["code"] for s in report["states"]] == ["Ontario", "Quebec", "Manitoba", "Alberta"]
    assert report["coverage"]["non_us"] == 0
    assert report["coverage"]["unknown_state"] == int((region == "Yukon").sum())
    assert by_code(report)["Quebec"]["customers"] == int((region == " QUEBEC ").sum())
    assert report["geometry"] == {"source": str(geojson), "key_column": "PRENAME", "is_us": False,
                                  "name_column": None}
    assert all("region" in t and " state" not in t for t in _texts(report)[:1])
    _check_findings(report)


def test_custom_geojson_config_errors(tmp_path):
    geojson = _grid_geojson(tmp_path / "provinces.geojson")
    with pytest.raises(ConfigError, match="key_column"):
        load_config(overrides={"geography.geojson": str(geojson)})
    with pytest.raises(ConfigError, match="(?s)'NAME' is not a property.*PRENAME"):
        load_regions(geojson, "NAME")
    with pytest.raises(ConfigError, match="not found"):
        load_regions(tmp_path / "missing.geojson", "PRENAME")


def test_generated_data_planted_states_found():
    """End to end on the synthetic generator's planted states (ratings as a perfect classifier)."""
    from segment_report.pipeline.synthetic import GenerateConfig, generate_frames

    frames, truth = generate_frames(GenerateConfig(mode="tables", n_transactions=20_000, seed=3))
    planted = truth["effects"]["state_sentiment"]
    high, low = set(planted["high"]["states"]), set(planted["low"]["states"])
    reviews = frames["reviews"]
    positive = (pd.to_numeric(reviews["rating"]) >= 4).astype(float)
    per_customer = positive.groupby(reviews["customer_id"].astype(str).to_numpy()).mean()
    people = frames["truth_customers"]
    ids = people["customer_id"].astype(str)
    prob = ids.map(per_customer).to_numpy(dtype=float)
    df = pd.DataFrame({"customer_id": ids, "is_us": (people["country"] == "USA").to_numpy(),
                       "state": people["state"].where(people["country"] == "USA", None),
                       "positive_prob": np.nan_to_num(prob, nan=0.5),
                       "sentiment_missing": np.isnan(prob), "monetary": 1.0})
    states = analyse_geography(df, reviews, GeographyConfig(), seed=3).states
    flagged = set(states.index[states["lisa_class"] != "not significant"])
    found = set(states.index[states["lisa_class"] == "HH"]) & high
    found |= set(states.index[states["lisa_class"] == "LL"]) & low
    assert len(found) >= 3
    assert len(flagged - high - low) <= 1
    assert not flagged & set(states.index[states["customers"] < 30])


def test_every_finding_kind_has_a_sentence_writer_and_the_stage_emits_only_declared_kinds(result):
    from segment_report.pipeline.stages.geography import FINDING_KINDS
    from segment_report.reports.narrative.geography import _WRITERS

    assert set(_WRITERS) == set(FINDING_KINDS)
    assert set(SPATIAL_SKIPPED) == set(SKIP_CODES)
    assert {f["kind"] for f in result.report["findings"]} <= set(FINDING_KINDS)
