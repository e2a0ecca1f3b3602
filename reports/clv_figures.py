"""The CLV calibration figure, drawn once from ``results/clv.json`` (SVG for the site and the
Quarto project, PNG beside it), never recomputed from the inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segment_report.reports.drivers_figures import _BLUE, _GREY, _save

CALIBRATION = "clv_calibration"


def draw_calibration(clv: Any, out_dir: Path) -> list[Path]:
    """Mean predicted against mean actual purchase days per decile of predicted orders in the
    time-split check (``validation.calibration``); nothing when the stage was skipped."""
    import matplotlib.pyplot as plt

    if clv is None or clv.get("status") != "fitted":
        return []
    rows = (clv.get("validation") or {}).get("calibration") or []
    if not rows:
        return []
    deciles = [r["decile"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(deciles, [r["actual_orders"] for r in rows], marker="s", color=_GREY, label="actual")
    ax.plot(deciles, [r["predicted_orders"] for r in rows], marker="o", color=_BLUE, label="predicted")
    ax.set_xticks(deciles)
    ax.set_xlabel("Decile of predicted orders (1 = expected to buy least)")
    ax.set_ylabel("Mean purchase days per customer")
    months = clv["validation"].get("holdout_months")
    ax.set_title(f"Hold-out check: predicted vs actual purchase days ({months}-month hold-out)", fontsize=11)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = _save(fig, out_dir, CALIBRATION)
    plt.close(fig)
    return paths
