"""Drivers: what is associated with customer value, overall and per persona.

Flow (all inside :func:`explain_drivers`, no I/O):

1. Features: numeric columns of the customer table are used as they are, booleans as 0/1,
   ``income_band`` as an ordered code (low < medium < high), other text columns with few
   levels one-hot encoded. Identifiers, ``state``/``country`` (geography has its own stage; the
   model keeps ``is_us``), segment columns and the target are never value-model inputs.
   Missing numbers are filled with the median plus a ``<name>_missing`` indicator.
2. Leakage guard: on a row sample, every single feature and every pair's product, ratios and
   sum is scored against the target (the best of Pearson r², Spearman rho² and, for larger
   samples, a binned R²). Scores >= ``drivers.leakage_r2`` mean the target can be rebuilt from
   the inputs (``avg_order_value x frequency = monetary``); such features are excluded with a
   note, as are ``drivers.exclude_features``.
3. Value model: a bounded RandomForestRegressor; held-out R² and MAE.
4. SHAP (TreeExplainer, exact path-dependent TreeSHAP) on a segment-stratified sample with
   inverse-probability weights; a stratified bootstrap gives confidence intervals for mean
   |SHAP| and for each top feature's effect. A feature is "within noise" when its |SHAP|
   interval reaches the floor set by three random probe columns trained with the model, its
   effect interval includes zero, or its share of importance is below ``drivers.min_share``.
   Additivity (base value + SHAP sum = prediction) is checked on every explained row.
5. Per-segment mean SHAP, and one-vs-rest RandomForestClassifier membership models explained
   with SHAP (what defines each persona).
6. Narratives: sentences built only from rounded values stored in the report, each sentence
   carrying the numbers it uses and the report paths they come from.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import mean_absolute_error, r2_score, roc_auc_score

from segment_report.pipeline.config import DriversConfig
from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.log import logger

ID_COLUMNS = ("customer_id",)
SEGMENT_COLUMNS = ("segment_id", "segment_name", "membership_strength", "was_noise", "umap_x",
                   "umap_y")
GEOGRAPHY_COLUMNS = ("state", "country")
NOISE_PROBES = ("noise_probe_1", "noise_probe_2", "noise_probe_3")
ORDINAL_LEVELS = {"income_band": ("low", "medium", "high")}

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


# --------------------------------------------------------------------------- result

@dataclass(frozen=True)
class DriversResult:
    """Output of :func:`explain_drivers`.

    Attributes:
        report: JSON-serialisable dict for ``results/drivers.json`` (deterministic for a seed).
        shap: one row per explained customer: ``customer_id``, ``segment_id``/``segment_name``
            (when present), ``weight`` (inverse sampling probability), ``prediction``, the
            target, then ``value__<feature>`` and ``shap__<feature>`` for each model feature;
            saved as ``results/shap_values.parquet``. Empty when no model was fitted.
        timings: seconds per step (not part of the report, which must be reproducible).
    """

    report: dict[str, Any]
    shap: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _lap(timings: dict[str, float], step: str, start: tuple[float, float]) -> None:
    """Record wall seconds and CPU seconds (all threads of this process) of one step."""
    timings[step] = time.perf_counter() - start[0]
    timings[step + "_cpu"] = time.process_time() - start[1]


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


def mid_sentence(label: str) -> str:
    """A label as it reads after the start of a sentence: ``Days since last order`` -> ``days
    since last order``; labels that start with an acronym (``US customer``) stay as they are."""
    return label[:1].lower() + label[1:] if label[:2] != label[:2].upper() else label


def quantity_phrase(label: str) -> str:
    """A feature label as a quantity mid-sentence: ``Share of spend on electronics`` ->
    ``a share of spend on electronics``, ``Days since last order`` -> ``days since last order``."""
    if label.startswith("Share of spend on "):
        return "a " + mid_sentence(label)
    return mid_sentence(label)


# --------------------------------------------------------------------------- helpers

def _json_number(value: Any) -> Any:
    """Plain Python numbers for JSON; NaN/inf become None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def round_sig(value: float | None, digits: int = 3) -> float | int | None:
    """Round to ``digits`` significant figures (whole numbers come back as int).

    The narratives print exactly these values, so tests can compare text to report.
    """
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    rounded = round(float(value), decimals)
    return int(rounded) if float(rounded).is_integer() else rounded


def format_number(value: float | int) -> str:
    """How narratives print a rounded number: thousands separators, no trailing zeros."""
    if float(value).is_integer():
        return f"{int(value):,}"
    text = f"{value:,.10f}".rstrip("0").rstrip(".")
    return text


def _money(value: float | int, symbol: str) -> str:
    return f"{symbol}{format_number(value)}"


def _rank(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share a rank), as used by Spearman's rho."""
    return pd.Series(values).rank(method="average").to_numpy()


def _r2_pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    r = np.corrcoef(x, y)[0, 1]
    return float(r * r) if np.isfinite(r) else 0.0


def _r2_binned(x: np.ndarray, y: np.ndarray, n_bins: int) -> float:
    """Correlation ratio: share of the target's variance explained by quantile bins of ``x``."""
    bins = pd.qcut(pd.Series(x).rank(method="first"), n_bins, labels=False)
    total = np.var(y)
    if total == 0:
        return 0.0
    means = pd.Series(y).groupby(bins.to_numpy()).transform("mean").to_numpy()
    return float(1.0 - np.mean((y - means) ** 2) / total)


def _leak_score(x: np.ndarray, y: np.ndarray, y_rank: np.ndarray, binned: bool = True) -> float:
    """How well ``x`` alone rebuilds ``y``: best of Pearson r², Spearman rho², binned R².

    The binned R² (any shape, not only monotone) is used for single features only: it is the
    slow part and pair combinations are monotone in practice (products, ratios, sums).
    """
    ok = np.isfinite(x)
    if ok.sum() < max(10, 0.9 * len(x)):
        return 0.0
    x, y, y_rank = x[ok], y[ok], y_rank[ok]
    if np.unique(x).size < 3:
        return 0.0
    score = max(_r2_pearson(x, y), _r2_pearson(_rank(x), y_rank))
    if binned and len(x) >= 2000 and score < 0.999:
        score = max(score, _r2_binned(x, y, min(50, len(x) // 100)))
    return score


# --------------------------------------------------------------------------- features

@dataclass
class _Features:
    frame: pd.DataFrame              # encoded, imputed, float
    dropped: list[dict[str, str]]    # columns not used and why
    binary: set[str]
    source: dict[str, str]           # encoded feature -> original column


def _encode_features(customers: pd.DataFrame, cfg: DriversConfig) -> _Features:
    """Numeric design matrix from the customer table (see module docstring for the rules)."""
    skip = {cfg.target, *ID_COLUMNS, *SEGMENT_COLUMNS}
    dropped: list[dict[str, str]] = []
    parts: dict[str, pd.Series] = {}
    binary: set[str] = set()
    source: dict[str, str] = {}
    for column in customers.columns:
        if column in skip:
            continue
        series = customers[column]
        if column in GEOGRAPHY_COLUMNS:
            dropped.append({"feature": column, "reason": "geography is analysed in its own "
                            "stage; the value model uses is_us instead of 50 state levels"})
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
            dropped.append({"feature": column, "reason": f"text column with {len(levels)} "
                            f"levels (more than drivers.max_category_levels = "
                            f"{cfg.max_category_levels})"})
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
            dropped.append({"feature": name, "reason": "no values (all missing)"})
            continue
        if col.isna().any():
            out[name + "_missing"] = col.isna().astype("float64")
            source[name + "_missing"] = source[name]
            binary.add(name + "_missing")
            col = col.fillna(col.median())
        if col.nunique() <= 1:
            dropped.append({"feature": name, "reason": "the same value for every customer"})
            continue
        if col.nunique() == 2 and set(col.unique()) <= {0.0, 1.0}:
            binary.add(name)
        out[name] = col
    for name in [n for n in out if n.endswith("_missing")]:
        if out[name].nunique() <= 1:
            del out[name]
    return _Features(pd.DataFrame(out, index=customers.index), dropped, binary, source)


def _leakage_guard(X: pd.DataFrame, y: np.ndarray, cfg: DriversConfig, binary: set[str],
                   rng: np.random.Generator) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Features from which the target can be rebuilt almost exactly (single or pair).

    Returns:
        (excluded, checked): excluded entries carry feature, reason, source, relation, partner
        and score; checked says how many singles/combinations and rows were scored.
    """
    n = len(X)
    rows = np.sort(rng.choice(n, size=min(n, cfg.leakage_sample_size), replace=False))
    Xs = X.to_numpy(dtype=float)[rows]
    ys = y[rows].astype(float)
    y_rank = _rank(ys)
    names = list(X.columns)
    excluded: list[dict[str, Any]] = []
    single = {}
    for j, name in enumerate(names):
        single[name] = _leak_score(Xs[:, j], ys, y_rank)
        if single[name] >= cfg.leakage_r2:
            excluded.append({"feature": name, "source": "data", "relation": "single",
                             "partner": None, "score": single[name],
                             "reason": f"{name} alone rebuilds {cfg.target} "
                                       f"(score {single[name]:.4f} >= {cfg.leakage_r2})"})
    gone = {e["feature"] for e in excluded}
    continuous = [j for j, nm in enumerate(names) if nm not in binary and nm not in gone]
    n_combos = 0
    leaks: list[tuple[str, str, str, float]] = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for ai, a in enumerate(continuous):
            for b in continuous[ai + 1:]:
                xa, xb = Xs[:, a], Xs[:, b]
                combos = {"product": xa * xb, "sum": xa + xb,
                          "ratio": np.where(xb != 0, xa / xb, np.nan),
                          "inverse ratio": np.where(xa != 0, xb / xa, np.nan)}
                for relation, values in combos.items():
                    n_combos += 1
                    score = _leak_score(values, ys, y_rank, binned=False)
                    if score >= cfg.leakage_r2:
                        leaks.append((names[a], names[b], relation, score))
                        break
    # Exclude one member per leaking pair. Keep the count-like (integer) member: averages and
    # ratios are derived from counts and totals (avg_order_value = monetary / frequency).
    def is_count(name: str) -> bool:
        col = X[name].to_numpy()
        return bool(np.all(np.equal(np.mod(col, 1), 0)))

    remaining = list(leaks)
    while remaining:
        counts: dict[str, int] = {}
        for a, b, _, _ in remaining:
            counts[a] = counts.get(a, 0) + 1
            counts[b] = counts.get(b, 0) + 1
        candidates = sorted(counts, key=lambda nm: (-counts[nm], is_count(nm), -single[nm]))
        victim = candidates[0]
        pairs = [(p, q, r, s) for p, q, r, s in remaining if victim in (p, q)]
        p, q, relation, score = pairs[0]
        partner = q if victim == p else p
        excluded.append({"feature": victim, "source": "data", "relation": relation,
                         "partner": partner, "score": score,
                         "reason": f"the {relation} of {p} and {q} rebuilds {cfg.target} "
                                   f"(score {score:.4f} >= {cfg.leakage_r2}); {victim} left "
                                   f"out, {partner} kept"})
        remaining = [t for t in remaining if victim not in (t[0], t[1])]
    checked = {"single_features": len(names), "pair_combinations": n_combos,
               "sample_rows": int(len(rows)), "threshold": cfg.leakage_r2,
               "score": "max of Pearson r2, Spearman rho2 and (>= 2,000 rows) binned R2"}
    return excluded, checked


# --------------------------------------------------------------------------- sampling

def _stratified_sample(strata: np.ndarray, size: int, floor: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Row positions of a stratified random sample and their inverse-probability weights.

    Proportional allocation with at least ``floor`` rows per stratum (or all of it).
    """
    n = len(strata)
    keys, inverse = np.unique(strata, return_inverse=True)
    if n <= size:
        return np.arange(n), np.ones(n), [
            {"stratum": _json_number(k), "n_population": int((inverse == i).sum()),
             "n_sampled": int((inverse == i).sum())} for i, k in enumerate(keys)]
    picked, weights, design = [], [], []
    for i, key in enumerate(keys):
        members = np.flatnonzero(inverse == i)
        want = max(min(floor, len(members)), int(round(size * len(members) / n)))
        want = min(want, len(members))
        chosen = np.sort(rng.choice(members, size=want, replace=False))
        picked.append(chosen)
        weights.append(np.full(want, len(members) / want))
        design.append({"stratum": _json_number(key), "n_population": int(len(members)),
                       "n_sampled": int(want)})
    order = np.concatenate(picked)
    w = np.concatenate(weights)
    sort = np.argsort(order, kind="stable")
    return order[sort], w[sort], design


def _bootstrap_counts(strata: np.ndarray, reps: int, rng: np.random.Generator) -> np.ndarray:
    """(reps, n) resampling counts of a bootstrap that resamples within each stratum."""
    n = len(strata)
    counts = np.zeros((reps, n))
    for key in np.unique(strata):
        members = np.flatnonzero(strata == key)
        draws = rng.integers(0, len(members), size=(reps, len(members)))
        for r in range(reps):
            np.add.at(counts[r], members[draws[r]], 1.0)
    return counts


# --------------------------------------------------------------------------- SHAP

def _tree_shap(model: Any, X: np.ndarray, backend: str) -> tuple[np.ndarray, float, str]:
    """Exact TreeSHAP values (n, p), the base value and which backend computed them.

    GPU TreeSHAP is used when shap was built with CUDA (``shap._cext_gpu``); the PyPI wheels are
    CPU-only, so ``auto`` falls back to the CPU explainer.
    """
    import shap

    explainer = None
    used = "cpu"
    if backend in ("auto", "gpu"):
        try:
            from shap import _cext_gpu  # noqa: F401  (only present in CUDA builds)

            explainer = shap.GPUTreeExplainer(model)
            used = "gpu"
        except Exception:  # noqa: BLE001 - any failure means "no GPU TreeSHAP here"
            if backend == "gpu":
                logger.warning("drivers: GPU TreeSHAP not available in this shap build; "
                               "using the CPU TreeExplainer")
    if explainer is None:
        explainer = shap.TreeExplainer(model)
    values = explainer.shap_values(X, check_additivity=False)
    base = explainer.expected_value
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
        base = base[-1]
    values = np.asarray(values, dtype=float)
    if values.ndim == 3:  # classifier: (n, p, classes) -> the positive class
        values = values[:, :, -1]
        base = np.asarray(base).ravel()[-1]
    return values, float(np.asarray(base).ravel()[0]), used


def _dependence(x: np.ndarray, s: np.ndarray, w: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Weighted mean SHAP per quantile bin of the feature (the dependence curve)."""
    uniq = np.unique(x)
    if uniq.size <= n_bins:
        groups = np.searchsorted(uniq, x)
        lows = highs = uniq
    else:
        edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
        groups = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        lows, highs = edges[:-1], edges[1:]
    out = []
    for g in range(len(lows)):
        mask = groups == g
        if not mask.any():
            continue
        out.append({"x_low": float(lows[g]), "x_high": float(highs[g]),
                    "x_mean": float(np.average(x[mask], weights=w[mask])),
                    "mean_shap": float(np.average(s[mask], weights=w[mask])),
                    "n": int(mask.sum())})
    return out


def _shape(dep: list[dict], direction: str) -> tuple[str, float | None]:
    """Where along the feature most of the change happens: steady, mostly above/below X."""
    if direction not in ("increasing", "decreasing") or len(dep) < 4:
        return ("flat" if direction == "flat" else "mixed" if direction == "mixed"
                else "steady"), None
    m = np.array([d["mean_shap"] for d in dep])
    if direction == "decreasing":
        m = -m
    total = m[-1] - m[0]
    if total <= 0:
        return "mixed", None
    cum = (m - m[0]) / total
    k = len(m)
    low_part = np.flatnonzero(cum <= 0.25)
    j = int(low_part.max()) if low_part.size else 0
    if j >= 0.4 * (k - 1):
        return "mostly_above", dep[j]["x_high"]
    high_part = np.flatnonzero(cum >= 0.75)
    j = int(high_part.min()) if high_part.size else k - 1
    if j <= 0.6 * (k - 1):
        return "mostly_below", dep[j]["x_high"]
    return "steady", None


# --------------------------------------------------------------------------- stage

def driver_group(feature: str, source: dict[str, str]) -> str:
    """The driver group a value-model feature belongs to (its own name when it stands alone)."""
    base = source.get(feature, feature)
    if base in SENTIMENT_FEATURES:
        return "review_sentiment"
    if base.startswith("cat_share_") or base == "top_category":
        return "category_mix"
    return base


def _group_importance(S: np.ndarray, used: list[str], source: dict[str, str],
                      labels: dict[str, str], weights: np.ndarray, W: np.ndarray,
                      alpha: float, noise_floor: float, min_share: float) -> list[dict[str, Any]]:
    """Mean |SHAP| of driver groups (members' SHAP summed per customer), ranked, with the same
    bootstrap interval and noise rules as single features."""
    members: dict[str, list[int]] = {}
    for j, name in enumerate(used):
        members.setdefault(driver_group(name, source), []).append(j)
    keys = list(members)
    G = np.abs(np.column_stack([S[:, members[k]].sum(axis=1) for k in keys]))
    imp = np.average(G, axis=0, weights=weights)
    boot = (W @ G) / W.sum(axis=1)[:, None]
    lo, hi = np.quantile(boot, [alpha, 1 - alpha], axis=0)
    total = imp.sum()
    rows = []
    for rank, g in enumerate(np.argsort(-imp, kind="stable"), start=1):
        key, cols = keys[g], members[keys[g]]
        share = float(imp[g] / total) if total > 0 else 0.0
        rows.append({
            "group": key, "rank": rank,
            "label": GROUP_LABELS.get(key) or (labels[used[cols[0]]] if len(cols) == 1
                                               else feature_label(key)),
            "features": [used[j] for j in cols],
            "mean_abs_shap": float(imp[g]), "ci_low": float(lo[g]), "ci_high": float(hi[g]),
            "share": share,
            "within_noise": bool(lo[g] <= noise_floor or share < min_share),
            "rounded": {"mean_abs_shap": round_sig(float(imp[g])),
                        "share_percent": round_sig(share * 100, 2)},
        })
    return rows


def _empty_report(customers: pd.DataFrame, cfg: DriversConfig, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "target": cfg.target,
        "target_label": cfg.target_label,
        "currency_symbol": cfg.currency_symbol,
        "n_customers": int(len(customers)),
        "n_customers_used": 0,
        "notes": [],
        "features": {"used": [], "labels": {}, "dropped": []},
        "leakage": {"excluded": [], "checked": None},
        "model": None,
        "shap_sampling": None,
        "global_importance": [],
        "group_importance": [],
        "segments": [],
        "sentiment_coverage": None,
        "membership": {"status": "not_fitted", "models": []},
        "narratives": [],
    }


def _sentence(report: dict, sid: str, text: str, numbers: dict[str, Any],
              sources: dict[str, str], labels: list[str]) -> None:
    report["narratives"].append({"id": sid, "text": text, "numbers": numbers,
                                 "sources": sources, "labels": labels})


def explain_drivers(customers: pd.DataFrame, cfg: DriversConfig, seed: int) -> DriversResult:
    """Explain customer value: leakage-guarded spend model, SHAP, personas, narratives.

    Args:
        customers: the customer feature table (one row per customer); sentiment columns and
            ``segment_id``/``segment_name`` are optional.
        cfg: the ``drivers`` config section.
        seed: random seed (sampling, forests, bootstrap).

    Returns:
        :class:`DriversResult` with the report dict (``results/drivers.json``), the SHAP
        frame (``results/shap_values.parquet``) and step timings. A constant target, too few
        customers or no usable feature give ``status`` other than ``"ok"``, no model and a
        narrative saying why.

    Raises:
        ConfigError: ``drivers.target`` is not a numeric column of the table.
    """
    timings: dict[str, float] = {}
    t0 = _now()
    if cfg.target not in customers.columns:
        raise ConfigError(f"drivers.target '{cfg.target}' is not a column of the customer table",
                          expected="one of: " + ", ".join(
                              c for c in customers.columns
                              if pd.api.types.is_numeric_dtype(customers[c])),
                          fix="set drivers.target to a numeric customer column, e.g. monetary")
    if not pd.api.types.is_numeric_dtype(customers[cfg.target]) or \
            pd.api.types.is_bool_dtype(customers[cfg.target]):
        raise ConfigError(f"drivers.target '{cfg.target}' is not numeric "
                          f"(dtype {customers[cfg.target].dtype})",
                          expected="a numeric column such as monetary",
                          fix="set drivers.target to a numeric customer column")
    rng = np.random.default_rng(seed)
    report = _empty_report(customers, cfg, "ok")
    money = cfg.currency_symbol
    label_t = cfg.target_label
    y_all = pd.to_numeric(customers[cfg.target], errors="coerce").astype(float)
    keep = np.isfinite(y_all.to_numpy())
    data = customers.loc[keep].reset_index(drop=True)
    y = y_all[keep].to_numpy()
    report["n_customers_used"] = int(len(data))
    report["sentiment_coverage"] = _sentiment_coverage(data)
    if (~keep).any():
        report["notes"].append(f"{int((~keep).sum())} customers without a {cfg.target} value "
                               "were left out")

    if len(data) < cfg.min_customers:
        report["status"] = "too_few_customers"
        _sentence(report, "too_few",
                  f"Only {format_number(len(data))} customers have a {label_t} value, fewer than "
                  f"the {format_number(cfg.min_customers)} needed for a reliable value model, so "
                  "no drivers were estimated.",
                  {"n": len(data), "min": cfg.min_customers},
                  {"n": "/n_customers_used", "min": "/min_customers"}, [])
        report["min_customers"] = cfg.min_customers
        return DriversResult(report, pd.DataFrame(), timings)
    if np.ptp(y) == 0:
        report["status"] = "constant_target"
        report["target_value"] = _json_number(y[0])
        report["target_value_rounded"] = round_sig(float(y[0]))
        value = report["target_value_rounded"]
        _sentence(report, "constant_target",
                  f"{label_t.capitalize()} is the same for every customer "
                  f"({_money(value, money)}), so there is nothing to explain: no value model was "
                  "fitted.", {"value": value}, {"value": "/target_value_rounded"}, [label_t])
        return DriversResult(report, pd.DataFrame(), timings)

    # ---- features and leakage
    feats = _encode_features(data, cfg)
    report["features"]["dropped"] = feats.dropped
    X_all = feats.frame
    for name in cfg.exclude_features:
        matched = [c for c in X_all.columns if feats.source.get(c) == name or c == name]
        if not matched:
            report["notes"].append(f"drivers.exclude_features names '{name}', which is not a "
                                   "feature of this table")
        for col in matched:
            report["leakage"]["excluded"].append(
                {"feature": col, "source": "config", "relation": None, "partner": None,
                 "score": None, "reason": "listed in drivers.exclude_features"})
    config_excluded = {e["feature"] for e in report["leakage"]["excluded"]}
    X_guard = X_all.drop(columns=sorted(config_excluded))
    t = _now()
    leaked, checked = _leakage_guard(X_guard, y, cfg, feats.binary, rng)
    _lap(timings, "leakage_guard", t)
    for entry in leaked:
        entry["score"] = _json_number(entry["score"])
        entry["score_rounded"] = round_sig(entry["score"], 4)
    report["leakage"]["excluded"].extend(leaked)
    for entry in report["leakage"]["excluded"]:
        logger.info("drivers: %s left out of the value model: %s", entry["feature"], entry["reason"])
    report["leakage"]["checked"] = checked
    excluded = {e["feature"] for e in report["leakage"]["excluded"]}
    used = [c for c in X_all.columns if c not in excluded]
    labels = {c: feature_label(c) for c in X_all.columns}
    labels[cfg.target] = feature_label(cfg.target)
    report["features"]["used"] = used
    report["features"]["labels"] = labels
    for i, entry in enumerate(e for e in report["leakage"]["excluded"] if e["source"] == "config"):
        _sentence(report, f"excluded_{i}", f"{labels[entry['feature']]} was left out of the "
                  "value model as configured (drivers.exclude_features).", {}, {},
                  [labels[entry["feature"]]])
    for i, entry in enumerate(leaked):
        if entry["relation"] == "single":
            text = (f"{labels[entry['feature']]} was left out of the value model: on its own it "
                    f"rebuilds {cfg.target} almost exactly (score {format_number(entry['score_rounded'])}).")
            lab = [labels[entry["feature"]], cfg.target]
        else:
            text = (f"{labels[entry['feature']]} was left out of the value model: its "
                    f"{entry['relation']} with {entry['partner']} rebuilds {cfg.target} almost "
                    f"exactly (score {format_number(entry['score_rounded'])}), so keeping both "
                    "would leak the answer into the model.")
            lab = [labels[entry["feature"]], entry["partner"], cfg.target]
        offset = len(report["leakage"]["excluded"]) - len(leaked) + i
        _sentence(report, f"leakage_{i}", text, {"score": entry["score_rounded"]},
                  {"score": f"/leakage/excluded/{offset}/score_rounded"}, lab)
    if not used:
        report["status"] = "no_features"
        _sentence(report, "no_features", f"No usable feature is left to explain {label_t}, so "
                  "no value model was fitted.", {}, {}, [label_t])
        return DriversResult(report, pd.DataFrame(), timings)

    # ---- value model
    # Columns of pure noise trained alongside the features give a noise floor for SHAP
    # importance in the target's own units (Boruta-style shadow features).
    n = len(data)
    # Three probes, the floor being the highest, keep chance false positives rare.
    X = np.column_stack([X_all[used].to_numpy(dtype=np.float32),
                         rng.random((n, len(NOISE_PROBES))).astype(np.float32)])
    columns = used + list(NOISE_PROBES)
    probe_j = len(used)
    perm = rng.permutation(n)
    n_test = max(1, int(round(n * cfg.test_size)))
    test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
    # Rows drawn per tree: a share of the training rows, capped, since fit time grows with
    # rows per tree while depth-bounded trees gain little beyond ~10k rows.
    n_tree = len(train_idx) if cfg.max_samples is None else int(cfg.max_samples * len(train_idx))
    n_tree = min(n_tree, cfg.max_tree_rows or n_tree)
    max_samples: int | None = n_tree if n_tree < len(train_idx) else None
    if max_samples is not None and max_samples < 2 * cfg.min_samples_leaf:
        max_samples = None  # tiny tables: each tree needs enough rows for one split
    model = RandomForestRegressor(
        n_estimators=cfg.n_estimators, max_depth=cfg.max_depth,
        min_samples_leaf=cfg.min_samples_leaf, max_features=cfg.max_features,
        max_samples=max_samples, n_jobs=cfg.n_jobs, random_state=seed)
    t = _now()
    model.fit(X[train_idx], y[train_idx])
    # Threaded prediction sums trees in whatever order threads finish, which changes the last
    # bits of the result; one thread keeps results byte-identical for a seed.
    model.set_params(n_jobs=1)
    _lap(timings, "fit", t)
    pred_test = model.predict(X[test_idx])
    pred_train = model.predict(X[train_idx])
    r2 = float(r2_score(y[test_idx], pred_test)) if len(test_idx) > 1 else float("nan")
    mae = float(mean_absolute_error(y[test_idx], pred_test))
    mae_base = float(mean_absolute_error(y[test_idx], np.full(len(test_idx), y[train_idx].mean())))
    report["model"] = {
        "type": "RandomForestRegressor",
        "params": {"n_estimators": cfg.n_estimators, "max_depth": cfg.max_depth,
                   "min_samples_leaf": cfg.min_samples_leaf, "max_features": cfg.max_features,
                   "max_samples": max_samples},
        "n_features": len(used), "n_train": int(len(train_idx)), "n_test": int(len(test_idx)),
        "r2_test": _json_number(r2), "mae_test": _json_number(mae),
        "r2_train": _json_number(r2_score(y[train_idx], pred_train)),
        "mae_baseline": _json_number(mae_base),
        "target_mean": _json_number(y.mean()), "target_std": _json_number(y.std()),
        "rounded": {"r2_test": round_sig(r2, 2) if math.isfinite(r2) else None,
                    "mae_test": round_sig(mae), "mae_baseline": round_sig(mae_base),
                    "n_train": int(len(train_idx)), "n_test": int(len(test_idx))},
    }
    if len(data) < 200:
        report["notes"].append(f"only {len(data)} customers: model metrics and drivers are "
                               "rough; read them as indications")

    # ---- SHAP on a stratified sample
    has_segments = "segment_id" in data.columns and data["segment_id"].notna().any()
    seg_ids = (pd.to_numeric(data["segment_id"], errors="coerce").fillna(-1).astype(int).to_numpy()
               if has_segments else np.zeros(n, dtype=int))
    strata = seg_ids if has_segments and np.unique(seg_ids).size > 1 else np.zeros(n, dtype=int)
    rows, weights, design = _stratified_sample(strata, cfg.shap_sample_size,
                                               cfg.shap_min_per_segment, rng)
    t = _now()
    S, base, backend = _tree_shap(model, X[rows], cfg.shap_backend)
    _lap(timings, "shap", t)
    pred_rows = model.predict(X[rows])
    add_err = np.abs(base + S.sum(axis=1) - pred_rows)
    tolerance = 1e-6 * max(1.0, float(np.abs(y).max()))
    additivity = {"n_checked": int(len(rows)), "max_abs_error": float(add_err.max()),
                  "tolerance": tolerance, "holds": bool(add_err.max() <= tolerance)}
    if not additivity["holds"]:
        logger.warning("drivers: SHAP additivity off by %.3g (> %.3g)", add_err.max(), tolerance)

    # ---- global importance with a stratified bootstrap
    t = _now()
    Xs = X[rows].astype(float)
    row_strata = strata[rows]
    counts = _bootstrap_counts(row_strata, cfg.bootstrap_reps, rng)
    W = counts * weights
    Wsum = W.sum(axis=1)
    absS = np.abs(S)
    importance = np.average(absS, axis=0, weights=weights)
    boot_imp = (W @ absS) / Wsum[:, None]
    alpha = (1 - cfg.ci_level) / 2
    imp_lo, imp_hi = np.quantile(boot_imp, [alpha, 1 - alpha], axis=0)
    order = [j for j in np.argsort(-importance, kind="stable") if j < probe_j]
    boot_rank = np.argsort(np.argsort(-boot_imp[:, :probe_j], axis=1, kind="stable"),
                           axis=1) + 1
    total_imp = importance[:probe_j].sum()
    noise_floor = float(imp_hi[probe_j:].max())
    report["noise_probes"] = {
        "features": list(NOISE_PROBES),
        "mean_abs_shap": [float(v) for v in importance[probe_j:]],
        "ci_high": [float(v) for v in imp_hi[probe_j:]],
        "floor": noise_floor, "rounded": {"floor": round_sig(noise_floor)},
        "note": "uniform random columns trained with the model; a feature whose mean |SHAP| "
                "interval reaches below the highest probe's upper bound (the floor) is "
                "described as within noise"}
    ci_pct = round_sig(cfg.ci_level * 100)
    global_rows = []
    for rank, j in enumerate(order, start=1):
        name = columns[j]
        x, s = Xs[:, j], S[:, j]
        is_bin = name in feats.binary
        rho = _spearman(x, s)
        if importance[j] == 0:
            direction = "flat"
        elif rho >= 0.3:
            direction = "increasing"
        elif rho <= -0.3:
            direction = "decreasing"
        else:
            direction = "mixed"
        dep = _dependence(x, s, weights)
        shape, shape_x = ("binary", None) if is_bin else _shape(dep, direction)
        low_op, high_op, lo_thr, hi_thr = _groups(x, is_bin)
        low, high = _OPS[low_op](x, lo_thr), _OPS[high_op](x, hi_thr)
        entry: dict[str, Any] = {
            "feature": name, "label": labels[name], "rank": rank,
            "mean_abs_shap": float(importance[j]), "ci_low": float(imp_lo[j]),
            "ci_high": float(imp_hi[j]),
            "share": float(importance[j] / total_imp) if total_imp > 0 else 0.0,
            "rank_stability": float(np.mean(boot_rank[:, j] == rank)),
            "binary": is_bin, "spearman_value_shap": _json_number(rho), "direction": direction,
            "shape": shape, "shape_threshold": shape_x, "low_threshold": lo_thr,
            "high_threshold": hi_thr, "low_op": low_op, "high_op": high_op,
            "n_low": int(low.sum()), "n_high": int(high.sum()),
            "effect": None, "effect_ci_low": None, "effect_ci_high": None,
            "below_noise_floor": bool(imp_lo[j] <= noise_floor),
            "negligible": bool(total_imp > 0 and importance[j] / total_imp < cfg.min_share),
            "effect_ci_includes_zero": None, "within_noise": True, "dependence": dep,
        }
        if low.any() and high.any():
            eff = (np.average(s[high], weights=weights[high])
                   - np.average(s[low], weights=weights[low]))
            wh, wl = W @ high, W @ low
            ok = (wh > 0) & (wl > 0)
            boot_eff = (W[ok] @ (s * high)) / wh[ok] - (W[ok] @ (s * low)) / wl[ok]
            e_lo, e_hi = np.quantile(boot_eff, [alpha, 1 - alpha])
            entry.update(effect=float(eff), effect_ci_low=float(e_lo), effect_ci_high=float(e_hi),
                         effect_ci_includes_zero=bool(e_lo <= 0 <= e_hi),
                         within_noise=bool(e_lo <= 0 <= e_hi or entry["below_noise_floor"]
                                           or entry["negligible"]))
        entry["rounded"] = {
            "mean_abs_shap": round_sig(entry["mean_abs_shap"]),
            "share_percent": round_sig(entry["share"] * 100, 2),
            "effect": round_sig(abs(entry["effect"])) if entry["effect"] is not None else None,
            "effect_ci_low": round_sig(entry["effect_ci_low"]),
            "effect_ci_high": round_sig(entry["effect_ci_high"]),
            "low_threshold": round_sig(lo_thr), "high_threshold": round_sig(hi_thr),
            "shape_threshold": round_sig(shape_x) if shape_x is not None else None,
        }
        if _is_share(feats.source.get(name, name)):
            # shares read as percentages in sentences: "58% or more", not "0.58"
            entry["rounded"]["threshold_percent"] = {
                k: round_sig(v * 100) for k, v in (("low", lo_thr), ("high", hi_thr), ("shape", shape_x))
                if v is not None}
        global_rows.append(entry)
    report["global_importance"] = global_rows
    report["group_importance"] = _group_importance(S[:, :probe_j], used, feats.source, labels,
                                                   weights, W, alpha, noise_floor, cfg.min_share)
    report["min_share_percent"] = round_sig(cfg.min_share * 100)
    top_k = min(cfg.top_n, len(global_rows))
    half = [(g["ci_high"] - g["ci_low"]) / 2 / g["mean_abs_shap"]
            for g in global_rows[:top_k] if g["mean_abs_shap"] > 0]
    bound = max(half) if half else 0.0
    report["shap_sampling"] = {
        "method": "exact path-dependent TreeSHAP (shap.TreeExplainer) on a stratified random "
                  "sample; proportional allocation by segment with a floor per segment; "
                  "aggregates weighted by inverse inclusion probability",
        "backend": backend,
        "strata": "segment_id" if np.unique(strata).size > 1 else "none (one stratum)",
        "n_population": int(n), "n_sampled": int(len(rows)), "per_stratum": design,
        "bootstrap_reps": cfg.bootstrap_reps, "ci_level": cfg.ci_level,
        "interval_covers": "the sampling of explained customers (stratified bootstrap); not "
                           "the variability of refitting the forest, for which the random "
                           "noise probes give a floor",
        "ci_level_percent": ci_pct,
        "error_bound": {
            "max_relative_half_width_top": float(bound),
            "max_relative_half_width_top_percent": round_sig(bound * 100, 2),
            "top_n": top_k,
            "statement": (f"Mean |SHAP| of each of the top {top_k} features is within "
                          f"+/-{bound * 100:.1f}% of its value ({ci_pct}% stratified bootstrap "
                          f"interval over {len(rows)} explained customers of {n})."),
        },
        "base_value": base, "additivity": additivity,
    }
    _lap(timings, "bootstrap", t)

    # ---- per-segment mean SHAP
    seg_names = {}
    if has_segments:
        names_col = data["segment_name"] if "segment_name" in data.columns else None
        for sid in np.unique(seg_ids):
            nm = None
            if names_col is not None:
                vals = names_col[seg_ids == sid].dropna()
                nm = str(vals.iloc[0]) if len(vals) else None
            seg_names[int(sid)] = nm or ("Unassigned" if sid < 0 else f"Segment {sid}")
        rows_seg = seg_ids[rows]
        for sid in np.unique(seg_ids):
            mask = rows_seg == sid
            if not mask.any():
                continue
            ms = np.average(S[mask], axis=0, weights=weights[mask])
            ma = np.average(absS[mask], axis=0, weights=weights[mask])
            ordr = [j for j in np.argsort(-np.abs(ms), kind="stable") if j < probe_j]
            report["segments"].append({
                "segment_id": int(sid), "segment_name": seg_names[int(sid)],
                "n_customers": int((seg_ids == sid).sum()), "n_sampled": int(mask.sum()),
                "mean_prediction": float(np.average(pred_rows[mask], weights=weights[mask])),
                "mean_target": float(y[seg_ids == sid].mean()),
                "drivers": [{"feature": used[j], "label": labels[used[j]],
                             "mean_shap": float(ms[j]), "mean_abs_shap": float(ma[j]),
                             "rounded": {"mean_shap": round_sig(abs(float(ms[j])))}}
                            for j in ordr],
            })
    # ---- membership models
    t = _now()
    report["membership"] = _membership(data, feats, config_excluded, y, seg_ids, seg_names,
                                       has_segments, cfg, seed, rng)
    _lap(timings, "membership", t)

    # ---- SHAP frame
    frame = {"customer_id": data["customer_id"].astype("string").to_numpy()[rows]
             if "customer_id" in data.columns else rows}
    if has_segments:
        frame["segment_id"] = seg_ids[rows]
        frame["segment_name"] = [seg_names[int(v)] for v in seg_ids[rows]]
    frame["weight"] = weights
    frame["prediction"] = pred_rows
    frame[cfg.target] = y[rows]
    for j, name in enumerate(columns):
        frame[f"value__{name}"] = Xs[:, j]
    for j, name in enumerate(columns):
        frame[f"shap__{name}"] = S[:, j]
    shap_frame = pd.DataFrame(frame)

    _narrate(report, cfg)
    _lap(timings, "total", t0)
    return DriversResult(_clean(report), shap_frame, timings)


_OPS = {"<=": np.less_equal, "<": np.less, ">=": np.greater_equal, ">": np.greater}
_OP_WORDS = {"<=": "at or below", "<": "below", ">=": "at or above", ">": "above"}


def _groups(x: np.ndarray, is_bin: bool) -> tuple[str, str, float, float]:
    """Low and high comparison groups of a feature: bottom and top fifth where possible.

    Returns (low operator, high operator, low threshold, high threshold). Features with a mass
    at one value (shares at 0 or 1, counts) fall back to the sides of that value.
    """
    if is_bin:
        return "<=", ">=", float(x.min()), float(x.max())
    lo, hi = (float(v) for v in np.quantile(x, [0.2, 0.8]))
    if lo < hi:
        return "<=", ">=", lo, hi
    if (x > lo).any():
        return "<=", ">", lo, lo
    return "<", ">=", lo, lo


def _spearman(x: np.ndarray, s: np.ndarray) -> float:
    """Spearman's rho between a feature and its SHAP values (0 when either is constant)."""
    if np.ptp(x) == 0 or np.ptp(s) == 0:
        return 0.0
    r = np.corrcoef(_rank(x), _rank(s))[0, 1]
    return float(r) if np.isfinite(r) else 0.0


def _membership(data: pd.DataFrame, feats: _Features, config_excluded: set[str], y: np.ndarray,
                seg_ids: np.ndarray, seg_names: dict[int, str], has_segments: bool,
                cfg: DriversConfig, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """One-vs-rest RandomForestClassifier per segment, explained with TreeSHAP."""
    if not cfg.membership:
        return {"status": "disabled", "models": []}
    if not has_segments:
        return {"status": "no_segments", "models": []}
    assigned = np.unique(seg_ids[seg_ids >= 0])
    if assigned.size < 2:
        return {"status": "single_segment", "models": []}
    # Personas are described by everything, spend included: leakage matters only for the
    # value model, not for "what do members of this segment look like".
    cols = [c for c in feats.frame.columns if c not in config_excluded]
    M = feats.frame[cols].copy()
    M[cfg.target] = y
    names = list(M.columns)
    Mv = M.to_numpy(dtype=np.float32)
    rows, _, _ = _stratified_sample(seg_ids, cfg.membership_sample_size, cfg.membership_min_size,
                                    rng)
    out = {"status": "ok", "features": names,
           "params": {"n_estimators": cfg.membership_n_estimators,
                      "max_depth": cfg.membership_max_depth, "min_samples_leaf": 5,
                      "class_weight": "balanced", "sample_rows": int(len(rows))},
           "models": []}
    labels = {c: feature_label(c) for c in names}
    for sid in assigned:
        member = seg_ids[rows] == sid
        entry: dict[str, Any] = {"segment_id": int(sid), "segment_name": seg_names[int(sid)],
                                 "n_members": int((seg_ids == sid).sum()), "status": "ok"}
        if member.sum() < cfg.membership_min_size or (~member).sum() < cfg.membership_min_size:
            entry["status"] = "too_small"
            out["models"].append(entry)
            continue
        perm = rng.permutation(len(rows))
        n_test = max(2, int(round(len(rows) * 0.25)))
        te, tr = perm[:n_test], perm[n_test:]
        clf = RandomForestClassifier(
            n_estimators=cfg.membership_n_estimators, max_depth=cfg.membership_max_depth,
            min_samples_leaf=5, max_features="sqrt", class_weight="balanced",
            n_jobs=cfg.n_jobs, random_state=seed)
        clf.fit(Mv[rows[tr]], member[tr])
        clf.set_params(n_jobs=1)  # deterministic summation order (see the value model)
        auc = (float(roc_auc_score(member[te], clf.predict_proba(Mv[rows[te]])[:, 1]))
               if 0 < member[te].sum() < len(te) else None)
        pos, neg = np.flatnonzero(member), np.flatnonzero(~member)
        half = cfg.membership_shap_rows // 2
        pick = np.sort(np.concatenate([
            rng.choice(pos, size=min(half, pos.size), replace=False),
            rng.choice(neg, size=min(half, neg.size), replace=False)]))
        S, _, _ = _tree_shap(clf, Mv[rows[pick]], "cpu")
        imp = np.abs(S).mean(axis=0)
        order = np.argsort(-imp, kind="stable")
        feats_out = []
        in_seg = seg_ids == sid
        for rank, j in enumerate(order[:10], start=1):
            col = M.iloc[:, j].to_numpy(dtype=float)
            is_bin = names[j] in feats.binary
            stat = "share" if is_bin else "median"
            f = np.mean if is_bin else np.median
            seg_v, rest_v = float(f(col[in_seg])), float(f(col[~in_seg]))
            if seg_v == rest_v:
                seg_v, rest_v, stat = float(col[in_seg].mean()), float(col[~in_seg].mean()), "mean"
            direction = "higher" if seg_v > rest_v else "lower" if seg_v < rest_v else "similar"
            feats_out.append({"feature": names[j], "label": labels[names[j]], "rank": rank,
                              "mean_abs_shap": float(imp[j]), "direction": direction,
                              "statistic": stat, "segment_value": seg_v, "rest_value": rest_v,
                              "rounded": {"segment_value": round_sig(seg_v),
                                          "rest_value": round_sig(rest_v)}})
        entry.update(auc_test=auc, auc_test_rounded=round_sig(auc, 2) if auc else None,
                     features=feats_out)
        out["models"].append(entry)
    out["labels"] = labels
    return out


# --------------------------------------------------------------------------- narratives

def _narrate(report: dict[str, Any], cfg: DriversConfig) -> None:
    """Deterministic sentences; every printed number is a rounded value stored in the report."""
    money, what = cfg.currency_symbol, cfg.target_label
    m = report["model"]["rounded"]
    r2 = m["r2_test"]
    if r2 is not None:
        quality = ("explains most of" if r2 >= 0.6 else "explains part of" if r2 >= 0.3
                   else "explains little of")
        tail = ("." if r2 >= 0.3 else "; the drivers below are weak associations, read them "
                "with care.")
        _sentence(report, "model",
                  f"A random forest trained on {format_number(m['n_train'])} customers "
                  f"{quality} the variation in {what} among {format_number(m['n_test'])} "
                  f"held-out customers (R² {format_number(r2)}, typical error "
                  f"{_money(m['mae_test'], money)} against {_money(m['mae_baseline'], money)} "
                  f"when predicting the average){tail}",
                  {"n_train": m["n_train"], "n_test": m["n_test"], "r2": r2,
                   "mae": m["mae_test"], "mae_baseline": m["mae_baseline"]},
                  {"n_train": "/model/rounded/n_train", "n_test": "/model/rounded/n_test",
                   "r2": "/model/rounded/r2_test", "mae": "/model/rounded/mae_test",
                   "mae_baseline": "/model/rounded/mae_baseline"}, [])
    rows = report["global_importance"]
    top_k = min(cfg.top_n, len(rows))
    chosen = list(range(top_k))
    for i, g in enumerate(rows):
        if g["feature"] == "positive_prob" and i >= top_k:
            chosen.append(i)
    for i in chosen:
        g = rows[i]
        r = g["rounded"]
        p = f"/global_importance/{i}"
        quantity = quantity_phrase(g["label"])
        labs = [g["label"], g["feature"], quantity]
        nums: dict[str, Any] = {"rank": g["rank"]}
        src: dict[str, str] = {"rank": f"{p}/rank"}
        if g["rank"] == 1:
            head = f"{g['label']} is the #1 driver of {what}"
        else:
            prev = rows[i - 1]
            head = (f"{g['label']} is the #{g['rank']} driver of {what}, "
                    f"after {mid_sentence(prev['label'])}")
            labs.append(mid_sentence(prev["label"]))
        if g["effect"] is None:
            continue
        if g["binary"]:
            groups = ("customers in this group", "the others")
        else:
            (hi, hi_src), (lo, lo_src) = _threshold(r, p, "high"), _threshold(r, p, "low")
            groups = (f"customers with {quantity} {_OP_WORDS[g['high_op']]} {hi}",
                      f"those {_OP_WORDS[g['low_op']]} {lo}")
            nums.update(high=resolve_pointer(report, hi_src), low=resolve_pointer(report, lo_src))
            src.update(high=hi_src, low=lo_src)
        nums["ci"] = report["shap_sampling"]["ci_level_percent"]
        src["ci"] = "/shap_sampling/ci_level_percent"
        nums["effect"] = r["effect"]
        src["effect"] = f"{p}/rounded/effect"
        effect_nums = {k: v for k, v in nums.items() if k in ("high", "low", "effect")}
        effect_src = {k: v for k, v in src.items() if k in effect_nums}
        if g["within_noise"]:
            head = head.replace(f" is the #{g['rank']} driver of {what}",
                                f" ranks #{g['rank']} for {what}")
        if g["below_noise_floor"]:
            probe = report["noise_probes"]["rounded"]["floor"]
            nums = {"rank": g["rank"], "mean_abs_shap": r["mean_abs_shap"], "probe": probe}
            src = {"rank": f"{p}/rank", "mean_abs_shap": f"{p}/rounded/mean_abs_shap",
                   "probe": "/noise_probes/rounded/floor"}
            text = (f"{head}, but its contribution is within noise: it moves predicted {what} by "
                    f"{_money(r['mean_abs_shap'], money)} per customer on average, no clearly "
                    f"more than a column of random numbers does (up to {_money(probe, money)}).")
        elif g["negligible"]:
            nums = {"rank": g["rank"], "mean_abs_shap": r["mean_abs_shap"],
                    "share": r["share_percent"], "min_share": report["min_share_percent"]}
            src = {"rank": f"{p}/rank", "mean_abs_shap": f"{p}/rounded/mean_abs_shap",
                   "share": f"{p}/rounded/share_percent", "min_share": "/min_share_percent"}
            clear = ""
            if not g["effect_ci_includes_zero"]:
                # a consistent but small association: say which way it goes
                nums.update({k: v for k, v in effect_nums.items()})
                src.update(effect_src)
                more = "higher" if g["effect"] > 0 else "lower"
                clear = (f": {groups[0]} have slightly {more} predicted {what} than "
                         f"{groups[1]} ({_money(r['effect'], money)}), but")
            else:
                clear = ", but"
            text = (f"{head}{clear} its contribution is too small to matter: it moves "
                    f"predicted {what} by {_money(r['mean_abs_shap'], money)} per customer on "
                    f"average, {format_number(r['share_percent'])}% of the model's total, under "
                    f"the {format_number(report['min_share_percent'])}% needed to call it a "
                    "driver.")
        elif g["within_noise"]:
            text = (f"{head}, but its effect is within noise: {groups[0]} differ from "
                    f"{groups[1]} by {_money(r['effect'], money)} in predicted {what}, and the "
                    f"{format_number(nums['ci'])}% interval of that difference includes zero.")
        else:
            more = "more" if g["effect"] > 0 else "less"
            text = (f"{head}: {groups[0]} are predicted to have {_money(r['effect'], money)} "
                    f"{more} {what} than {groups[1]} ({format_number(nums['ci'])}% interval "
                    "excludes zero; an association, not proof of cause).")
            if g["shape"] in ("mostly_above", "mostly_below") and not g["binary"]:
                side = "above" if g["shape"] == "mostly_above" else "below"
                change = "rise" if g["direction"] == "increasing" else "fall"
                shown, shape_src = _threshold(r, p, "shape")
                text = text + (f" Most of the {change} in predicted {what} happens at "
                               f"{quantity} {side} {shown}.")
                nums["shape_threshold"] = resolve_pointer(report, shape_src)
                src["shape_threshold"] = shape_src
        _sentence(report, f"driver_{g['feature']}", text, nums, src, labs)
    _narrate_groups(report)
    _narrate_sentiment_coverage(report)
    for k, seg in enumerate(report["segments"]):
        if not seg["drivers"]:
            continue
        d = seg["drivers"][0]
        sign = "raises" if d["mean_shap"] > 0 else "lowers"
        _sentence(report, f"segment_{seg['segment_id']}",
                  f"Within the segment “{seg['segment_name']}”, {mid_sentence(d['label'])} is the feature most associated "
                  f"with {what}: on average it {sign} predicted {what} by "
                  f"{_money(d['rounded']['mean_shap'], money)} per customer compared with the "
                  "average customer.",
                  {"mean_shap": d["rounded"]["mean_shap"]},
                  {"mean_shap": f"/segments/{k}/drivers/0/rounded/mean_shap"},
                  [seg["segment_name"], mid_sentence(d["label"])])
    for k, mod in enumerate(report["membership"].get("models", [])):
        if mod.get("status") != "ok" or not mod.get("features"):
            continue
        parts, nums, src, labs = [], {}, {}, [mod["segment_name"]]
        for q, f in enumerate(mod["features"][:2]):
            parts.append(f"{f['direction']} {mid_sentence(f['label'])} ({f['statistic']} "
                         f"{format_number(f['rounded']['segment_value'])} vs "
                         f"{format_number(f['rounded']['rest_value'])} for other customers)")
            nums[f"segment_{q}"] = f["rounded"]["segment_value"]
            nums[f"rest_{q}"] = f["rounded"]["rest_value"]
            src[f"segment_{q}"] = f"/membership/models/{k}/features/{q}/rounded/segment_value"
            src[f"rest_{q}"] = f"/membership/models/{k}/features/{q}/rounded/rest_value"
            labs.append(mid_sentence(f["label"]))
        text = f"The segment “{mod['segment_name']}” is set apart mostly by " + " and ".join(parts)
        if mod.get("auc_test_rounded") is not None:
            text += (f"; a membership model separates it from the rest with AUC "
                     f"{format_number(mod['auc_test_rounded'])}")
            nums["auc"] = mod["auc_test_rounded"]
            src["auc"] = f"/membership/models/{k}/auc_test_rounded"
        _sentence(report, f"membership_{mod['segment_id']}", text + ".", nums, src, labs)


def _is_share(base: str) -> bool:
    """Columns that are shares (0-1) of something: category spend shares, negative reviews."""
    return base.startswith("cat_share_") or base == "share_negative"


def _threshold(rounded: dict[str, Any], pointer: str, which: str) -> tuple[str, str]:
    """A dependence threshold as printed (``58%`` for shares, ``36`` otherwise) and the
    pointer to the number printed; ``which`` is low, high or shape."""
    if "threshold_percent" in rounded:
        return (f"{format_number(rounded['threshold_percent'][which])}%",
                f"{pointer}/rounded/threshold_percent/{which}")
    return format_number(rounded[f"{which}_threshold"]), f"{pointer}/rounded/{which}_threshold"


def _narrate_groups(report: dict[str, Any]) -> None:
    """One sentence on driver groups, when some group has more than one measure: the three
    largest, and where review sentiment ranks if it is not among them."""
    groups = report["group_importance"]
    if not any(len(g["features"]) > 1 for g in groups):
        return
    parts, nums, src, labs = [], {}, {}, []
    for i, g in enumerate(groups[:3]):
        parts.append(f"{mid_sentence(g['label'])} ({format_number(g['rounded']['share_percent'])}%)")
        nums[f"share_{i}"] = g["rounded"]["share_percent"]
        src[f"share_{i}"] = f"/group_importance/{i}/rounded/share_percent"
        labs.append(mid_sentence(g["label"]))
    listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    text = ("Counting related measures together (for example every category share as one "
            f"driver), the largest parts of the model's attributions go to {listed}")
    k = next((i for i, g in enumerate(groups) if g["group"] == "review_sentiment"), None)
    if k is not None and k >= 3:
        g = groups[k]
        nums.update(rank=g["rank"], share=g["rounded"]["share_percent"])
        src.update(rank=f"/group_importance/{k}/rank",
                   share=f"/group_importance/{k}/rounded/share_percent")
        verdict = (", too little to call it a driver" if g["within_noise"] else "")
        text += (f"; review sentiment ranks #{g['rank']} with "
                 f"{format_number(g['rounded']['share_percent'])}%{verdict}")
        labs.append(g["label"])
    _sentence(report, "groups", text + ".", nums, src, labs)


def _sentiment_coverage(data: pd.DataFrame) -> dict[str, Any] | None:
    """How many customers have a measured review sentiment, and from how many reviews."""
    if "positive_prob" not in data.columns or data.empty:
        return None
    if "sentiment_missing" in data.columns:
        known = pd.to_numeric(data["sentiment_missing"], errors="coerce").fillna(1).to_numpy() == 0
    else:
        known = pd.to_numeric(data["positive_prob"], errors="coerce").notna().to_numpy()
    n_known = int(known.sum())
    share = n_known / len(data)
    median = None
    if "review_count" in data.columns and n_known:
        median = float(pd.to_numeric(data["review_count"], errors="coerce")[known].median())
    return {"n_customers": int(len(data)), "n_with_sentiment": n_known, "share": share,
            "median_reviews": _json_number(median),
            "rounded": {"share_percent": round_sig(100 * share), "n_with_sentiment": n_known,
                        "n_customers": int(len(data)),
                        "median_reviews": round_sig(median) if median is not None else None}}


def _narrate_sentiment_coverage(report: dict[str, Any]) -> None:
    """Measurement caveat for review sentiment: missing reviews and one noisy review per
    customer dilute an association (regression dilution), so its rank is likely too low.
    Said when under 90 % of customers have a sentiment or the median reviewer has under 3."""
    cov = report.get("sentiment_coverage")
    if not cov or not cov["n_with_sentiment"]:
        return
    r = cov["rounded"]
    few = r["median_reviews"] is not None and r["median_reviews"] < 3
    if r["share_percent"] >= 90 and not few:
        return
    path = "/sentiment_coverage/rounded/"
    nums = {"n_with_sentiment": r["n_with_sentiment"], "n_customers": r["n_customers"],
            "share": r["share_percent"]}
    src = {"n_with_sentiment": path + "n_with_sentiment", "n_customers": path + "n_customers",
           "share": path + "share_percent"}
    text = (f"Review sentiment is measured for {format_number(r['n_with_sentiment'])} of "
            f"{format_number(r['n_customers'])} customers ({format_number(r['share_percent'])}%)")
    if r["median_reviews"] is not None:
        nums["median_reviews"] = r["median_reviews"]
        src["median_reviews"] = path + "median_reviews"
        text += (f", from a median of {format_number(r['median_reviews'])} review"
                 f"{'' if r['median_reviews'] == 1 else 's'} each")
    text += ("; missing and noisy measurements make a link with spend look weaker than it is, "
             "so review sentiment's rank here likely understates it.")
    _sentence(report, "sentiment_coverage", text, nums, src, ["Review sentiment"])


def _clean(obj: Any) -> Any:
    """Recursively convert numpy scalars and non-finite floats for JSON."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.generic, float, int)) and not isinstance(obj, bool):
        return _json_number(obj)
    return obj


NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def numbers_in_text(text: str, strip: list[str] | tuple[str, ...] = ()) -> list[float]:
    """The numbers printed in a narrative sentence (labels that contain digits removed first).

    Used by the report checks and tests to match every printed number to the report.
    """
    for s in sorted(strip, key=len, reverse=True):
        text = text.replace(s, " ")
    return [float(m.replace(",", "")) for m in NUMBER_RE.findall(text)]


def resolve_pointer(report: dict[str, Any], pointer: str) -> Any:
    """Follow a ``/a/0/b`` path (JSON-pointer style) into the report."""
    node: Any = report
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


# --------------------------------------------------------------------------- save / load

def save_drivers(result: DriversResult, results_dir: Path) -> list[Path]:
    """Write ``drivers.json`` and ``shap_values.parquet`` into a run's ``results/`` folder.

    Args:
        result: the output of :func:`explain_drivers`.
        results_dir: the run's ``results/`` folder (created if missing).

    Returns:
        The paths written (the Parquet file only when a model was fitted).
    """
    from segment_report.pipeline.io.store import write_json, write_parquet

    results_dir = Path(results_dir)
    paths = [write_json(results_dir / "drivers.json", result.report)]
    if not result.shap.empty:
        paths.append(write_parquet(results_dir / "shap_values.parquet", result.shap))
    return paths


def load_drivers(results_dir: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """Read back ``drivers.json`` and ``shap_values.parquet`` (empty frame when absent).

    Raises:
        InputDataError: ``drivers.json`` is missing from the results folder.
    """
    from segment_report.pipeline.errors import InputDataError

    results_dir = Path(results_dir)
    report_path = results_dir / "drivers.json"
    if not report_path.exists():
        raise InputDataError("drivers.json not found", file=str(report_path),
                             expected="a results folder written by a run",
                             fix="run 'segment-report run' first, or point --run at a run folder")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    shap_path = results_dir / "shap_values.parquet"
    frame = pd.read_parquet(shap_path) if shap_path.exists() else pd.DataFrame()
    return report, frame
