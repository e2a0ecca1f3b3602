"""Churn risk and CLV against the planted truth, and the stage's time at scale.

For each seed: generated data (``segment-report generate``; ``ground_truth.json`` plants which
customers are still buying at the end, per persona), ingest, then the CLV stage for the last
month with the planted persona as the persona covariate (the stage alone: whether the run's
UMAP + HDBSCAN personas match the planted ones is the segments benchmark's question). Printed:
per planted persona the mean predicted ``p_active`` against the planted active share at the end
(target: within 5 points), and the stage's own time-split check (Spearman of predicted against
realised hold-out spend, target >= 0.6; calibration of expected orders per decile, target
within 10 %). ``--run DIR`` scores a finished run folder instead (its personas, its numbers).
Time with ``/usr/bin/time -v`` for peak memory:

    /usr/bin/time -v python benchmarks/bench_clv.py --seeds 42 7 --transactions 20000 --months 12
    /usr/bin/time -v python benchmarks/bench_clv.py --seeds 42 --transactions 1000000 --months 12
    python benchmarks/bench_clv.py --run segment-report-demo/2026-10 --truth segment-report-demo/data
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd


def _per_persona(scores: pd.DataFrame, truth: pd.DataFrame, planted: dict) -> list[dict]:
    both = scores.merge(truth[["customer_id", "persona", "active_at_end"]], on="customer_id")
    rows = []
    for name, part in both.groupby("persona"):
        share = planted[name]["active_share_at_end"]
        rows.append({"persona": name, "customers": len(part), "planted_active": share,
                     "in_run_active": float(part["active_at_end"].mean()),
                     "predicted_active": float(part["p_active"].mean()),
                     "gap_points": 100 * (float(part["p_active"].mean()) - float(part["active_at_end"].mean()))})
    return rows


def _ceiling(tx: pd.DataFrame, truth: pd.DataFrame, validation: dict) -> float:
    """Spearman of the planted purchase rate (0 for a customer who lapsed) with the hold-out
    orders: what a model that knew the truth would reach, the Poisson noise of a few months'
    orders being what it is."""
    from scipy.stats import spearmanr

    from segment_report.pipeline.stages.clv.validation import holdout_outcomes

    actual = holdout_outcomes(tx, pd.Timestamp(validation["cutoff"]), pd.Timestamp(validation["holdout_end"]))
    first = tx.groupby("customer_id")["date"].min()
    known = truth[truth["customer_id"].map(first) <= pd.Timestamp(validation["cutoff"])]
    both = known.merge(actual, left_on="customer_id", right_index=True, how="left").fillna({"actual_spend": 0.0})
    return float(spearmanr(both["active_at_end"] * both["monthly_order_rate"], both["actual_spend"]).statistic)


def _print(rows: list[dict], validation: dict, seconds: float | None, ceiling: float | None = None) -> dict:
    print(f"  {'planted persona':<26} {'customers':>9} {'active (truth)':>14} {'mean p_active':>13} {'gap':>7}")
    for r in rows:
        print(f"  {r['persona']:<26} {r['customers']:>9,} {r['in_run_active']:>14.3f} "
              f"{r['predicted_active']:>13.3f} {r['gap_points']:>+6.1f}p")
    worst = max(abs(r["gap_points"]) for r in rows)
    decile = validation.get("max_decile_relative_error")
    print(f"  worst persona gap {worst:.1f} points (target <= 5); time split: cut-off {validation['cutoff']}, "
          f"Spearman {validation['spearman_value_vs_spend']:.3f} (target >= 0.6), "
          f"worst decile {100 * decile:.1f} % (target <= 10 %), MAE {validation['mae_orders']:.3f} orders, "
          f"predicted {validation['predicted_orders']:,.0f} vs actual {validation['actual_orders']:,.0f} orders")
    for row in validation["calibration"]:
        error = "-" if row["relative_error"] is None else f"{100 * row['relative_error']:+.1f} %"
        print(f"    decile {row['decile']:>2}: predicted {row['predicted_orders']:.3f}, "
              f"actual {row['actual_orders']:.3f} ({error})")
    if ceiling is not None:
        print(f"  Spearman of the planted rates with realised hold-out spend (the ceiling): {ceiling:.3f}")
    if seconds is not None:
        print(f"  CLV stage: {seconds:.1f} s")
    return {"worst_gap_points": worst, "spearman": validation["spearman_value_vs_spend"],
            "worst_decile": decile, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--run", type=Path, help="a finished run folder to score instead")
    parser.add_argument("--truth", type=Path, help="with --run: the generated data folder (ground truth)")
    parser.add_argument("--orders-model", default=None,
                        help="another pymc-marketing order model for the stage, e.g. BetaGeoModel")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")

    if args.run is not None:
        truth_dir = args.truth or args.run.parent / "data"
        truth = pd.read_csv(truth_dir / "truth_customers.csv", dtype={"customer_id": str})
        planted = json.loads((truth_dir / "ground_truth.json").read_text())["effects"]["lifetimes"]["personas"]
        customers = pd.read_parquet(args.run / "results" / "customers.parquet")
        doc = json.loads((args.run / "results" / "clv.json").read_text())
        _print(_per_persona(customers.dropna(subset=["p_active"]), truth, planted), doc["validation"], None)
        return

    from segment_report.pipeline.config import ClvConfig, load_config
    from segment_report.pipeline.log import setup_logging
    from segment_report.pipeline.stages.clv import estimate_clv
    from segment_report.pipeline.stages.ingest.stage import ingest
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    setup_logging(quiet=True)
    if args.orders_model:
        from segment_report.pipeline.stages.clv import model

        model.ORDER_MODEL = args.orders_model
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            gen = GenerateConfig(n_transactions=args.transactions, months=args.months, seed=seed)
            data = generate_dataset(gen, Path(tmp) / f"seed-{seed}")
            cfg = load_config(data.config_file)
            tx = ingest(cfg.input, cfg.privacy).transactions
            truth = pd.read_csv(data.out_dir / "truth_customers.csv", dtype={"customer_id": str})
            planted = json.loads((data.out_dir / "ground_truth.json").read_text())["effects"]["lifetimes"]["personas"]
            segments = truth.rename(columns={"persona_id": "segment_id", "persona": "segment_name"})
            end = pd.Timestamp(gen.end_date)
            print(f"seed {seed}: {args.transactions:,} transactions, {len(truth):,} customers, "
                  f"{args.months} months to {gen.end_date}")
            t = time.perf_counter()
            result = estimate_clv(tx, segments[["customer_id", "segment_id", "segment_name"]], end,
                                  ClvConfig(), seed)
            seconds = time.perf_counter() - t
            _print(_per_persona(result.scores, truth, planted), result.doc["validation"], seconds,
                   _ceiling(tx, truth, result.doc["validation"]))


if __name__ == "__main__":
    main()
