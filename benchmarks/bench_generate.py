"""Benchmark ``segment-report generate``: speed, and how separable the planted personas are.

Prints, per size, the seconds to generate the frames and to write the files, and (with
``--separability``) the adjusted Rand index of a plain UMAP + HDBSCAN on per-customer
features against the planted personas.

With ``--scale``, each size is instead generated once per mode in a child process (the
``segment-report generate`` path: frames built and written in chunks), and the wall seconds,
CPU seconds and the child's peak resident memory (``os.wait4``'s ``ru_maxrss``) are printed
(issue #16: up to 10M transactions in bounded memory).

    python benchmarks/bench_generate.py                       # 20k, 200k, 2M transactions
    python benchmarks/bench_generate.py --sizes 20000 --separability --personas 4,5,7
    python benchmarks/bench_generate.py --scale --sizes 1000000,2000000,10000000 --months 12
    python benchmarks/bench_generate.py --scale --sizes 2000000 --modes retail_table --parts monthly
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
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


def data_bytes(paths) -> int:
    """Bytes of the data files, a folder of parts counting its parts."""
    return sum(sum(f.stat().st_size for f in p.iterdir()) if p.is_dir() else p.stat().st_size
               for p in paths)


def _child(n: int, mode: str, messy: bool, months: int, parts: str, out: Path) -> None:
    """In the child process: one generation, as ``segment-report generate`` does it."""
    ds = generate_dataset(GenerateConfig(mode=mode, n_transactions=n, months=months, messy=messy,
                                         parts=parts), out)
    print(f"{data_bytes(ds.data_files.values())} {sum(ds.rows.values())}")


def scale(sizes: list[int], modes: list[str], messy: bool, months: int, parts: str,
          out_root: Path | None) -> None:
    """Wall seconds, CPU seconds and peak RSS of one generation per size and mode, each in a
    fresh child process so that the peaks do not mix."""
    for n in sizes:
        for mode in modes:
            tmp = Path(tempfile.mkdtemp(prefix="bench_generate_", dir=out_root))
            cmd = [sys.executable, __file__, "--child", str(n), mode, str(int(messy)), str(months),
                   parts, str(tmp / "out")]
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            out = proc.stdout.read()  # until the child exits (one line)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
            wall = time.perf_counter() - t0
            proc.returncode = code = os.waitstatus_to_exitcode(status)
            shutil.rmtree(tmp, ignore_errors=True)
            if code != 0:
                print(f"generate n={n:,} mode={mode}: child failed with {code}", flush=True)
                continue
            size, rows = (int(v) for v in out.split()[-2:])
            print(f"generate n={n:>10,} mode={mode:<12} {'messy' if messy else 'clean'} "
                  f"months={months} parts={parts}: {wall:6.1f} s wall "
                  f"({usage.ru_utime + usage.ru_stime:6.1f} s CPU), peak RSS "
                  f"{usage.ru_maxrss / 1e6:5.2f} GB, {rows:,} rows, {size / 1e6:,.0f} MB of data",
                  flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        n, mode, messy, months, parts, out = sys.argv[2:8]
        _child(int(n), mode, messy == "1", int(months), parts, Path(out))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,200000,2000000")
    parser.add_argument("--separability", action="store_true")
    parser.add_argument("--personas", default="5", help="comma-separated persona counts")
    parser.add_argument("--scale", action="store_true",
                        help="wall seconds and peak RSS of one generation per size, in a child process")
    parser.add_argument("--modes", default="retail_table,tables", help="with --scale")
    parser.add_argument("--clean", action="store_true", help="with --scale: no mess (default messy)")
    parser.add_argument("--months", type=int, default=6, help="with --scale")
    parser.add_argument("--parts", choices=("none", "monthly"), default="none", help="with --scale")
    parser.add_argument("--tmp", type=Path, default=None,
                        help="with --scale: folder for the generated data (deleted after each run)")
    args = parser.parse_args()
    if args.scale:
        scale([int(s) for s in args.sizes.split(",")], args.modes.split(","), not args.clean,
              args.months, args.parts, args.tmp)
        return
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
                size = data_bytes(ds.data_files.values())
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
