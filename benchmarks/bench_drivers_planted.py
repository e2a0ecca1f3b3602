"""Do the planted drivers of spend come out as planted? The whole product on generated data.

For each seed: ``segment-report generate`` data (default config: +15 % order value per +0.1
satisfaction), one ``run`` of the last month with the product's defaults (shipped sentiment
model, UMAP + HDBSCAN personas, value model + SHAP), then ``ground_truth.json``'s planted
drivers (observational Shapley values in dollars, ties within 10 %) next to ``drivers.json``'s
driver groups (``compare_planted_drivers``).

    nice -n 10 python benchmarks/bench_drivers_planted.py --seeds 42 7 11
    python benchmarks/bench_drivers_planted.py --perfect-sentiment   # the drivers stage alone
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

# Driver groups the value model sees without measurement error; review sentiment reads the
# planted satisfaction from one review text for about half of the customers.
EXACTLY_MEASURED = ["category_mix", "frequency", "items_per_order"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 11])
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="write the runs here instead of a temp folder")
    parser.add_argument("--perfect-sentiment", action="store_true",
                        help="the drivers stage alone: positive_prob is each customer's planted "
                             "satisfaction and the planted persona is the segment")
    args = parser.parse_args()

    from segment_report.pipeline.config import load_config
    from segment_report.pipeline.log import setup_logging
    from segment_report.pipeline.runner import run_pipeline
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset
    from segment_report.pipeline.synthetic.evaluation import compare_planted_drivers

    setup_logging(quiet=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.transactions:,} transactions per seed")
    as_planted = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for seed in args.seeds:
            out = root / f"seed-{seed}"
            gen = GenerateConfig(n_transactions=args.transactions, seed=seed)
            data = generate_dataset(gen, out / "data")
            t = time.perf_counter()
            cfg = load_config(data.config_file, {
                "run.out_dir": str(out), "seed": seed, "run.period": gen.end_date[:7]})
            if args.perfect_sentiment:
                drivers = _stage_with_perfect_sentiment(cfg, data.out_dir, seed)
            else:
                result = run_pipeline(cfg)
                drivers = json.loads((result.run_dir / "results" / "drivers.json").read_text())
            truth = json.loads(data.truth_file.read_text())
            rows = compare_planted_drivers(truth, drivers)
            exact = compare_planted_drivers(truth, drivers,
                                            None if args.perfect_sentiment else EXACTLY_MEASURED)
            print(f"\nseed {seed}: {drivers['n_customers_used']:,} customers, run "
                  f"{time.perf_counter() - t:.0f} s, value model R2 {drivers['model']['r2_test']:.2f}")
            print(f"  {'driver group':<17} {'planted':>7} {'found':>5} {'tied with':<17} "
                  f"{'$ planted':>9} {'$ SHAP':>7} {'share':>6} direction  noise")
            for r in rows:
                print(f"  {r['group']:<17} {r['planted_rank']:>7} {r['recovered_rank']:>5} "
                      f"{', '.join(r['tied_with']) or '-':<17} {r['planted_mean_abs_effect']:9.0f} "
                      f"{r['mean_abs_shap']:7.0f} {r['share'] * 100:5.1f}% "
                      f"{'ok' if r['direction_as_planted'] else 'WRONG':<10} "
                      f"{'within noise' if r['within_noise'] else 'found'}")
            ok = (all(r["direction_as_planted"] and not r["within_noise"] for r in rows)
                  and all(r["rank_as_planted"] for r in exact))
            every = all(r["rank_as_planted"] for r in rows)
            as_planted += ok
            print(f"  directions, detection and the {'' if args.perfect_sentiment else 'exactly measured '}"
                  f"drivers' ranks as planted: "
                  f"{'yes' if ok else 'NO'}; review sentiment's rank too: {'yes' if every else 'no'}")
    ranks = "ranks" if args.perfect_sentiment else "exactly measured ranks"
    print(f"\nas planted (directions, detection, {ranks}) in {as_planted} of "
          f"{len(args.seeds)} seeds")

def _stage_with_perfect_sentiment(cfg, data_dir: Path, seed: int) -> dict:
    """The drivers stage with every default on the run's customer table, where positive_prob
    is the planted satisfaction (what a perfect sentiment model would give) and the segment is
    the planted persona."""
    from segment_report.pipeline.stages.drivers import explain_drivers
    from segment_report.pipeline.synthetic.evaluation import generated_customers

    customers, _, _ = generated_customers(data_dir, {"persona_id": "segment_id",
                                                     "satisfaction": "positive_prob"})
    return explain_drivers(customers, cfg.drivers, seed).report

if __name__ == "__main__":
    main()
