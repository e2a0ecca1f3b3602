"""The sentiment stage: score every review of the run, aggregate per customer, report.

Customers without a scored review get ``sentiment_missing = True`` and the population mean of
the scored customers (not 0.5) in ``positive_prob``, ``positive_prob_recent`` and
``share_negative``, so a value model sees both the flag and a neutral-for-the-data imputation.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.config import SentimentConfig
from segment_report.pipeline.errors import InputDataError
from segment_report.pipeline.log import logger
from segment_report.pipeline.stages.sentiment.cache import ScoreCache
from segment_report.pipeline.stages.sentiment.evaluate import evaluate_labels
from segment_report.pipeline.stages.sentiment.labels import star_labels
from segment_report.pipeline.stages.sentiment.model import SHIPPED_MODEL_DIR
from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer
from segment_report.pipeline.stages.sentiment.text import clean_text


def aggregate_customers(reviews: pd.DataFrame, customer_ids: pd.Series, as_of: pd.Timestamp,
                        half_life_days: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-customer sentiment from scored reviews.

    Args:
        reviews: columns customer_id, date (may be NaT), positive_prob (NaN = unscorable), label.
        customer_ids: every customer of the analysis (customers without reviews included).
        as_of: end of the analysis window; review age is measured from here.
        half_life_days: a review this old weighs half as much in ``positive_prob_recent``.
            Undated reviews weigh as much as the oldest dated review in the data.

    Returns:
        ``(customers, summary)``: one row per customer id (customer_id, positive_prob,
        positive_prob_recent, share_negative, scored_reviews, sentiment_missing) and the
        imputation facts.
    """
    ids = pd.Series(pd.unique(customer_ids.astype("string").dropna()), dtype="string")
    scored = reviews.loc[reviews["positive_prob"].notna(),
                         ["customer_id", "date", "positive_prob", "label"]].copy()
    scored["customer_id"] = scored["customer_id"].astype("string")
    dates = pd.to_datetime(scored["date"], errors="coerce")
    age = (pd.Timestamp(as_of) - dates).dt.total_seconds() / 86400.0
    age = age.clip(lower=0)
    weight = np.power(0.5, age / half_life_days)
    weight = weight.fillna(weight.min() if weight.notna().any() else 1.0)
    scored["w"] = weight.to_numpy()
    scored["wp"] = scored["w"] * scored["positive_prob"]
    scored["neg"] = (scored["label"] == "negative").astype(float)
    g = scored.groupby("customer_id", sort=False)
    agg = pd.DataFrame({"positive_prob": g["positive_prob"].mean(),
                        "positive_prob_recent": g["wp"].sum() / g["w"].sum(),
                        "share_negative": g["neg"].mean(),
                        "scored_reviews": g.size()})
    out = pd.DataFrame({"customer_id": ids})
    out = out.merge(agg, left_on="customer_id", right_index=True, how="left")
    out["scored_reviews"] = out["scored_reviews"].fillna(0).astype("int64")
    out["sentiment_missing"] = out["positive_prob"].isna()
    present = out.loc[~out["sentiment_missing"]]
    imputed = {c: (float(present[c].mean()) if len(present) else float("nan"))
               for c in ("positive_prob", "positive_prob_recent", "share_negative")}
    for col, val in imputed.items():
        out[col] = out[col].astype(float).fillna(val)
    summary = {"customers": int(len(out)), "with_sentiment": int(len(present)),
               "sentiment_missing": int(out["sentiment_missing"].sum()),
               "imputation": "population mean of customers with a scored review",
               "imputed_values": imputed, "recency_half_life_days": half_life_days,
               "reviews_of_unknown_customers": int((~scored["customer_id"].isin(set(ids))).sum())}
    return out.reset_index(drop=True), summary




@dataclass
class SentimentResult:
    """Output of :func:`run_sentiment_stage`.

    Attributes:
        reviews: the input reviews plus ``positive_prob`` and ``label``.
        customers: customer_id, positive_prob, positive_prob_recent, share_negative,
            scored_reviews, sentiment_missing.
        report: the content of results/sentiment.json (model card, scoring figures, metrics).
        text_quality: counts of robust-text cases (for data_quality.json).
    """

    reviews: pd.DataFrame
    customers: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)
    text_quality: dict[str, int] = field(default_factory=dict)


def _fine_tune_and_choose(reviews: pd.DataFrame, cfg: SentimentConfig, scorer: SentimentScorer,
                          cache: ScoreCache | None, work_dir: Path | None,
                          seed: int) -> tuple[SentimentScorer, dict[str, Any]]:
    """Fine-tune on the user's rated reviews; keep whichever model scores better on held-out data
    (the fine-tuned model goes to ``work_dir/fine-tuned``, or a temporary folder)."""
    import tempfile

    from segment_report.pipeline.stages.sentiment.train import (TrainConfig, prepare_training_frame,
                                                                 split_indices, train_sentiment_model)

    tcfg = TrainConfig(epochs=cfg.fine_tune_epochs, seed=seed, threads=cfg.threads,
                       max_length=min(cfg.max_length, 128), test_size=cfg.fine_tune_test_size,
                       time_budget_s=cfg.fine_tune_max_minutes * 60,
                       negative_ratings=cfg.negative_ratings, neutral_ratings=cfg.neutral_ratings,
                       positive_ratings=cfg.positive_ratings)
    # train on the same cleaned text the scorer sees (HTML stripped, garbage dropped)
    data = pd.DataFrame({"text": pd.array([clean_text(t)[0] for t in reviews["text"]], dtype="string"),
                         "rating": reviews["rating"].to_numpy()})
    try:
        frame = prepare_training_frame(data, "text", "rating", None, tcfg)
    except InputDataError as exc:
        return scorer, {"status": "skipped", "reason": exc.problem}
    _, _, test_idx = split_indices(frame, tcfg)
    test = frame.iloc[test_idx]
    three = (test["label"] == "neutral").any()
    key = "three_class" if three else "binary"

    def held_out(s: SentimentScorer) -> dict[str, Any]:
        sc, _, _ = s.score(test["text"].tolist(), progress="evaluating on held-out reviews")
        return evaluate_labels(test["label"].reset_index(drop=True), sc)

    base_metrics = held_out(scorer)
    root = Path(work_dir) / "fine-tuned" if work_dir is not None else Path(tempfile.mkdtemp())
    out_dir = root / hashlib.sha256(pd.util.hash_pandas_object(frame).values.tobytes()
                                    + str((tcfg, seed)).encode()).hexdigest()[:16]
    init = SHIPPED_MODEL_DIR if (SHIPPED_MODEL_DIR / "adapter_config.json").exists() else None
    result = train_sentiment_model(data, "text", "rating", out_dir, cfg=tcfg, init_adapter=init,
                                   training_data="the user's rated reviews (this run)")
    tuned = SentimentScorer(cfg.model_copy(update={"model": str(out_dir), "neutral_band": None}),
                            cache, read_cache=scorer.read_cache)
    tuned_metrics = held_out(tuned)
    keep_tuned = (tuned_metrics["macro_f1"] or 0) > (base_metrics["macro_f1"] or 0)
    report = {"status": "done", "held_out_rows": int(len(test)), "compared_on": key,
              "configured_model": {"model_id": scorer.model_id, "metrics": base_metrics},
              "fine_tuned_model": {"model_id": tuned.model_id, "metrics": tuned_metrics,
                                   "card": result.card},
              "kept": "fine_tuned" if keep_tuned else "configured"}
    return (tuned if keep_tuned else scorer), report


def run_sentiment_stage(reviews: pd.DataFrame, customer_ids: pd.Series, as_of: pd.Timestamp,
                        cfg: SentimentConfig, cache: ScoreCache | None, seed: int,
                        refresh: bool = False, work_dir: Path | None = None,
                        executor: Any = None) -> SentimentResult:
    """The sentiment stage: score every review, aggregate per customer, report.

    The score cache is handed in, opened by the caller (``cache.score_cache``); with
    ``sentiment.fine_tune`` the fine-tuned model is written under ``work_dir``.

    Args:
        reviews: review_id, customer_id, date, text, rating (rating may be all NaN).
        customer_ids: every customer of the run, with or without reviews.
        as_of: end of the analysis window (for the recency weighting).
        cfg: the ``sentiment`` config section.
        cache: the open score cache, or ``None`` to score everything without one.
        seed: the run's seed (splits and fine-tuning).
        refresh: score every review again (``run --force``); the cache is rewritten, not read.
        work_dir: where a fine-tuned model is kept between runs (a temporary folder when ``None``).
        executor: where reviews not in the cache are scored (``pipeline.engine``; default here).

    Returns:
        :class:`SentimentResult`.

    Raises:
        InputDataError: a required review column is missing.
        ConfigError: the configured model cannot be loaded.
    """
    missing = [c for c in ("customer_id", "text") if c not in reviews.columns]
    if missing:
        raise InputDataError(f"reviews table lacks column(s) {missing}",
                             expected="review_id, customer_id, date, text, rating",
                             fix="map the review columns in input.reviews.columns")
    t0 = time.perf_counter()
    reviews = reviews.reset_index(drop=True).copy()
    if "date" not in reviews.columns:
        reviews["date"] = pd.NaT
    if "rating" not in reviews.columns:
        reviews["rating"] = np.nan
    report: dict[str, Any] = {}
    scorer = SentimentScorer(cfg, cache, read_cache=not refresh)
    has_ratings = pd.to_numeric(reviews["rating"], errors="coerce").notna().sum() > 0
    if cfg.fine_tune and has_ratings:
        scorer, report["fine_tune"] = _fine_tune_and_choose(reviews, cfg, scorer, cache, work_dir, seed)
    elif cfg.fine_tune:
        report["fine_tune"] = {"status": "skipped", "reason": "the reviews carry no ratings"}
    scores, quality, stats = scorer.score(reviews["text"].tolist(), executor=executor)
    reviews["positive_prob"] = scores["positive_prob"].to_numpy()
    reviews["label"] = scores["label"].to_numpy()
    customers, cust_summary = aggregate_customers(reviews, customer_ids, as_of,
                                                  cfg.recency_half_life_days)
    report["model"] = scorer.describe()
    report["scoring"] = stats.as_dict()
    report["customers"] = cust_summary
    report["label_counts"] = {k: int(v) for k, v in reviews["label"].value_counts().items()}
    if has_ratings:
        true = star_labels(reviews["rating"], cfg)
        if true.notna().any():
            report["agreement_with_ratings"] = evaluate_labels(true, scores)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    logger.info("sentiment: %d reviews (%d scored now, %d from cache), %d customers without sentiment",
                stats.texts, stats.scored_now, stats.cached, cust_summary["sentiment_missing"])
    return SentimentResult(reviews=reviews, customers=customers, report=report,
                           text_quality=quality)


# --------------------------------------------------------------------------- I/O
