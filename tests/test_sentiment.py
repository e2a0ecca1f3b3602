"""Tests of the sentiment stage: label mapping, robust text, cache, aggregation, models, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from segment_report.pipeline.cli import cli
from segment_report.pipeline.config import SentimentConfig, load_config
from segment_report.pipeline.errors import ConfigError, InputDataError
from segment_report.pipeline.stages.sentiment.cache import ScoreCache, score_cache, text_hash
from segment_report.pipeline.stages.sentiment.evaluate import classification_metrics, evaluate_labels
from segment_report.pipeline.stages.sentiment.labels import (UNSCORABLE, band_labels, label_values,
                                                             labels_from_column, rating_to_label)
from segment_report.pipeline.stages.sentiment.model import SHIPPED_MODEL_DIR
from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer
from segment_report.pipeline.io.store import RunFolder, save_artefacts
from segment_report.pipeline.stages.sentiment.stage import aggregate_customers, run_sentiment_stage
from segment_report.pipeline.stages.sentiment.text import clean_text
from segment_report.pipeline.stages.sentiment.train import (TrainConfig, split_indices, stratified_split,
                                                            tune_neutral_band)

POSITIVE = ["I love this dress, it is beautiful and fits perfectly.",
            "Great quality, wonderful colour, very happy with it!",
            "Excellent service, fast delivery, highly recommend."]
NEGATIVE = ["Terrible quality, it fell apart and I hate it.",
            "Awful fit, horrible fabric, very disappointed.",
            "Worst purchase ever, broken and useless."]


# --------------------------------------------------------------------------- label mapping

def test_rating_to_label_default_and_custom_mapping():
    ratings = pd.Series([1, 2, 3, 4, 5, np.nan, 4.5, 2.0])
    got = rating_to_label(ratings, (1, 2), (3,), (4, 5)).tolist()
    assert got[:5] == ["negative", "negative", "neutral", "positive", "positive"]
    assert pd.isna(got[5]) and pd.isna(got[6]) and got[7] == "negative"
    custom = rating_to_label(pd.Series([1, 2, 3, 4, 5]), (1,), (2, 3), (4, 5)).tolist()
    assert custom == ["negative", "neutral", "neutral", "positive", "positive"]
    with pytest.raises(ConfigError, match="both negative and neutral"):
        rating_to_label(ratings, (1, 2), (2, 3), (4, 5))


def test_config_rejects_overlapping_ratings_and_bad_band():
    with pytest.raises(ConfigError, match="rating 3 is in both"):
        load_config(None, {"sentiment.neutral_ratings": [3], "sentiment.positive_ratings": [3, 4, 5]})
    with pytest.raises(ConfigError, match="neutral_band"):
        load_config(None, {"sentiment.neutral_band": [0.7, 0.3]})
    cfg = load_config(None, {"sentiment.neutral_band": [0.3, 0.7], "sentiment.model": "vader"})
    assert cfg.sentiment.neutral_band == (0.3, 0.7)


def test_labels_from_column_accepts_words_and_ratings():
    words = labels_from_column(pd.Series(["Positive", "neg", "NEUTRAL", "good", "??", None]))
    assert words.tolist()[:5] == ["positive", "negative", "neutral", "positive", pd.NA] or \
        words.tolist()[:4] == ["positive", "negative", "neutral", "positive"]
    assert words.isna().sum() == 2
    stars = labels_from_column(pd.Series([1, 3, 5, 2]))
    assert stars.tolist() == ["negative", "neutral", "positive", "negative"]
    with pytest.raises(InputDataError, match="no usable labels"):
        labels_from_column(pd.Series(["x", "y"]))


@pytest.mark.parametrize("id2label, expected", [
    ({0: "NEGATIVE", 1: "POSITIVE"}, [0.0, 1.0]),
    ({0: "LABEL_0", 1: "LABEL_1"}, [0.0, 1.0]),
    ({0: "negative", 1: "neutral", 2: "positive"}, [0.0, 0.5, 1.0]),
    ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, [0.0, 0.5, 1.0]),
    ({0: "1 star", 1: "2 stars", 2: "3 stars", 3: "4 stars", 4: "5 stars"}, [0, .25, .5, .75, 1]),
])
def test_label_values_maps_common_heads(id2label, expected):
    assert label_values(id2label) == pytest.approx(expected)


def test_label_values_rejects_unknown_labels():
    with pytest.raises(ConfigError, match="cannot map the model's labels"):
        label_values({0: "sports", 1: "politics"})


def test_band_labels_and_unscorable():
    got = band_labels(np.array([0.1, 0.5, 0.9, np.nan]), (0.3, 0.7)).tolist()
    assert got == ["negative", "neutral", "positive", UNSCORABLE]
    # a degenerate band gives a pure 2-class rule
    assert band_labels(np.array([0.49, 0.51]), (0.5, 0.5)).tolist() == ["negative", "positive"]


def test_metrics_split_and_band_tuning():
    m = classification_metrics(["negative", "positive", "positive", "neutral"],
                               ["negative", "positive", "negative", UNSCORABLE],
                               ["negative", "neutral", "positive"])
    assert m["accuracy"] == 0.5 and m["confusion_matrix"]["rows_true_cols_pred"][2] == [1, 0, 1]
    labels = pd.Series(["negative"] * 30 + ["neutral"] * 20 + ["positive"] * 50)
    rest, test = stratified_split(labels, 0.2, seed=3)
    assert len(test) == 20 and set(labels[test].value_counts().to_dict().values()) == {6, 4, 10}
    again = stratified_split(labels, 0.2, seed=3)[1]
    assert np.array_equal(test, again)
    frame = pd.DataFrame({"label": labels})
    tr, va, te = split_indices(frame, TrainConfig(test_size=0.2, val_size=0.25))
    assert not (set(tr) & set(va)) and not (set(tr) & set(te)) and len(tr) + len(va) + len(te) == 100
    rng = np.random.default_rng(0)
    prob = np.r_[rng.uniform(0, .3, 30), rng.uniform(.4, .6, 20), rng.uniform(.7, 1, 50)]
    low, high = tune_neutral_band(prob, labels)
    assert 0.3 <= low <= 0.4 and 0.6 <= high <= 0.7


# --------------------------------------------------------------------------- robust text

@pytest.mark.parametrize("text, clean_is_none, kind", [
    (None, True, "missing_text"),
    (float("nan"), True, "missing_text"),
    ("", True, "empty"),
    ("   \n\t ", True, "empty"),
    ("😍😍🔥", True, "no_letters"),
    ("12345 !!!", True, "no_letters"),
    ("\x00\x01\x02\x03\x04\x05\x06 ab", True, "binary_garbage"),
    (b"\xff\xfe\xfd\xfc".decode("utf-8", errors="replace"), True, "binary_garbage"),
    ("<p>Great <b>fit</b> &amp; colour</p>", False, "html_stripped"),
    ("这件衣服质量很好，非常喜欢", False, "non_latin_script"),
    ("El vestido es precioso y la tela muy suave, lo recomiendo", False, "likely_non_english"),
])
def test_clean_text_kinds(text, clean_is_none, kind):
    clean, kinds = clean_text(text)
    assert (clean is None) == clean_is_none
    assert kind in kinds


def test_clean_text_strips_html_and_cuts_very_long_text():
    clean, _ = clean_text("<div><script>var x=1;</script>Love it &lt;3</div>")
    assert clean == "Love it <3"
    long_text = "good " * 10000
    clean, kinds = clean_text(long_text, max_chars=500)
    assert len(clean) <= 500 and kinds == []


def test_control_character_class_matches_unicodedata_for_every_code_point():
    # clean_text finds garbage with one regex class; it must be exactly categories Cc, Cs, Co + U+FFFD
    from segment_report.pipeline.stages.sentiment.text import _BAD_ANY

    wrong = [cp for cp in range(0x110000)
             if (cp == 0xFFFD or unicodedata.category(chr(cp)) in ("Cc", "Cs", "Co"))
             != bool(_BAD_ANY.fullmatch(chr(cp)))]
    assert wrong == []


def test_clean_text_garbage_share_ignores_line_breaks_and_tabs():
    # 3 of 10 characters are control characters: garbage; line breaks and tabs do not count
    assert clean_text("abcdefg\x01\x02\x03")[1] == ["binary_garbage"]
    assert clean_text("ab\n\t\r\n\t\rcdefg hij")[0] == "ab cdefg hij"
    assert clean_text("good \x07value dress")[0] == "good value dress"


# --------------------------------------------------------------------------- VADER scorer, cache

def test_vader_scorer_scores_orders_and_counts(tmp_path):
    scorer = SentimentScorer(SentimentConfig(model="vader"))
    texts = POSITIVE + NEGATIVE + ["", "😍", None, POSITIVE[0], "word " * 10000]
    scores, quality, stats = scorer.score(texts, progress=None)
    p = scores["positive_prob"].to_numpy()
    assert p[:3].min() > 0.6 and p[3:6].max() < 0.4
    assert scores["label"].tolist()[:6] == ["positive"] * 3 + ["negative"] * 3
    assert np.isnan(p[6:9]).all() and scores["label"].tolist()[6:9] == [UNSCORABLE] * 3
    assert p[9] == p[0]
    assert quality["unscorable"] == 3 and quality["duplicate_texts"] == 1
    assert quality["empty"] == 1 and quality["no_letters"] == 1 and quality["missing_text"] == 1
    assert stats.unique_texts == 7 and stats.scored_now == 7 and stats.cached == 0


def test_cache_hits_misses_and_model_key(tmp_path):
    cfg = SentimentConfig(model="vader")
    with score_cache(cfg, tmp_path) as cache:
        first = SentimentScorer(cfg, cache)
        s1, _, st1 = first.score(POSITIVE + NEGATIVE, progress=None)
    assert (st1.cached, st1.scored_now) == (0, 6)
    with score_cache(cfg, tmp_path) as cache:  # a new process would see the same sqlite file
        again = SentimentScorer(cfg, cache)
        s2, _, st2 = again.score(POSITIVE + NEGATIVE + ["A brand new review, quite nice."], progress=None)
    assert (st2.cached, st2.scored_now) == (6, 1)
    np.testing.assert_allclose(s2["positive_prob"].to_numpy()[:6], s1["positive_prob"].to_numpy())
    # the key is (model id, text hash): another model id never sees these rows
    cache = ScoreCache(tmp_path)
    h = text_hash(POSITIVE[0], 0)
    assert h in cache.get(first.model_id, [h])
    assert cache.get("some-other-model", [h]) == {}
    cache.close()
    off_cfg = cfg.model_copy(update={"cache": False})
    with score_cache(off_cfg, tmp_path) as no_cache:
        off = SentimentScorer(off_cfg, no_cache)
        _, _, st3 = off.score(POSITIVE, progress=None)
    assert no_cache is None and st3.cached == 0


# --------------------------------------------------------------------------- aggregation, stage

@pytest.fixture
def reviews() -> pd.DataFrame:
    return pd.DataFrame({
        "review_id": [f"r{i}" for i in range(7)],
        "customer_id": ["c1", "c1", "c2", "c2", "c3", "c4", "zz"],
        "date": pd.to_datetime(["2026-10-30", "2025-10-30", "2026-10-01", None, "2026-09-01",
                                "2026-09-01", "2026-09-01"]),
        "text": [POSITIVE[0], NEGATIVE[0], NEGATIVE[1], NEGATIVE[2], "", "<b>Excellent</b>!", "ok"],
        "rating": [5, 1, 2, 1, 3, 5, np.nan],
    })


def test_aggregate_customers_missing_recency_and_share_negative(reviews):
    scored = reviews.assign(positive_prob=[0.9, 0.1, 0.2, 0.3, np.nan, 0.8, 0.6],
                            label=["positive", "negative", "negative", "negative", UNSCORABLE,
                                   "positive", "neutral"])
    ids = pd.Series(["c1", "c2", "c3", "c4", "c5"])
    out, summary = aggregate_customers(scored, ids, pd.Timestamp("2026-10-31"), 90.0)
    out = out.set_index("customer_id")
    assert list(out.index) == ["c1", "c2", "c3", "c4", "c5"]
    assert out.loc["c1", "positive_prob"] == pytest.approx(0.5)
    assert out.loc["c1", "positive_prob_recent"] > 0.85  # a year-old review weighs ~6 %
    assert out.loc["c2", "share_negative"] == 1.0 and out.loc["c1", "share_negative"] == 0.5
    assert out.loc["c2", "scored_reviews"] == 2
    missing = out[out["sentiment_missing"]]
    assert set(missing.index) == {"c3", "c5"}
    mean_pp = np.mean([0.5, 0.25, 0.8])
    assert missing["positive_prob"].tolist() == pytest.approx([mean_pp, mean_pp])
    assert summary["imputed_values"]["positive_prob"] == pytest.approx(mean_pp)
    assert summary["sentiment_missing"] == 2 and summary["reviews_of_unknown_customers"] == 1


def test_aggregate_without_any_review_gives_nan_not_half():
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype="string"), "date": pd.Series([], dtype="datetime64[ns]"),
                          "positive_prob": pd.Series([], dtype=float), "label": pd.Series([], dtype="string")})
    out, _ = aggregate_customers(empty, pd.Series(["a", "b"]), pd.Timestamp("2026-10-31"), 90.0)
    assert out["sentiment_missing"].all() and out["positive_prob"].isna().all()


def test_stage_with_vader_outputs_save_and_reload(reviews, tmp_path):
    cfg = SentimentConfig(model="vader")
    ids = pd.Series(["c1", "c2", "c3", "c4", "c5"])
    with score_cache(cfg, tmp_path / "cache") as cache:
        res = run_sentiment_stage(reviews, ids, pd.Timestamp("2026-10-31"), cfg, cache, seed=1)
    assert {"positive_prob", "label"} <= set(res.reviews.columns) and len(res.reviews) == 7
    assert list(res.customers.columns) == ["customer_id", "positive_prob", "positive_prob_recent",
                                           "share_negative", "scored_reviews", "sentiment_missing"]
    assert res.customers.set_index("customer_id").loc[["c3", "c5"], "sentiment_missing"].all()
    assert res.text_quality["empty"] == 1 and res.text_quality["html_stripped"] == 1
    assert res.report["model"]["model_id"].startswith("vader")
    assert res.report["agreement_with_ratings"]["n"] == 6
    assert res.report["customers"]["sentiment_missing"] == 2
    with score_cache(cfg, tmp_path / "cache") as cache:  # a later run opens the same cache
        again = run_sentiment_stage(reviews, ids, pd.Timestamp("2026-10-31"), cfg, cache, seed=1)
    assert again.report["scoring"]["cached"] == again.report["scoring"]["unique_texts"]
    pd.testing.assert_frame_equal(res.customers, again.customers)
    folder = RunFolder(tmp_path / "run").create()
    save_artefacts(folder, {"sentiment": {**res.report, "text_quality": res.text_quality},
                            "customer_sentiment": res.customers})
    assert folder.read_document("sentiment")["text_quality"]["empty"] == 1
    pd.testing.assert_frame_equal(pd.read_parquet(folder.result("customer_sentiment.parquet")), res.customers)


def test_stage_rejects_missing_text_column(reviews):
    with pytest.raises(InputDataError, match="lacks column"):
        run_sentiment_stage(reviews.drop(columns="text"), pd.Series(["c1"]), pd.Timestamp("2026-10-31"),
                            SentimentConfig(model="vader"), None, seed=1)


def test_fine_tune_without_ratings_is_skipped_with_reason(reviews):
    res = run_sentiment_stage(reviews.assign(rating=np.nan), pd.Series(["c1"]), pd.Timestamp("2026-10-31"),
                              SentimentConfig(model="vader", fine_tune=True), None, seed=1)
    assert res.report["fine_tune"]["status"] == "skipped"


# --------------------------------------------------------------------------- local checkpoints

def _tiny_checkpoint(path: Path, id2label: dict[int, str]) -> Path:
    """A randomly initialised 1-layer BERT classifier with the MiniLM vocabulary."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from segment_report.pipeline.stages.sentiment.model import base_model_path

    torch.manual_seed(0)
    tok = BertTokenizerFast(vocab_file=str(base_model_path() / "vocab.txt"), do_lower_case=True)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                     num_labels=len(id2label), id2label=id2label,
                     label2id={v: k for k, v in id2label.items()})
    BertForSequenceClassification(cfg).save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return path


@pytest.mark.parametrize("id2label", [
    {0: "NEGATIVE", 1: "POSITIVE"},
    {0: "negative", 1: "neutral", 2: "positive"},
    {0: "1 star", 1: "2 stars", 2: "3 stars", 3: "4 stars", 4: "5 stars"},
])
def test_local_checkpoint_scores_in_unit_interval(tmp_path, id2label):
    ckpt = _tiny_checkpoint(tmp_path / "ckpt", id2label)
    scorer = SentimentScorer(SentimentConfig(model=str(ckpt), max_length=32), ScoreCache(tmp_path / "cache"))
    texts = POSITIVE + NEGATIVE + ["", "word " * 2000]
    scores, quality, _ = scorer.score(texts, progress=None)
    p = scores["positive_prob"].to_numpy()
    assert np.all((p[:6] >= 0) & (p[:6] <= 1)) and np.isnan(p[6])
    assert set(scores["label"]) <= {"negative", "neutral", "positive", UNSCORABLE}
    assert quality["truncated"] >= 1
    assert scorer.model_id.startswith("hf-") and scorer.describe()["card"]["label_values"][0] == 0.0
    # same texts, any batch size: dynamic padding and length sorting do not change scores
    other = SentimentScorer(SentimentConfig(model=str(ckpt), max_length=32, batch_size=1), None)
    np.testing.assert_allclose(other.score(texts, progress=None)[0]["positive_prob"], p, atol=1e-5)


def test_local_checkpoint_quantized_close_to_fp32(tmp_path):
    ckpt = _tiny_checkpoint(tmp_path / "ckpt", {0: "NEGATIVE", 1: "POSITIVE"})
    fp32 = SentimentScorer(SentimentConfig(model=str(ckpt)), None).score(POSITIVE, progress=None)[0]
    for precision in ("int8", "bf16"):
        q = SentimentScorer(SentimentConfig(model=str(ckpt), precision=precision), None, device="cpu")
        low = q.score(POSITIVE, progress=None)[0]
        assert q.model_id.endswith(f"-{precision}") and q.describe()["precision"] == precision
        np.testing.assert_allclose(low["positive_prob"], fp32["positive_prob"], atol=0.05)


def test_model_that_is_not_a_checkpoint_is_a_config_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a Hugging Face checkpoint"):
        SentimentScorer(SentimentConfig(model=str(tmp_path / "empty")))
    with pytest.raises(ConfigError, match="is not 'default', 'vader' or a folder"):
        SentimentScorer(SentimentConfig(model=str(tmp_path / "nope")))


# --------------------------------------------------------------------------- CLI

def test_cli_score_and_evaluate_with_vader(tmp_path):
    df = pd.DataFrame({"body": POSITIVE + NEGATIVE + [""], "stars": [5, 4, 5, 1, 2, 1, 3]})
    src = tmp_path / "reviews.csv"
    df.to_csv(src, index=False)
    runner = CliRunner()
    res = runner.invoke(cli, ["sentiment", "score", str(src), "--text-col", "body", "--model", "vader"])
    assert res.exit_code == 0, res.output
    out = pd.read_csv(tmp_path / "reviews.scored.csv")
    assert list(out.columns) == ["body", "stars", "positive_prob", "label"]
    assert out["label"].iloc[-1] == UNSCORABLE and "unscorable 1" in res.output
    res = runner.invoke(cli, ["sentiment", "score", str(src), "--text-col", "body", "--model", "vader",
                              "--out", str(tmp_path / "o.parquet")])
    assert res.exit_code == 0 and len(pd.read_parquet(tmp_path / "o.parquet")) == 7
    res = runner.invoke(cli, ["sentiment", "evaluate", str(src), "--text-col", "body",
                              "--label-col", "stars", "--model", "vader"])
    assert res.exit_code == 0, res.output
    assert "macro-F1" in res.output and "confusion matrix" in res.output
    res = runner.invoke(cli, ["sentiment", "score", str(src), "--text-col", "nope", "--model", "vader"])
    assert res.exit_code == 2 and "column 'nope' not found" in res.output


def test_evaluate_labels_binary_when_no_neutral():
    true = pd.Series(["positive", "negative", "positive"])
    scores = pd.DataFrame({"positive_prob": [0.55, 0.45, np.nan],
                           "label": ["neutral", "neutral", UNSCORABLE]})
    m = evaluate_labels(true, scores)
    assert m["mode"].startswith("binary") and m["accuracy"] == pytest.approx(2 / 3)
    assert m["unscorable"] == 1


# --------------------------------------------------------------------------- the shipped model

_NO_NETWORK = textwrap.dedent("""
    import socket
    def _blocked(*args, **kwargs):
        raise RuntimeError("network access attempted")
    socket.socket.connect = _blocked
    socket.socket.connect_ex = _blocked
    socket.create_connection = _blocked
    socket.getaddrinfo = _blocked
    import json
    from segment_report.pipeline.config import SentimentConfig
    from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer
    s = SentimentScorer(SentimentConfig())
    sc, q, st = s.score(["I absolutely love it, perfect fit and great quality!",
                         "Horrible. Cheap fabric, it ripped after one wash. Returned it.",
                         "", "excellent", "bad"], progress=None)
    print(json.dumps({"p": sc["positive_prob"].tolist(), "label": sc["label"].tolist(),
                      "id": s.model_id}))
""")


def test_shipped_model_weights_are_not_loaded_when_every_text_is_cached(tmp_path):
    cache = ScoreCache(tmp_path)
    scorer = SentimentScorer(SentimentConfig(), cache)
    texts = ["Lovely soft fabric.", "Fell apart after one wash.", "Lovely soft fabric."]
    ml = scorer.cfg.max_length
    cache.put(scorer.model_id, [(text_hash(clean_text(t)[0], ml), p, lab)
                                for t, p, lab in zip(texts[:2], (0.9, 0.1), ("positive", "negative"))])
    scores, quality, stats = scorer.score(texts, progress=None)
    assert scorer._model is None  # nothing to score: the network was never built
    assert scores["positive_prob"].tolist() == [0.9, 0.1, 0.9]
    assert stats.cached == 2 and stats.scored_now == 0 and quality["duplicate_texts"] == 1


@pytest.mark.slow
def test_shipped_model_loads_offline_without_network_or_hf_cache(tmp_path):
    assert (SHIPPED_MODEL_DIR / "adapter_model.safetensors").stat().st_size < 10 * 2**20
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf"), "TRANSFORMERS_CACHE": str(tmp_path / "hf" / "hub"),
           "HF_HUB_CACHE": str(tmp_path / "hf" / "hub")}
    proc = subprocess.run([sys.executable, "-c", _NO_NETWORK], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    p = out["p"]
    assert p[0] > 0.8 and p[1] < 0.2 and p[3] > 0.5 and p[4] < 0.5
    assert out["label"][0] == "positive" and out["label"][1] == "negative"
    assert np.isnan(p[2]) and out["label"][2] == UNSCORABLE
    assert not any((tmp_path / "hf").rglob("*"))  # nothing was cached or downloaded


@pytest.mark.slow
def test_stage_fine_tunes_on_rated_reviews_and_keeps_the_better_model(tmp_path):
    rng = np.random.default_rng(0)
    pos = ["lovely soft sweater, fits great", "beautiful colour and great fit", "perfect, love it",
           "so comfortable and pretty", "great value, would buy again"]
    neg = ["cheap fabric, ripped fast", "awful fit, sending it back", "poor quality, disappointed",
           "the seams came apart", "not as pictured, returned"]
    rows = [(t, int(rng.choice([4, 5]))) for t in pos * 6] + [(t, int(rng.choice([1, 2]))) for t in neg * 6]
    df = pd.DataFrame(rows, columns=["text", "rating"])
    df["customer_id"] = [f"c{i % 7}" for i in range(len(df))]
    df["date"] = pd.Timestamp("2026-10-01")
    cfg = SentimentConfig(fine_tune=True, fine_tune_epochs=1, max_length=32)
    with score_cache(cfg, tmp_path) as cache:
        res = run_sentiment_stage(df, pd.Series([f"c{i}" for i in range(8)]), pd.Timestamp("2026-10-31"),
                                  cfg, cache, seed=3, work_dir=tmp_path)
    ft = res.report["fine_tune"]
    assert ft["status"] == "done" and ft["kept"] in ("fine_tuned", "configured")
    for key in ("configured_model", "fine_tuned_model"):
        m = ft[key]["metrics"]
        assert m["n"] == ft["held_out_rows"] and "confusion_matrix" in m and "per_class" in m
    assert (tmp_path / "fine-tuned").is_dir()
    card = ft["fine_tuned_model"]["card"]
    assert 0 < card["reference_positive_share"] < 1 and 0 < card["reference_positive_share_int8"] < 1
    assert res.report["model"]["model_id"] == ft[f"{'fine_tuned' if ft['kept'] == 'fine_tuned' else 'configured'}_model"]["model_id"]


def test_join_title_and_review_texts():
    from segment_report.pipeline.stages.sentiment.text import join_title, review_texts

    assert join_title("Love it", "Fits well") == "Love it. Fits well"
    assert join_title("Wow!", "Fits") == "Wow! Fits"
    assert join_title(None, "Fits") == join_title("  ", "Fits") == "Fits"
    frame = pd.DataFrame({"t": ["Great", None], "x": ["soft", "thin"]})
    assert review_texts(frame, "x") == ["soft", "thin"]
    assert review_texts(frame, "x", "t") == ["Great. soft", "thin"]


@pytest.mark.slow  # the shipped model
def test_cpu_precision_is_bf16_where_native_else_int8_only_where_its_band_was_measured(monkeypatch):
    import torch

    from segment_report.pipeline.config import SentimentConfig
    from segment_report.pipeline.stages.sentiment.model import SHIPPED_MODEL_DIR, auto_precision
    from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer

    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert auto_precision("cpu", True) == ("bf16" if native else "int8")
    assert auto_precision("cpu", False) == ("bf16" if native else "fp32")
    assert auto_precision("cuda", True) == "fp32"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert auto_precision("cpu", True) == "int8" and auto_precision("cpu", False) == "fp32"

    card = json.loads((SHIPPED_MODEL_DIR / "model_card.json").read_text())
    auto = SentimentScorer(SentimentConfig(), None, device="cpu")
    assert auto.precision == "int8" and auto.model_id.endswith("-int8")
    assert list(auto.band) == card["neutral_band_int8"]
    texts = ["Love it, fits perfectly and the fabric is soft.", "Terrible quality, it ripped after one wash."]
    a, _, _ = auto.score(texts, progress=None)
    for precision in ("fp32", "bf16"):
        other = SentimentScorer(SentimentConfig(precision=precision), None, device="cpu")
        assert other.precision == precision and list(other.band) == card["neutral_band"]
        b, _, _ = other.score(texts, progress=None)
        assert a["label"].tolist() == b["label"].tolist() == ["positive", "negative"]
        assert abs(a["positive_prob"] - b["positive_prob"]).max() < 0.1
    with pytest.raises(ConfigError, match="int8 works on the CPU only"):
        SentimentScorer(SentimentConfig(precision="int8"), None, device="cuda")


@pytest.mark.parametrize("share", [0.15, 0.5, 0.88])
def test_positive_share_estimate_recovers_the_planted_share(share):
    from segment_report.pipeline.stages.sentiment.scorer import estimate_positive_share, shift_prob

    rng = np.random.default_rng(7)
    positive = rng.random(6000) < share
    # two Gaussian classes: sigmoid of the log-likelihood ratio is the calibrated probability
    # under a 50/50 prior, which the card's offset then moves to an 88 % positive prior
    z = np.where(positive, 1.0, -1.0) + rng.normal(0.0, 1.0, positive.size)
    balanced = 1.0 / (1.0 + np.exp(-2.0 * z))
    carded = shift_prob(balanced, 2.0)
    assert estimate_positive_share(carded, 2.0) == pytest.approx(positive.mean(), abs=0.02)
    # the estimate does not depend on the offset the model shipped with
    assert estimate_positive_share(shift_prob(balanced, 0.5), 0.5) == pytest.approx(
        estimate_positive_share(carded, 2.0), abs=1e-6)


@pytest.mark.slow  # the shipped model
def test_scores_adapt_to_the_scored_sets_own_share_of_positive_texts():
    from segment_report.pipeline.config import SentimentConfig
    from segment_report.pipeline.stages.sentiment.labels import band_labels
    from segment_report.pipeline.stages.sentiment.scorer import PRIOR_MIN_TEXTS, SentimentScorer

    negative = ["Terrible quality, it ripped after one wash.", "The seams came apart, returned it.",
                "Way too small and the colour is dull.", "Cheap fabric, very disappointed.",
                "Arrived late and damaged.", "Not as pictured, poor fit."]
    texts = (negative * 6 + POSITIVE[:2]) * 6  # about 95 % negative
    assert len(texts) >= PRIOR_MIN_TEXTS
    adapted = SentimentScorer(SentimentConfig(), None, device="cpu")
    fixed = SentimentScorer(SentimentConfig(adapt_prior=False), None, device="cpu")
    a, _, _ = adapted.score(texts, progress=None)
    b, _, _ = fixed.score(texts, progress=None)
    prior = adapted.describe()["prior_adjustment"]
    assert prior["applied"] and prior["texts"] == len(texts)
    assert prior["estimated_positive_share"] < 0.3 < prior["reference_positive_share"]
    assert prior["logit_shift"] < 0 and fixed.describe()["prior_adjustment"] is None
    # a mostly negative set moves every score down, keeps their order, and relabels with the band
    pa, pb = a["positive_prob"].to_numpy(), b["positive_prob"].to_numpy()
    assert np.all(pa < pb) and np.array_equal(np.argsort(pa, kind="stable"), np.argsort(pb, kind="stable"))
    assert a["label"].tolist() == list(band_labels(pa, adapted.band))
    # too few texts to estimate a share: the card's prior is kept
    few, _, _ = adapted.score(texts[:PRIOR_MIN_TEXTS - 1], progress=None)
    assert not adapted.prior["applied"]
    np.testing.assert_allclose(few["positive_prob"], pb[:PRIOR_MIN_TEXTS - 1])
