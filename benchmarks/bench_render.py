"""Render benchmark: ``render`` (site + Quarto + executive and persona PDFs) of a 100k-customer run.

Usage::

    python benchmarks/bench_render.py RUN_DIR [--customers 100000] [--reviews 100000]

RUN_DIR is a finished run folder (for example ``segment-report-demo/2026-10`` from
``segment-report demo``). The benchmark copies it and scales ``results/customers.parquet`` and
``results/reviews.parquet`` up to the requested sizes by repeating rows under new customer and
review ids (UMAP coordinates jittered so the embedding plot really draws N points), and
re-scales ``shap_values.parquet`` to the default ``drivers.shap_sample_size`` (2,000 explained customers). The JSON results (segments, drivers, states)
keep their shape: their size does not grow with the customer count. It then times
``reports.render.render_run`` for all formats in this process, imports included, and reports
each output's size and the executive PDF's page count.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def scale(frame: pd.DataFrame, n: int, id_cols: tuple[str, ...], rng: np.random.Generator) -> pd.DataFrame:
    """Repeat rows up to ``n`` with ids made unique by a copy suffix."""
    reps = int(np.ceil(n / max(len(frame), 1)))
    parts = []
    for k in range(reps):
        part = frame.copy()
        for col in id_cols:
            if col in part:
                part[col] = part[col].astype(str) + (f"-{k}" if k else "")
        for col in ("umap_x", "umap_y"):
            if col in part and k:
                part[col] = part[col] + rng.normal(0, 0.05, len(part))
        parts.append(part)
    return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reviews", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(shutil.copytree(args.run_dir, Path(tmp) / args.run_dir.name))
        results = run / "results"
        customers = pd.read_parquet(results / "customers.parquet")
        scale(customers, args.customers, ("customer_id",), rng).to_parquet(results / "customers.parquet")
        reviews = pd.read_parquet(results / "reviews.parquet")
        scale(reviews, args.reviews, ("customer_id", "review_id"), rng).to_parquet(results / "reviews.parquet")
        shap_path = results / "shap_values.parquet"
        if shap_path.exists():
            shap = pd.read_parquet(shap_path)
            scale(shap, min(args.customers, 2_000), ("customer_id",), rng).to_parquet(shap_path)  # shap_sample_size
        for folder in ("site", "quarto", "pdf", "figures"):
            shutil.rmtree(run / folder, ignore_errors=True)
        t0 = time.perf_counter()
        from segment_report.reports.render import render_run

        written = render_run(run)
        seconds = time.perf_counter() - t0
        exec_pdf = run / "pdf" / "executive-summary.pdf"
        import subprocess

        info = subprocess.run(["pdfinfo", str(exec_pdf)], capture_output=True, text=True).stdout
        pages = next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "?")
        site_mb = sum(p.stat().st_size for p in (run / "site").rglob("*") if p.is_file()) / 1e6
        print(f"customers {args.customers:,}, reviews {args.reviews:,}")
        print(f"render_run (html + quarto + pdf, imports included): {seconds:.1f} s; {len(written)} files")
        print(f"executive PDF: {pages} pages, {exec_pdf.stat().st_size / 1e6:.2f} MB; "
              f"persona PDFs: {len(list((run / 'pdf' / 'personas').glob('*.pdf')))}; site: {site_mb:.1f} MB")
        print(f"process wall time: {time.perf_counter() - T_START:.1f} s")


if __name__ == "__main__":
    main()
