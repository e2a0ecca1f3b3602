"""The value model's inputs: which customer columns are used, how they are encoded, and their
display labels and driver groups (see the package docstring for the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.config import DriversConfig
from segment_report.pipeline.stages.findings import note

ID_COLUMNS = ("customer_id",)
SEGMENT_COLUMNS = ("segment_id", "segment_name", "membership_strength", "was_noise", "umap_x",
                   "umap_y")
GEOGRAPHY_COLUMNS = ("state", "country")
NOISE_PROBES = ("noise_probe_1", "noise_probe_2", "noise_probe_3")
ORDINAL_LEVELS = {"income_band": ("low", "medium", "high")}
#: Why a column is left out of the value model (``Features.dropped[].code``).
DROP_CODES = ("geography_column", "too_many_levels", "all_missing", "constant")

# Related measures whose SHAP values are added up into one driver group (SHAP is additive, so
# a group's value per customer is the sum of its members'); one-hot levels of one column and a
# column's missing flag are grouped with it as well.
SENTIMENT_FEATURES = ("positive_prob", "positive_prob_recent", "share_negative", "sentiment_missing")
GROUP_LABELS = {"review_sentiment": "All review-sentiment measures",
                "category_mix": "Category mix"}

_BASE_LABELS = {
    "recency_days": "Days since last order",
    "frequency": "Purchase frequency",
    "monetary": "Spend",
    "avg_order_value": "Average order value",
    "items_per_order": "Basket size (items per order)",
    "tenure_days": "Customer tenure (days)",
    "age": "Age",
    "income": "Income",
    "income_band": "Income band",
    "is_us": "US customer",
    "review_count": "Number of reviews",
    "positive_prob": "Review sentiment",
    "positive_prob_recent": "Recent review sentiment",
    "share_negative": "Share of negative reviews",
    "sentiment_missing": "No scored review",
}



def feature_label(name: str) -> str:
    """A human-readable label for an (encoded) feature name, e.g. ``cat_share_home_decor``."""
    if name in _BASE_LABELS:
        return _BASE_LABELS[name]
    if name.startswith("cat_share_"):
        return "Share of spend on " + name.removeprefix("cat_share_").replace("_", " ")
    if name.endswith("_missing"):
        return feature_label(name.removesuffix("_missing")) + " unknown"
    if "=" in name:
        column, level = name.split("=", 1)
        return f"{feature_label(column)}: {level}"
    return name.replace("_", " ").capitalize()



def driver_group(feature: str, source: dict[str, str]) -> str:
    """The driver group a value-model feature belongs to (its own name when it stands alone)."""
    base = source.get(feature, feature)
    if base in SENTIMENT_FEATURES:
        return "review_sentiment"
    if base.startswith("cat_share_") or base == "top_category":
        return "category_mix"
    return base


@dataclass
class Features:
    frame: pd.DataFrame              # encoded, imputed, float
    dropped: list[dict[str, Any]]    # columns not used: feature, code (DROP_CODES), params
    binary: set[str]
    source: dict[str, str]           # encoded feature -> original column


def encode_features(customers: pd.DataFrame, cfg: DriversConfig) -> Features:
    """Numeric design matrix from the customer table (see module docstring for the rules)."""
    skip = {cfg.target, *ID_COLUMNS, *SEGMENT_COLUMNS}
    dropped: list[dict[str, Any]] = []
    parts: dict[str, pd.Series] = {}
    binary: set[str] = set()
    source: dict[str, str] = {}
    for column in customers.columns:
        if column in skip:
            continue
        series = customers[column]
        if column in GEOGRAPHY_COLUMNS:
            dropped.append({"feature": column, **note("geography_column")})
            continue
        if column in ORDINAL_LEVELS:
            levels = ORDINAL_LEVELS[column]
            text = series.astype("string").str.lower()
            codes = text.map({lvl: float(i) for i, lvl in enumerate(levels)})
            parts[column] = pd.to_numeric(codes, errors="coerce").astype(float)
            source[column] = column
            continue
        if pd.api.types.is_bool_dtype(series):
            parts[column] = series.astype("float64")
            source[column] = column
            binary.add(column)
            continue
        if pd.api.types.is_numeric_dtype(series):
            parts[column] = pd.to_numeric(series, errors="coerce").astype("float64")
            source[column] = column
            continue
        text = series.astype("string")
        levels = text.dropna().unique()
        if len(levels) > cfg.max_category_levels:
            dropped.append({"feature": column, **note("too_many_levels", levels=len(levels),
                                                      limit=cfg.max_category_levels)})
            continue
        for level in sorted(str(v) for v in levels):
            name = f"{column}={level}"
            parts[name] = (text == level).fillna(False).astype("float64")
            source[name] = column
            binary.add(name)
    frame = pd.DataFrame(parts, index=customers.index)
    out: dict[str, pd.Series] = {}
    for name in frame.columns:
        col = frame[name].replace([np.inf, -np.inf], np.nan)
        if col.isna().all():
            dropped.append({"feature": name, **note("all_missing")})
            continue
        if col.isna().any():
            out[name + "_missing"] = col.isna().astype("float64")
            source[name + "_missing"] = source[name]
            binary.add(name + "_missing")
            col = col.fillna(col.median())
        if col.nunique() <= 1:
            dropped.append({"feature": name, **note("constant")})
            continue
        if col.nunique() == 2 and set(col.unique()) <= {0.0, 1.0}:
            binary.add(name)
        out[name] = col
    for name in [n for n in out if n.endswith("_missing")]:
        if out[name].nunique() <= 1:
            del out[name]
    return Features(pd.DataFrame(out, index=customers.index), dropped, binary, source)

