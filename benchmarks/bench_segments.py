"""Benchmark: segment 100k customers (fit on a sample + assign the rest) and check the ARI.

Usage::

    nice -n 10 python benchmarks/bench_segments.py                  # 100k planted customers
    nice -n 10 python benchmarks/bench_segments.py --parallel         # unseeded parallel UMAP
    nice -n 10 python benchmarks/bench_segments.py --generated 80000 --rating-sentiment

Prints wall times (import/numba warm-up separately), segment count, noise share, stability
and the adjusted Rand index against the planted personas. The default data are built here
(:func:`planted_customers`): six behavioural personas with overlapping distributions and
demographics that are mostly noise. ``--generated N`` uses
``pipeline.synthetic`` (N transactions) + ``pipeline.ingest`` + ``pipeline.features``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

CATEGORIES = ("books", "clothing", "electronics", "grocery", "home_decor")
STATES = ("CA", "TX", "NY", "FL", "IL", "PA", "OH", "GA", "WA", "MA")

# persona: freq mean, recency mean days, aov mean, items mean, tenure mean days, category weights, sentiment
PERSONAS = {
    "loyal_big_basket": (18, 12, 90, 6.5, 900, (1, 2, 2, 8, 2), 0.85),
    "lapsed_one_off": (1.5, 260, 60, 1.8, 320, (2, 2, 2, 2, 2), 0.55),
    "premium_fashion": (5, 45, 420, 1.5, 600, (1, 10, 1.5, 1, 1.5), 0.75),
    "decor_bargain": (6, 60, 30, 3.0, 500, (1, 1.5, 1, 1.5, 10), 0.70),
    "new_tech": (3, 15, 300, 1.2, 40, (1, 1, 10, 1, 1), 0.80),
    "critical_readers": (7, 50, 45, 2.5, 700, (10, 1, 1, 1.5, 1), 0.20),
}


def planted_customers(n: int, seed: int = 0, sentiment: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """A customer feature table with six planted personas; returns ``(table, truth_labels)``."""
    rng = np.random.default_rng(seed)
    keys = list(PERSONAS)
    weights = np.array([0.22, 0.2, 0.14, 0.16, 0.12, 0.16])
    truth = rng.choice(len(keys), size=n, p=weights)
    rows = {k: np.empty(n) for k in ("frequency", "recency_days", "avg_order_value", "items_per_order",
                                      "tenure_days", "positive_prob")}
    shares = np.empty((n, len(CATEGORIES)))
    for i, key in enumerate(keys):
        m = truth == i
        k = int(m.sum())
        f, r, a, it, t, cat, s = PERSONAS[key]
        rows["frequency"][m] = 1 + rng.poisson(max(f - 1, 0.2), k)
        rows["recency_days"][m] = np.clip(rng.gamma(2.0, r / 2.0, k), 0, 365)
        rows["avg_order_value"][m] = a * rng.lognormal(0, 0.35, k)
        rows["items_per_order"][m] = np.clip(it * rng.lognormal(0, 0.25, k), 1, None)
        rows["tenure_days"][m] = np.clip(t * rng.lognormal(0, 0.3, k), rows["recency_days"][m], None)
        rows["positive_prob"][m] = np.clip(rng.normal(s, 0.12, k), 0.01, 0.99)
        shares[m] = rng.dirichlet(np.array(cat) * 1.5, k)
    df = pd.DataFrame({"customer_id": [f"C{i:06d}" for i in range(n)]})
    for k, v in rows.items():
        if k != "positive_prob":
            df[k] = v
    df["frequency"] = df["frequency"].astype("int64")
    df["monetary"] = df["frequency"] * df["avg_order_value"]
    for j, c in enumerate(CATEGORIES):
        df[f"cat_share_{c}"] = shares[:, j]
    df["top_category"] = pd.array([CATEGORIES[j] for j in shares.argmax(axis=1)], dtype="string")
    df["age"] = np.where(rng.random(n) < 0.05, np.nan, np.clip(rng.normal(42, 13, n), 18, 90).round())
    df["gender"] = pd.array(rng.choice(["female", "male", "other", None], n, p=[0.48, 0.45, 0.02, 0.05]),
                            dtype="string")
    df["income"] = np.nan
    df["income_band"] = pd.array(rng.choice(["low", "medium", "high", None], n, p=[0.3, 0.4, 0.25, 0.05]),
                                 dtype="string")
    us = rng.random(n) < 0.8
    df["state"] = pd.array(np.where(us, rng.choice(STATES, n), None), dtype="string")
    df["country"] = pd.array(np.where(us, "USA", "UK"), dtype="string")
    df["is_us"] = us
    df["review_count"] = rng.poisson(1.2, n).astype("int64")
    if sentiment:
        missing = df["review_count"].to_numpy() == 0
        pp = rows["positive_prob"].copy()
        pp[missing] = np.median(pp[~missing])
        df["positive_prob"] = pp
        df["positive_prob_recent"] = pp
        df["share_negative"] = np.clip(1 - pp + rng.normal(0, 0.05, n), 0, 1) * ~missing
        df["sentiment_missing"] = missing
    return df, truth


def generated_customers(n_transactions: int, seed: int, rating_sentiment: bool,
                        messy: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """pipeline.synthetic -> ingest -> features; returns ``(customer table, persona ids)``.

    With ``rating_sentiment`` the sentiment columns are a stand-in computed from star ratings
    (share of reviews rated 4-5), since the sentiment stage is not part of this benchmark.
    """
    import tempfile
    from pathlib import Path

    from segment_report.pipeline.config import load_config
    from segment_report.pipeline.stages.features import build_customer_features, resolve_window
    from segment_report.pipeline.stages.ingest.stage import ingest
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    with tempfile.TemporaryDirectory() as tmp:
        ds = generate_dataset(GenerateConfig(n_transactions=n_transactions, seed=seed, messy=messy),
                              Path(tmp))
        cfg = load_config(ds.config_file)
        ing = ingest(cfg.input, cfg.privacy)
        window = resolve_window(ing.transactions["date"], "last", 12)
        feats = build_customer_features(ing.transactions, ing.customers, ing.reviews, window)
        truth = pd.read_csv(ds.truth_file.parent / "truth_customers.csv", dtype={"customer_id": str})
    if rating_sentiment:
        rev = ing.reviews.dropna(subset=["rating"])
        pos = (rev["rating"] >= 4).astype(float).groupby(rev["customer_id"]).mean()
        neg = (rev["rating"] <= 2).astype(float).groupby(rev["customer_id"]).mean()
        ids = feats["customer_id"].astype(str)
        pp = ids.map(pos.rename(index=str))
        feats["sentiment_missing"] = pp.isna().to_numpy()
        feats["positive_prob"] = pp.fillna(pp.median()).to_numpy(dtype=float)
        feats["positive_prob_recent"] = feats["positive_prob"]
        feats["share_negative"] = ids.map(neg.rename(index=str)).fillna(0.0).to_numpy(dtype=float)
    persona = truth.set_index("customer_id")["persona_id"]
    labels = feats["customer_id"].astype(str).map(persona)
    keep = labels.notna().to_numpy()
    return feats[keep].reset_index(drop=True), labels[keep].to_numpy(dtype=int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--parallel", action="store_true",
                        help="segments.deterministic=false: unseeded UMAP on all cores")
    parser.add_argument("--stability-runs", type=int, default=None)
    parser.add_argument("--fit-sample-size", type=int, default=None)
    parser.add_argument("--generated", type=int, default=0, metavar="N_TRANSACTIONS",
                        help="use pipeline.synthetic + ingest + features with this many transactions")
    parser.add_argument("--rating-sentiment", action="store_true",
                        help="with --generated: add sentiment columns derived from star ratings")
    args = parser.parse_args()

    t0 = time.perf_counter()
    from sklearn.metrics import adjusted_rand_score

    from segment_report.pipeline.config import SegmentsConfig
    from segment_report.pipeline.stages.segments.stage import segment_customers
    import umap  # noqa: F401  (import + numba load counted separately)
    import hdbscan  # noqa: F401
    t_import = time.perf_counter() - t0

    if args.generated:
        customers, truth = generated_customers(args.generated, args.seed, args.rating_sentiment)
    else:
        customers, truth = planted_customers(args.n, args.seed)
    kwargs = {"deterministic": not args.parallel}
    if args.stability_runs is not None:
        kwargs["stability_runs"] = args.stability_runs
    if args.fit_sample_size is not None:
        kwargs["fit_sample_size"] = args.fit_sample_size
    cfg = SegmentsConfig(**kwargs)

    # warm-up: numba compiles UMAP/HDBSCAN kernels on first use (once per process)
    t1 = time.perf_counter()
    small, _ = planted_customers(6000, 1)  # > 4096 rows: the NN-descent + transform paths compile too
    segment_customers(small, cfg.model_copy(update={"stability_runs": 0, "fit_sample_size": 3000}), seed=1)
    t_warm = time.perf_counter() - t1

    t2, c2 = time.perf_counter(), time.process_time()
    result = segment_customers(customers, cfg, seed=args.seed)
    wall, cpu = time.perf_counter() - t2, time.process_time() - c2
    s = result.summary
    ari = adjusted_rand_score(truth, result.assignments["segment_id"])
    print(f"customers            {len(customers)}{' (generated)' if args.generated else ''}")
    print(f"deterministic        {not args.parallel}")
    print(f"import (s)           {t_import:.1f}")
    print(f"numba warm-up (s)    {t_warm:.1f}")
    for k, v in result.timings.items():
        print(f"{k:<20} {v:.1f}")
    print(f"segment_customers(s) {wall:.1f}")
    print(f"segment cpu (s)      {cpu:.1f} (all threads)")
    print(f"cpu time (s)         {time.process_time():.1f} (whole process)")
    print(f"load average         {' '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")
    print(f"segments             {s['n_segments']} (range {s['segment_range']}, in range: {s['in_range']})")
    print(f"hdbscan              {s['hdbscan']}")
    print(f"noise share          {s['noise_share']:.3f}")
    print(f"stability ARI mean   {s['stability'].get('ari_mean')}")
    print(f"ARI vs planted truth {ari:.3f}")
    for seg in result.segments:
        print(f"  {seg['id']:>3} {seg['size']:>7} {seg['stability']['confidence']!s:>6} {seg['name']}")


if __name__ == "__main__":
    main()
