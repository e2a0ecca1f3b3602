"""Draw every figure of a run from its saved results into ``<run>/figures/`` (SVG + PNG).

Re-drawn on every render, never computed from the inputs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from segment_report.pipeline.io.store import RunResults  # noqa: E402


def draw_embedding(customers: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Customers on the 2-D UMAP map, coloured by persona."""
    if not {"umap_x", "umap_y", "segment_name"} <= set(customers.columns):
        return []
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    sample = customers.sample(min(len(customers), 8000), random_state=0) if len(customers) > 8000 else customers
    for i, (name, group) in enumerate(sample.groupby("segment_name", sort=True)):
        ax.scatter(group["umap_x"], group["umap_y"], s=4, alpha=0.6, label=name, color=plt.cm.tab10(i % 10))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Customers by similarity (UMAP), coloured by persona", fontsize=11)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, markerscale=3, frameon=False)
    paths = []
    for ext in ("svg", "png"):
        path = Path(out_dir) / f"segments_map.{ext}"
        fig.savefig(path, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def draw_all(results: RunResults, out_dir: Path) -> dict[str, Path]:
    """Draw the figures the results allow; returns name -> SVG path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    drivers = results.drivers
    if drivers and results.shap_values is not None:
        from segment_report.reports.drivers_figures import draw_driver_figures

        written += draw_driver_figures(drivers, results.shap_values, out_dir)
    states = results.states
    if states:
        from segment_report.reports.maps import draw_static_map

        written.append(draw_static_map(states, out_dir / "states_map.svg"))
    written += draw_embedding(results.customers, out_dir)
    if results.clv is not None:
        from segment_report.reports.clv_figures import draw_calibration

        written += draw_calibration(results.clv, out_dir)
    return {p.stem: p for p in written if p.suffix == ".svg"}
