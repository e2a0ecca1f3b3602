"""Leakage guard and the value model: which features may explain the target, and the fitted
RandomForestRegressor with its held-out metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error, r2_score

from segment_report.pipeline.config import DriversConfig
from segment_report.pipeline.stages.drivers.features import NOISE_PROBES
from segment_report.pipeline.stages.drivers.numbers import json_number, average_rank, round_sig


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
    score = max(_r2_pearson(x, y), _r2_pearson(average_rank(x), y_rank))
    if binned and len(x) >= 2000 and score < 0.999:
        score = max(score, _r2_binned(x, y, min(50, len(x) // 100)))
    return score



def leakage_guard(X: pd.DataFrame, y: np.ndarray, cfg: DriversConfig, binary: set[str],
                   rng: np.random.Generator) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Features from which the target can be rebuilt almost exactly (single or pair).

    Returns:
        (excluded, checked): excluded entries carry feature, source, relation, partner, pair
        (the two features whose combination rebuilds the target) and score; checked says how many singles/combinations and rows were scored.
    """
    n = len(X)
    rows = np.sort(rng.choice(n, size=min(n, cfg.leakage_sample_size), replace=False))
    Xs = X.to_numpy(dtype=float)[rows]
    ys = y[rows].astype(float)
    y_rank = average_rank(ys)
    names = list(X.columns)
    excluded: list[dict[str, Any]] = []
    single = {}
    for j, name in enumerate(names):
        single[name] = _leak_score(Xs[:, j], ys, y_rank)
        if single[name] >= cfg.leakage_r2:
            excluded.append({"feature": name, "source": "data", "relation": "single",
                             "partner": None, "pair": None, "score": single[name]})
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
                         "partner": partner, "pair": [p, q], "score": score})
        remaining = [t for t in remaining if victim not in (t[0], t[1])]
    checked = {"single_features": len(names), "pair_combinations": n_combos,
               "sample_rows": int(len(rows)), "threshold": cfg.leakage_r2,
               "score": "max of Pearson r2, Spearman rho2 and (>= 2,000 rows) binned R2"}
    return excluded, checked


@dataclass(frozen=True)
class ValueModel:
    """The fitted value model.

    Attributes:
        model: the RandomForestRegressor (set to one thread for prediction).
        X: the design matrix (float32): the used features, then the noise probes.
        columns: names of ``X``'s columns.
        probe_j: index of the first noise-probe column.
        summary: the ``model`` section of ``drivers.json`` (parameters, held-out metrics).
    """

    model: RandomForestRegressor
    X: np.ndarray
    columns: list[str]
    probe_j: int
    summary: dict[str, Any]


def fit_value_model(features: pd.DataFrame, y: np.ndarray, cfg: DriversConfig, seed: int,
                    rng: np.random.Generator) -> ValueModel:
    """Fit the bounded random forest on ``features`` plus random noise probes, with held-out
    R² and MAE.

    Args:
        features: the encoded features the model may use (one row per customer).
        y: the target, aligned with ``features``.
        cfg: the ``drivers`` config section.
        seed: the forest's random state.
        rng: draws the noise probes and the train/test split.

    Returns:
        :class:`ValueModel`.
    """
    used = list(features.columns)
    n = len(features)
    # Columns of pure noise trained alongside the features give a noise floor for SHAP
    # importance in the target's own units (Boruta-style shadow features).
    # Three probes, the floor being the highest, keep chance false positives rare.
    X = np.column_stack([features.to_numpy(dtype=np.float32),
                         rng.random((n, len(NOISE_PROBES))).astype(np.float32)])
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
    model.fit(X[train_idx], y[train_idx])
    # Threaded prediction sums trees in whatever order threads finish, which changes the last
    # bits of the result; one thread keeps results byte-identical for a seed.
    model.set_params(n_jobs=1)
    pred_test = model.predict(X[test_idx])
    pred_train = model.predict(X[train_idx])
    r2 = float(r2_score(y[test_idx], pred_test)) if len(test_idx) > 1 else float("nan")
    mae = float(mean_absolute_error(y[test_idx], pred_test))
    mae_base = float(mean_absolute_error(y[test_idx], np.full(len(test_idx), y[train_idx].mean())))
    summary = {
        "type": "RandomForestRegressor",
        "params": {"n_estimators": cfg.n_estimators, "max_depth": cfg.max_depth,
                   "min_samples_leaf": cfg.min_samples_leaf, "max_features": cfg.max_features,
                   "max_samples": max_samples},
        "n_features": len(used), "n_train": int(len(train_idx)), "n_test": int(len(test_idx)),
        "r2_test": json_number(r2), "mae_test": json_number(mae),
        "r2_train": json_number(r2_score(y[train_idx], pred_train)),
        "mae_baseline": json_number(mae_base),
        "target_mean": json_number(y.mean()), "target_std": json_number(y.std()),
        "rounded": {"r2_test": round_sig(r2, 2) if math.isfinite(r2) else None,
                    "mae_test": round_sig(mae), "mae_baseline": round_sig(mae_base),
                    "n_train": int(len(train_idx)), "n_test": int(len(test_idx))},
    }
    return ValueModel(model, X, used + list(NOISE_PROBES), len(used), summary)
