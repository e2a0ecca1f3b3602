"""Do the planted drivers of spend come out as planted? The whole product on generated data.

For each seed: ``segment-report generate`` data (default config: +15 % order value per +0.1
satisfaction), one ``run`` of the last month with the product's defaults (shipped sentiment
model, UMAP + HDBSCAN personas, value model + SHAP), then ``ground_truth.json``'s planted
drivers (observational Shapley values in dollars, ties within 10 %) next to ``drivers.json``'s
driver groups (``compare_planted_drivers``).

    nice -n 10 python benchmarks/bench_drivers_planted.py --seeds 42 7 11
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
    args = parser.parse_args()

    from pipeline.config import load_config
    from pipeline.log import setup_logging
    from pipeline.runner import run_pipeline
    from pipeline.synthetic import GenerateConfig, compare_planted_drivers, generate_dataset

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
            result = run_pipeline(load_config(data.config_file, {
                "run.out_dir": str(out), "seed": seed, "run.period": gen.end_date[:7]}))
            truth = json.loads(data.truth_file.read_text())
            drivers = json.loads((result.run_dir / "results" / "drivers.json").read_text())
            rows = compare_planted_drivers(truth, drivers)
            exact = compare_planted_drivers(truth, drivers, EXACTLY_MEASURED)
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
            print(f"  directions, detection and the exactly measured drivers' ranks as planted: "
                  f"{'yes' if ok else 'NO'}; review sentiment's rank too: {'yes' if every else 'no'}")
    print(f"\nas planted (directions, detection, exactly measured ranks) in {as_planted} of "
          f"{len(args.seeds)} seeds")

if __name__ == "__main__":
    main()
