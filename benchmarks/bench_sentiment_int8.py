"""int8 vs fp32 on the whole held-out test split of the clothing reviews, text only and title + text.

Usage::

    python benchmarks/bench_sentiment_int8.py [--csv womens_clothing_reviews.csv]

Prints, for ``sentiment.quantize`` false and true: negative-vs-positive macro-F1 and accuracy,
3-class macro-F1 and reviews/s (2 torch threads). Figures in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sentiment import DEFAULT_CSV, held_out_split  # noqa: E402

from pipeline.config import SentimentConfig  # noqa: E402
from pipeline.sentiment import SentimentScorer, evaluate_labels, review_texts  # noqa: E402


def main() -> None:
    """Score the held-out split four ways and print the metrics."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    args = ap.parse_args()
    test = held_out_split(args.csv)
    truth = test["label"].reset_index(drop=True)
    polar = (truth != "neutral").to_numpy()
    inputs = {"text": review_texts(test, "text"), "title+text": review_texts(test, "text", "title")}
    for quantize in (False, True):
        scorer = SentimentScorer(SentimentConfig(threads=2, quantize=quantize), None)
        for name, texts in inputs.items():
            t0 = time.perf_counter()
            scores, _, _ = scorer.score(texts, progress=None)
            seconds = time.perf_counter() - t0
            binary = evaluate_labels(truth[polar].reset_index(drop=True), scores[polar].reset_index(drop=True))
            three = evaluate_labels(truth, scores)
            print(f"int8={quantize} {name}: binary macro-F1 {binary['macro_f1']:.4f} "
                  f"acc {binary['accuracy']:.4f}; 3-class {three['macro_f1']:.4f}; "
                  f"{len(texts) / seconds:.0f} reviews/s", flush=True)


if __name__ == "__main__":
    main()
