"""Ingest throughput: validate N generated transactions (default 1M, messy) and print rows/s.

Usage: python benchmarks/bench_ingest.py [--transactions 1000000]
Target (issue 2): >= 100,000 rows/s on the 2-core dev machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from segment_report.pipeline.config import load_config
from segment_report.pipeline.stages.ingest.stage import ingest
from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = generate_dataset(GenerateConfig(n_transactions=args.transactions, messy=True, seed=7),
                                Path(tmp) / "data")
        gen_s = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in data.data_files.values()) / 1e6
        cfg = load_config(data.config_file)
        t0 = time.perf_counter()
        result = ingest(cfg.input, cfg.privacy)
        ingest_s = time.perf_counter() - t0
    rows = result.quality["totals"]["rows_read"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"generated {rows:,} rows ({size_mb:.0f} MB CSV) in {gen_s:.1f} s")
    print(f"ingest (read + normalise + validate + quarantine): {ingest_s:.2f} s "
          f"= {rows / ingest_s:,.0f} rows/s")
    print(f"kept {result.quality['totals']['rows_kept']:,}, quarantined "
          f"{result.quality['totals']['rows_quarantined']:,}, duplicates "
          f"{result.quality['totals']['duplicates_dropped']:,}")


if __name__ == "__main__":
    main()
