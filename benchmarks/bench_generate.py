"""Benchmark ``segment-report generate``: speed, and how separable the planted personas are.

Prints, per size, the seconds to generate the frames and to write the files, and (with
``--separability``) the adjusted Rand index of a plain UMAP + HDBSCAN on per-customer
features against the planted personas.

    python benchmarks/bench_generate.py                       # 20k, 200k, 2M transactions
    python benchmarks/bench_generate.py --sizes 20000 --separability --personas 4,5,7
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset, generate_frames
from segment_report.pipeline.synthetic.catalogue import CATEGORIES


def customer_features(frames: dict[str, pd.DataFrame], end_date: str) -> pd.DataFrame:
    """Per-customer features from a clean retail table, like the pipeline's feature table.

    Sentiment is proxied by the mean review rating mapped to [0, 1] (the pipeline uses a
    model's positive_prob), imputed with the overall mean for customers without a review.
    """
    df = frames["retail_table"].copy()
    df["date"] = pd.to_datetime(df["Date"])
    end = pd.Timestamp(end_date)
    g = df.groupby("Customer_ID")
    feats = pd.DataFrame({
        "recency_days": (end - g["date"].max()).dt.days,
        "tenure_days": (end - g["date"].min()).dt.days,
        "frequency": g.size(),
        "monetary": g["Total_Amount"].sum(),
        "items_per_order": g["Total_Purchases"].mean(),
        "age": g["Age"].first().astype(float),
    })
    feats["avg_order_value"] = feats["monetary"] / feats["frequency"]
    shares = df.pivot_table(index="Customer_ID", columns="Product_Category", values="Total_Amount",
                            aggfunc="sum", fill_value=0.0)
    shares = shares.div(shares.sum(axis=1), axis=0)
    for c in CATEGORIES:
        feats["cat_share_" + c.lower().replace(" ", "_")] = shares.get(c, 0.0)
    rated = g["Ratings"].mean()
    sentiment = (rated.astype(float) - 1) / 4
    feats["sentiment"] = sentiment.fillna(sentiment.mean())
    return feats


def separability(cfg: GenerateConfig) -> None:
    """ARI of UMAP + HDBSCAN on per-customer features against the planted personas."""
    import hdbscan
    import umap
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    frames, _ = generate_frames(cfg)
    feats = customer_features(frames, cfg.end_date)
    for col in ("frequency", "monetary", "avg_order_value"):
        feats[col] = np.log1p(feats[col])
    truth = frames["truth_customers"].set_index("customer_id").loc[feats.index, "persona_id"]
    X = StandardScaler().fit_transform(feats.to_numpy(dtype=float))
    t0 = time.perf_counter()
    emb = umap.UMAP(n_components=8, n_neighbors=30, min_dist=0.0, random_state=cfg.seed).fit_transform(X)
    print(f"separability personas={cfg.n_personas} n_customers={len(X):,}: UMAP(8 dims, 30 "
          f"neighbours) {time.perf_counter() - t0:.1f} s")
    for share in (0.02, 0.04, 0.06):
        mcs = int(share * len(X))
        labels = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=50).fit_predict(emb)
        keep = labels >= 0
        print(f"  HDBSCAN min_cluster_size={mcs} ({share:.0%}), min_samples=50: "
              f"clusters={labels.max() + 1} noise={1 - keep.mean():.1%} "
              f"ARI(noise as a label)={adjusted_rand_score(truth, labels):.3f} "
              f"ARI(non-noise)={adjusted_rand_score(truth[keep], labels[keep]):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,200000,2000000")
    parser.add_argument("--separability", action="store_true")
    parser.add_argument("--personas", default="5", help="comma-separated persona counts")
    args = parser.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        for mode in ("retail_table", "tables"):
            cfg = GenerateConfig(mode=mode, n_transactions=n, messy=True)
            t0, c0 = time.perf_counter(), time.process_time()
            generate_frames(cfg)
            t_frames, c_frames = time.perf_counter() - t0, time.process_time() - c0
            with tempfile.TemporaryDirectory() as tmp:
                t0, c0 = time.perf_counter(), time.process_time()
                ds = generate_dataset(cfg, Path(tmp))
                t_all, c_all = time.perf_counter() - t0, time.process_time() - c0
                size = sum(p.stat().st_size for p in ds.data_files.values())
            # CPU seconds beside wall seconds: on a shared machine the wall time mostly
            # measures the neighbours.
            print(f"generate n={n:>9,} mode={mode:<12} messy: frames {t_frames:6.2f} s wall "
                  f"({c_frames:6.2f} s CPU), frames + write CSV {t_all:6.2f} s wall "
                  f"({c_all:6.2f} s CPU), {size / 1e6:7.1f} MB of data", flush=True)
    if args.separability:
        for n in (int(s) for s in args.sizes.split(",")):
            for personas in (int(p) for p in args.personas.split(",")):
                separability(GenerateConfig(n_transactions=n, n_personas=personas))


if __name__ == "__main__":
    main()
