"""fp32 vs bf16 vs int8 on the whole held-out test split of the clothing reviews, text only and
title + text.

Usage::

    python benchmarks/bench_sentiment_precision.py [--csv womens_clothing_reviews.csv] [--no-adapt-prior]

Prints, for each ``sentiment.precision``: negative-vs-positive macro-F1 and accuracy, 3-class
macro-F1 and reviews/s (2 torch threads), with the default prior adjustment (the split is one
scored set) or without it. Figures in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sentiment import DEFAULT_CSV, held_out_split  # noqa: E402

from segment_report.pipeline.config import SentimentConfig  # noqa: E402
from segment_report.pipeline.stages.sentiment.evaluate import evaluate_labels  # noqa: E402
from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer  # noqa: E402
from segment_report.pipeline.stages.sentiment.text import review_texts  # noqa: E402


def main() -> None:
    """Score the held-out split four ways and print the metrics."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, required=DEFAULT_CSV is None,
                    help="the clothing reviews CSV (default: $SEGMENT_REPORT_CLOTHING_CSV)")
    ap.add_argument("--no-adapt-prior", dest="adapt_prior", action="store_false")
    args = ap.parse_args()
    test = held_out_split(args.csv)
    truth = test["label"].reset_index(drop=True)
    polar = (truth != "neutral").to_numpy()
    inputs = {"text": review_texts(test, "text"), "title+text": review_texts(test, "text", "title")}
    for precision in ("fp32", "bf16", "int8"):
        scorer = SentimentScorer(SentimentConfig(threads=2, precision=precision,
                                                 adapt_prior=args.adapt_prior), None)
        for name, texts in inputs.items():
            t0 = time.perf_counter()
            scores, _, _ = scorer.score(texts, progress=None)
            seconds = time.perf_counter() - t0
            binary = evaluate_labels(truth[polar].reset_index(drop=True), scores[polar].reset_index(drop=True))
            three = evaluate_labels(truth, scores)
            print(f"{precision} {name}: binary macro-F1 {binary['macro_f1']:.4f} "
                  f"acc {binary['accuracy']:.4f}; 3-class {three['macro_f1']:.4f}; "
                  f"{len(texts) / seconds:.0f} reviews/s", flush=True)


if __name__ == "__main__":
    main()
