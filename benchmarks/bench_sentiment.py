"""Sentiment benchmark: speed of our scorer vs a plain transformers pipeline, cache, accuracy.

Prints, on the real clothing reviews (held-out test split of the shipped model):

1. reviews/s and macro-F1 (ratings 1-2 vs 4-5) of (a) ``transformers.pipeline("text-classification")``
   with default settings and (b) our :class:`~segment_report.pipeline.stages.sentiment.scorer.SentimentScorer`, same merged
   model, same process, on the same sample; (b) with int8 dynamic quantisation too;
2. a cached re-run of (b) on the same reviews;
3. shipped model vs VADER on the whole held-out test split (binary and 3-class).

Usage::

    nice -n 10 python benchmarks/bench_sentiment.py --csv womens_clothing_reviews.csv --n 600
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segment_report.pipeline.config import SentimentConfig  # noqa: E402
from segment_report.pipeline.stages.sentiment.evaluate import evaluate_labels  # noqa: E402
from segment_report.pipeline.stages.sentiment.cache import ScoreCache  # noqa: E402
from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer  # noqa: E402
from segment_report.pipeline.stages.sentiment.train import TrainConfig, prepare_training_frame, split_indices

# The clothing reviews CSV: --csv, else $SEGMENT_REPORT_CLOTHING_CSV (no default path: data lives outside the project).
DEFAULT_CSV = Path(os.environ["SEGMENT_REPORT_CLOTHING_CSV"]) if os.environ.get("SEGMENT_REPORT_CLOTHING_CSV") else None


def held_out_split(csv: Path) -> pd.DataFrame:
    """The shipped model's untouched test split (same seed and stratification as training)."""
    df = pd.read_csv(csv)
    cfg = TrainConfig()
    frame = prepare_training_frame(df, "Review Text", "Rating", "Title", cfg)
    _, _, test_idx = split_indices(frame, cfg)
    return frame.iloc[test_idx].reset_index(drop=True)


def main() -> None:
    """Run the benchmark and print the figures (and one JSON line at the end)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, required=DEFAULT_CSV is None,
                    help="the clothing reviews CSV (default: $SEGMENT_REPORT_CLOTHING_CSV)")
    ap.add_argument("--n", type=int, default=600, help="reviews in the speed sample")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-full", action="store_true", help="skip the full test-split evaluation")
    ap.add_argument("--skip-speed", action="store_true", help="skip the speed comparison")
    ap.add_argument("--interleave", type=int, default=0,
                    help="also time (a) and (b) alternately on this many chunks (fairer on a shared machine)")
    ap.add_argument("--shipped-from-card", action="store_true",
                    help="take the shipped model's full-split metrics from its model card (computed "
                         "on the same split at the end of training) instead of re-scoring 4.5k reviews")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    test = held_out_split(args.csv)
    polar = test[test["label"] != "neutral"]
    rng = np.random.default_rng(0)
    sample = polar.iloc[np.sort(rng.choice(len(polar), size=min(args.n, len(polar)), replace=False))]
    texts = sample["text"].tolist()
    truth = sample["label"].reset_index(drop=True)
    out: dict = {"threads": args.threads, "sample": len(texts),
                 "sample_classes": truth.value_counts().to_dict()}
    print(f"held-out test split: {len(test)} reviews ({len(polar)} rated 1-2 or 4-5); "
          f"speed sample {len(texts)}, torch threads {args.threads}")

    if not args.skip_speed:
        speed(args, texts, truth, out)
    if args.interleave:
        interleaved(args, texts, out)
    if not args.skip_full:
        full_split(args, test, out)
    print(json.dumps(out, default=float))


def speed(args: argparse.Namespace, texts: list[str], truth: pd.Series, out: dict) -> None:
    """(a) transformers.pipeline vs (b) our scorer, cached re-run, each precision and max_length 128."""
    from transformers import pipeline

    cache = Path(tempfile.mkdtemp())
    ours = SentimentScorer(SentimentConfig(threads=args.threads), ScoreCache(cache))

    # (a) plain pipeline, default settings, on the same merged model in full precision (what a
    # user who loads the model with transformers gets; our default may use bf16 or int8)
    plain = SentimentScorer(SentimentConfig(threads=args.threads, precision="fp32"), None)
    pipe = pipeline("text-classification", model=plain._model, tokenizer=plain._tokenizer, device=-1)
    pipe(texts[:4])  # warm-up outside the timer, as for ours
    t0 = time.perf_counter()
    preds = pipe(texts)
    t_pipe = time.perf_counter() - t0
    p_pipe = np.array([p["score"] if p["label"] == "positive" else 1 - p["score"] for p in preds])
    m_pipe = evaluate_labels(truth, pd.DataFrame({"positive_prob": p_pipe, "label": "x"}))
    out["pipeline"] = {"seconds": t_pipe, "reviews_per_s": len(texts) / t_pipe, "macro_f1": m_pipe["macro_f1"]}
    print(f"(a) transformers.pipeline, defaults: {len(texts) / t_pipe:7.1f} reviews/s, "
          f"macro-F1 {m_pipe['macro_f1']:.4f}")

    # (b) our scorer, cold cache, then the cached re-run
    ours.score(["warm up"], progress=None)
    t0 = time.perf_counter()
    s1, _, _ = ours.score(texts, progress=None)
    t_ours = time.perf_counter() - t0
    m_ours = evaluate_labels(truth, s1)
    t0 = time.perf_counter()
    s2, _, st2 = ours.score(texts, progress=None)
    t_cached = time.perf_counter() - t0
    assert st2.cached == st2.unique_texts and np.allclose(s1["positive_prob"], s2["positive_prob"])
    out["ours"] = {"seconds": t_ours, "reviews_per_s": len(texts) / t_ours, "macro_f1": m_ours["macro_f1"],
                   "speedup_vs_pipeline": t_pipe / t_ours}
    out["cached"] = {"seconds": t_cached, "reviews_per_s": len(texts) / t_cached,
                     "speedup_vs_first_run": t_ours / t_cached}
    print(f"(b) SentimentScorer (defaults: {ours.precision}, max_length 256, batch 8): "
          f"{len(texts) / t_ours:7.1f} reviews/s, "
          f"macro-F1 {m_ours['macro_f1']:.4f}  -> {t_pipe / t_ours:.1f}x the pipeline, "
          f"F1 change {100 * (m_ours['macro_f1'] - m_pipe['macro_f1']):+.2f} points")
    print(f"    cached re-run: {t_cached:.3f} s ({len(texts) / t_cached:,.0f} reviews/s) -> "
          f"{t_ours / t_cached:.0f}x faster than the first run")
    ours.cache.close()

    for name, cfg in (*((f"precision {p}", SentimentConfig(threads=args.threads, precision=p))
                        for p in ("fp32", "bf16", "int8")),
                      # the pipeline has no prior adjustment: this row compares like with like
                      ("defaults, adapt_prior: false", SentimentConfig(threads=args.threads, adapt_prior=False)),
                      ("max_length 128", SentimentConfig(threads=args.threads, max_length=128))):
        sc = SentimentScorer(cfg, None)
        sc.score(["warm up"], progress=None)
        t0 = time.perf_counter()
        s, _, _ = sc.score(texts, progress=None)
        t = time.perf_counter() - t0
        m = evaluate_labels(truth, s)
        out[name] = {"seconds": t, "reviews_per_s": len(texts) / t, "macro_f1": m["macro_f1"]}
        print(f"    {name}: {len(texts) / t:7.1f} reviews/s, macro-F1 {m['macro_f1']:.4f} "
              f"({100 * (m['macro_f1'] - m_ours['macro_f1']):+.2f} points vs (b))")



def interleaved(args: argparse.Namespace, texts: list[str], out: dict) -> None:
    """Alternate (a) and (b) chunk by chunk so that load from other jobs hits both alike."""
    from transformers import pipeline

    ours = SentimentScorer(SentimentConfig(threads=args.threads, cache=False), None)
    plain = SentimentScorer(SentimentConfig(threads=args.threads, precision="fp32"), None)
    pipe = pipeline("text-classification", model=plain._model, tokenizer=plain._tokenizer, device=-1)
    pipe(texts[:2])
    ours.score(["warm up"], progress=None)
    t_pipe = t_ours = 0.0
    for chunk in np.array_split(np.arange(len(texts)), args.interleave):
        part = [texts[i] for i in chunk]
        t0 = time.perf_counter()
        pipe(part)
        t_pipe += time.perf_counter() - t0
        t0 = time.perf_counter()
        ours.score(part, progress=None)
        t_ours += time.perf_counter() - t0
    out["interleaved"] = {"chunks": args.interleave, "pipeline_reviews_per_s": len(texts) / t_pipe,
                          "ours_reviews_per_s": len(texts) / t_ours, "speedup": t_pipe / t_ours}
    print(f"interleaved over {args.interleave} chunks: pipeline {len(texts) / t_pipe:.1f} reviews/s, "
          f"ours {len(texts) / t_ours:.1f} reviews/s -> {t_pipe / t_ours:.1f}x")


def full_split(args: argparse.Namespace, test: pd.DataFrame, out: dict) -> None:
    """Shipped model vs VADER on the whole held-out test split."""
    if True:
        full = {}
        models = ("default", "vader")
        if args.shipped_from_card:
            from segment_report.pipeline.stages.sentiment.model import SHIPPED_MODEL_DIR

            card = json.loads((SHIPPED_MODEL_DIR / "model_card.json").read_text())
            m = card["metrics"]["test_split"]
            full["default (model card)"] = {
                "binary_macro_f1": m["binary"]["macro_f1"], "binary_accuracy": m["binary"]["accuracy"],
                "three_class_macro_f1": m["three_class"]["macro_f1"],
                "binary_confusion": m["binary"]["confusion_matrix"]["rows_true_cols_pred"]}
            print(f"full held-out split, shipped (model card, max_length {card['max_length']}): "
                  f"negative vs positive macro-F1 {m['binary']['macro_f1']:.4f} (accuracy "
                  f"{m['binary']['accuracy']:.4f}, n={m['binary']['n']}); 3-class macro-F1 "
                  f"{m['three_class']['macro_f1']:.4f} (n={m['three_class']['n']})")
            models = ("vader",)
        for model in models:
            sc = SentimentScorer(SentimentConfig(model=model, threads=args.threads), None)
            t0 = time.perf_counter()
            s, _, _ = sc.score(test["text"].tolist(), progress=None)
            t = time.perf_counter() - t0
            lab = test["label"].reset_index(drop=True)
            polar_mask = (lab != "neutral").to_numpy()
            binary = evaluate_labels(lab[polar_mask].reset_index(drop=True),
                                     s[polar_mask].reset_index(drop=True))
            three = evaluate_labels(lab, s)
            full[model] = {"binary_macro_f1": binary["macro_f1"], "binary_accuracy": binary["accuracy"],
                           "three_class_macro_f1": three["macro_f1"], "seconds": t,
                           "binary_confusion": binary["confusion_matrix"]["rows_true_cols_pred"]}
            print(f"full held-out split, {model:>7}: negative vs positive macro-F1 "
                  f"{binary['macro_f1']:.4f} (accuracy {binary['accuracy']:.4f}, n={binary['n']}); "
                  f"3-class macro-F1 {three['macro_f1']:.4f} (n={three['n']}); {t:.0f} s")
        out["held_out"] = full


if __name__ == "__main__":
    main()
