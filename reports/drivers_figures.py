"""Driver figures drawn from saved results (``drivers.json`` + ``shap_values.parquet``).

Nothing is recomputed from the customer table: every mark comes from the report dict or the
SHAP frame, so ``segment-report render`` can redraw them. Each figure is saved as SVG (HTML
site) and PNG (PDFs) with ``bbox_inches="tight"`` so no label is clipped.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure

from segment_report.reports import formatting as fmt

_BLUE, _RED, _GREY = "#2563eb", "#dc2626", "#6b7280"
_MAX_FEATURES = 12


def figure_slug(name: str) -> str:
    """File-name part of a feature's figure: ``top_category=Home Decor`` -> ``top_category_home_decor``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _wrap(label: str, width: int = 34) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label


def _save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """Save as SVG and PNG; fixed metadata and hash salt keep the SVG byte-stable."""
    paths = []
    with matplotlib.rc_context({"svg.hashsalt": "segment-report", "svg.fonttype": "path"}):
        for ext, meta in (("svg", {"Date": None}), ("png", {"Software": None})):
            path = out_dir / f"{stem}.{ext}"
            fig.savefig(path, bbox_inches="tight", dpi=150, metadata=meta)
            paths.append(path)
    return paths


def _unit(report: dict[str, Any]) -> str:
    symbol = fmt.currency_symbol()
    return f"predicted {report.get('target_label', report['target'])}" + (
        f" ({symbol})" if symbol else "")


def draw_driver_figures(report: dict[str, Any], shap_frame: pd.DataFrame,
                        out_dir: Path) -> list[Path]:
    """Draw the driver figures into ``out_dir``.

    Args:
        report: the drivers report (``results/drivers.json``).
        shap_frame: the saved SHAP frame (``results/shap_values.parquet``).
        out_dir: folder for the figures (created if missing).

    Returns:
        Paths written (SVG and PNG of each figure): ``drivers_beeswarm``,
        ``drivers_importance``, ``drivers_dependence_<feature>`` for the top features,
        ``drivers_segments`` and ``drivers_membership`` when segments were modelled. Empty
        when no model was fitted (constant target, too few customers).
    """
    if report.get("status") != "ok" or shap_frame is None or shap_frame.empty:
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = report["features"]["labels"]
    rows = report["global_importance"][:_MAX_FEATURES]
    paths: list[Path] = []
    paths += _beeswarm(report, shap_frame, rows, labels, out_dir)
    paths += _importance(report, rows, out_dir)
    n_dep = min(len(report["global_importance"]), max(1, _top_n(report)))
    for g in report["global_importance"][:n_dep]:
        paths += _dependence(report, shap_frame, g, out_dir)
    if len(report.get("segments", [])) > 1:
        paths += _segments(report, out_dir)
    models = [m for m in report.get("membership", {}).get("models", [])
              if m.get("status") == "ok" and m.get("features")]
    if models:
        paths += _membership(report, models, out_dir)
    return paths


def _top_n(report: dict[str, Any]) -> int:
    return int(report["shap_sampling"]["error_bound"].get("top_n", 5))


def _beeswarm(report, frame, rows, labels, out_dir) -> list[Path]:
    """One dot per explained customer: SHAP value (x), colour = feature value (low to high)."""
    rows = rows[::-1]
    fig = Figure(figsize=(8.5, 0.45 * len(rows) + 1.6))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)  # jitter only; fixed so figures are stable
    cmap = matplotlib.colormaps["coolwarm"]
    for y, g in enumerate(rows):
        s = frame[f"shap__{g['feature']}"].to_numpy(dtype=float)
        v = frame[f"value__{g['feature']}"].to_numpy(dtype=float)
        lo, hi = np.nanpercentile(v, [5, 95])
        colour = np.clip((v - lo) / (hi - lo), 0, 1) if hi > lo else np.full_like(v, 0.5)
        # vertical spread proportional to local density, like shap's beeswarm
        hist, edges = np.histogram(s, bins=50)
        dens = hist[np.clip(np.searchsorted(edges, s) - 1, 0, len(hist) - 1)] / max(hist.max(), 1)
        jitter = (rng.random(len(s)) - 0.5) * 0.8 * dens
        ax.scatter(s, y + jitter, c=cmap(colour), s=6, alpha=0.7, linewidths=0, rasterized=True)
    ax.axvline(0, color=_GREY, lw=0.8)
    ax.set_yticks(range(len(rows)), [_wrap(g["label"]) for g in rows])
    ax.set_xlabel(f"SHAP value: contribution to {_unit(report)}")
    ax.set_title("What the value model's predictions depend on (one dot per customer)",
                 loc="left", fontsize=11)
    sm = ScalarMappable(cmap=cmap)
    cbar = fig.colorbar(sm, ax=ax, ticks=[0, 1], pad=0.01, fraction=0.03)
    cbar.ax.set_yticklabels(["low", "high"])
    cbar.set_label("feature value")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(fig, out_dir, "drivers_beeswarm")


def _importance(report, rows, out_dir) -> list[Path]:
    """Mean |SHAP| with its bootstrap interval and the random-noise floor."""
    rows = rows[::-1]
    fig = Figure(figsize=(8, 0.4 * len(rows) + 1.6))
    ax = fig.add_subplot()
    vals = np.array([g["mean_abs_shap"] for g in rows])
    err = np.array([[g["mean_abs_shap"] - g["ci_low"], g["ci_high"] - g["mean_abs_shap"]]
                    for g in rows]).T
    colours = [_GREY if g["within_noise"] else (_BLUE if (g["effect"] or 0) >= 0 else _RED)
               for g in rows]
    ax.barh(range(len(rows)), vals, xerr=err, color=colours, ecolor="#111827", capsize=2)
    probe = report.get("noise_probes")
    if probe:
        ax.axvline(probe["floor"], color=_GREY, ls="--", lw=1)
        ax.text(probe["floor"], len(rows) - 0.4, " random-noise level", color=_GREY,
                fontsize=8, va="bottom")
    ax.set_yticks(range(len(rows)), [_wrap(g["label"]) for g in rows])
    pct = report["shap_sampling"]["ci_level_percent"]
    ax.set_xlabel(f"mean |SHAP|: average contribution to {_unit(report)} "
                  f"({pct}% bootstrap interval)")
    ax.set_title("Drivers of customer value (blue: higher value, red: lower, grey: within noise)",
                 loc="left", fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(fig, out_dir, "drivers_importance")


def _dependence(report, frame, g, out_dir) -> list[Path]:
    """Feature value vs its SHAP value, with the binned mean curve from the report."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    x = frame[f"value__{g['feature']}"].to_numpy(dtype=float)
    s = frame[f"shap__{g['feature']}"].to_numpy(dtype=float)
    if g.get("binary"):  # spread the two columns of dots so their density shows
        x = x + (np.random.default_rng(0).random(len(x)) - 0.5) * 0.3
    ax.scatter(x, s, s=6, alpha=0.35, color=_BLUE, linewidths=0, rasterized=True)
    dep = g.get("dependence") or []
    if dep and not g.get("binary"):
        # one flat segment per bin (no line drawn across value ranges without customers)
        ax.hlines([d["mean_shap"] for d in dep], [d["x_low"] for d in dep], [d["x_high"] for d in dep],
                  color="#111827", lw=2, label="mean per value bin")
        ax.plot([d["x_mean"] for d in dep], [d["mean_shap"] for d in dep], "o", color="#111827", ms=3)
        ax.legend(frameon=False, fontsize=8, loc="best")
    if g.get("binary"):
        ax.set_xticks([0, 1], ["no", "yes"])
    ax.axhline(0, color=_GREY, lw=0.8)
    ax.set_xlabel(_wrap(g["label"], 60))
    ax.set_ylabel(_wrap(f"contribution to {_unit(report)}", 40))
    ax.set_title(f"#{g['rank']} {g['label']}", loc="left", fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(fig, out_dir, f"drivers_dependence_{figure_slug(g['feature'])}")


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return int(np.ceil(n / cols)), cols


def _segments(report, out_dir) -> list[Path]:
    """Per segment: mean SHAP (signed) of its strongest features, i.e. why its value differs."""
    segs = report["segments"]
    nrows, ncols = _grid(len(segs))
    fig = Figure(figsize=(5.2 * ncols, 3.0 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, seg in zip(axes.ravel(), segs):
        top = seg["drivers"][:6][::-1]
        vals = [d["mean_shap"] for d in top]
        ax.barh(range(len(top)), vals, color=[_BLUE if v >= 0 else _RED for v in vals])
        ax.set_yticks(range(len(top)), [_wrap(d["label"], 28) for d in top], fontsize=8)
        ax.axvline(0, color=_GREY, lw=0.8)
        ax.set_title(_wrap(f"{seg['segment_name']} (n={seg['n_customers']:,})", 40),
                     loc="left", fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes.ravel()[len(segs):]:
        ax.set_visible(False)
    fig.supxlabel(f"mean SHAP in the segment: contribution to {_unit(report)} vs the average "
                  "customer", fontsize=9)
    return _save(fig, out_dir, "drivers_segments")


def _membership(report, models, out_dir) -> list[Path]:
    """Per segment: what sets it apart (membership model mean |SHAP|, higher/lower)."""
    nrows, ncols = _grid(len(models))
    fig = Figure(figsize=(5.2 * ncols, 3.0 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, mod in zip(axes.ravel(), models):
        top = mod["features"][:6][::-1]
        vals = [f["mean_abs_shap"] for f in top]
        ax.barh(range(len(top)), vals,
                color=[_BLUE if f["direction"] == "higher" else _RED for f in top])
        ax.set_yticks(range(len(top)), [_wrap(f"{f['label']} ({f['direction']})", 30)
                                        for f in top], fontsize=8)
        ax.set_title(_wrap(mod["segment_name"], 40), loc="left", fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes.ravel()[len(models):]:
        ax.set_visible(False)
    fig.supxlabel("mean |SHAP| of the membership model (probability of belonging); "
                  "blue: higher in the segment, red: lower", fontsize=9)
    return _save(fig, out_dir, "drivers_membership")

