"""SHAP explanations: stratified sampling, TreeSHAP, bootstrap intervals, dependence shapes,
driver groups, per-segment drivers and the one-vs-rest membership models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

from segment_report.pipeline.config import DriversConfig
from segment_report.pipeline.log import logger
from segment_report.pipeline.stages.drivers.features import (GROUP_LABELS, NOISE_PROBES, Features,
                                                              driver_group, feature_label)
from segment_report.pipeline.stages.drivers.model import ValueModel
from segment_report.pipeline.stages.drivers.numbers import average_rank, json_number, round_sig


def _stratified_sample(strata: np.ndarray, size: int, floor: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Row positions of a stratified random sample and their inverse-probability weights.

    Proportional allocation with at least ``floor`` rows per stratum (or all of it).
    """
    n = len(strata)
    keys, inverse = np.unique(strata, return_inverse=True)
    if n <= size:
        return np.arange(n), np.ones(n), [
            {"stratum": json_number(k), "n_population": int((inverse == i).sum()),
             "n_sampled": int((inverse == i).sum())} for i, k in enumerate(keys)]
    picked, weights, design = [], [], []
    for i, key in enumerate(keys):
        members = np.flatnonzero(inverse == i)
        want = max(min(floor, len(members)), int(round(size * len(members) / n)))
        want = min(want, len(members))
        chosen = np.sort(rng.choice(members, size=want, replace=False))
        picked.append(chosen)
        weights.append(np.full(want, len(members) / want))
        design.append({"stratum": json_number(key), "n_population": int(len(members)),
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


_OPS = {"<=": np.less_equal, "<": np.less, ">=": np.greater_equal, ">": np.greater}


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
    r = np.corrcoef(average_rank(x), average_rank(s))[0, 1]
    return float(r) if np.isfinite(r) else 0.0


def membership_models(data: pd.DataFrame, feats: Features, config_excluded: set[str], y: np.ndarray,
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


def _is_share(base: str) -> bool:
    """Columns that are shares (0-1) of something: category spend shares, negative reviews."""
    return base.startswith("cat_share_") or base == "share_negative"


@dataclass(frozen=True)
class Explained:
    """SHAP values of the explained sample.

    Attributes:
        rows: positions of the explained customers in the customer table.
        weights: their inverse inclusion probabilities.
        design: rows per stratum (population and sampled).
        strata: the stratum of every customer (segment id, or 0 when there is one stratum).
        shap: SHAP values (rows x model columns, noise probes last).
        base: the explainer's base value.
        backend: ``cpu`` or ``gpu``.
        prediction: the model's prediction for each explained customer.
        additivity: the check that base value + SHAP sum = prediction.
    """

    rows: np.ndarray
    weights: np.ndarray
    design: list[dict]
    strata: np.ndarray
    shap: np.ndarray
    base: float
    backend: str
    prediction: np.ndarray
    additivity: dict[str, Any]


#: rows per TreeSHAP task on a cluster (each row's values are exact and computed on their own)
SHAP_CHUNK = 250


def _shap_chunk(X: np.ndarray, model: Any, backend: str) -> tuple[np.ndarray, float, str]:
    return _tree_shap(model, X, backend)


def tree_shap_on(executor: Any, model: Any, X: np.ndarray, backend: str) -> tuple[np.ndarray, float, str]:
    """:func:`_tree_shap`, with a Dask ``executor`` over chunks of rows on its workers (the
    model sent to each once); the same values either way."""
    # below a few chunks, sending the forest to the workers costs more than it saves
    if executor is None or executor.name == "local" or len(X) <= 4 * SHAP_CHUNK:
        return _tree_shap(model, X, backend)
    from segment_report.pipeline.engine import chunked

    chunks = chunked(X, SHAP_CHUNK)
    parts = executor.gather(executor.map(_shap_chunk, chunks, model=executor.share(model), backend=backend))
    return np.vstack([p[0] for p in parts]), parts[0][1], parts[0][2]


def explain_sample(vm: ValueModel, y: np.ndarray, strata: np.ndarray, cfg: DriversConfig,
                   rng: np.random.Generator, executor: Any = None) -> Explained:
    """Exact TreeSHAP on a stratified sample of customers, with the additivity check.

    Args:
        vm: the fitted value model.
        y: the target (its scale sets the additivity tolerance).
        strata: one stratum per customer (segment ids, or zeros).
        cfg: the ``drivers`` config section.
        rng: draws the sample.
        executor: where the SHAP values are computed (``pipeline.engine``; default here).
    """
    rows, weights, design = _stratified_sample(strata, cfg.shap_sample_size,
                                               cfg.shap_min_per_segment, rng)
    S, base, backend = tree_shap_on(executor, vm.model, vm.X[rows], cfg.shap_backend)
    pred_rows = vm.model.predict(vm.X[rows])
    add_err = np.abs(base + S.sum(axis=1) - pred_rows)
    tolerance = 1e-6 * max(1.0, float(np.abs(y).max()))
    additivity = {"n_checked": int(len(rows)), "max_abs_error": float(add_err.max()),
                  "tolerance": tolerance, "holds": bool(add_err.max() <= tolerance)}
    if not additivity["holds"]:
        logger.warning("drivers: SHAP additivity off by %.3g (> %.3g)", add_err.max(), tolerance)
    return Explained(rows, weights, design, strata, S, base, backend, pred_rows, additivity)


def global_importance(vm: ValueModel, ex: Explained, feats: Features, labels: dict[str, str],
                      cfg: DriversConfig, rng: np.random.Generator) -> dict[str, Any]:
    """Global mean |SHAP| per feature and per driver group, with stratified-bootstrap intervals,
    noise-probe floor, effects (top vs bottom fifth), dependence curves and their shapes.

    Returns:
        The ``noise_probes``, ``global_importance``, ``group_importance``,
        ``min_share_percent`` and ``shap_sampling`` sections of ``drivers.json``.
    """
    S, weights, rows, probe_j, columns = ex.shap, ex.weights, ex.rows, vm.probe_j, vm.columns
    n, strata, design, base, backend = len(vm.X), ex.strata, ex.design, ex.base, ex.backend
    additivity = ex.additivity
    Xs = vm.X[rows].astype(float)
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
    used = columns[:probe_j]
    out: dict[str, Any] = {}
    out["noise_probes"] = {
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
            "binary": is_bin, "spearman_value_shap": json_number(rho), "direction": direction,
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
    out["global_importance"] = global_rows
    out["group_importance"] = _group_importance(S[:, :probe_j], used, feats.source, labels,
                                                   weights, W, alpha, noise_floor, cfg.min_share)
    out["min_share_percent"] = round_sig(cfg.min_share * 100)
    top_k = min(cfg.top_n, len(global_rows))
    half = [(g["ci_high"] - g["ci_low"]) / 2 / g["mean_abs_shap"]
            for g in global_rows[:top_k] if g["mean_abs_shap"] > 0]
    bound = max(half) if half else 0.0
    out["shap_sampling"] = {
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
        },
        "base_value": base, "additivity": additivity,
    }
    return out


def segment_drivers(vm: ValueModel, ex: Explained, y: np.ndarray, seg_ids: np.ndarray,
                    seg_names: dict[int, str], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Per segment: weighted mean SHAP of each feature over its explained customers, largest
    absolute first (the ``segments`` section of ``drivers.json``)."""
    S, weights, probe_j, used = ex.shap, ex.weights, vm.probe_j, vm.columns[:vm.probe_j]
    absS = np.abs(S)
    rows_seg = seg_ids[ex.rows]
    out = []
    for sid in np.unique(seg_ids):
        mask = rows_seg == sid
        if not mask.any():
            continue
        ms = np.average(S[mask], axis=0, weights=weights[mask])
        ma = np.average(absS[mask], axis=0, weights=weights[mask])
        ordr = [j for j in np.argsort(-np.abs(ms), kind="stable") if j < probe_j]
        out.append({
            "segment_id": int(sid), "segment_name": seg_names[int(sid)],
            "n_customers": int((seg_ids == sid).sum()), "n_sampled": int(mask.sum()),
            "mean_prediction": float(np.average(ex.prediction[mask], weights=weights[mask])),
            "mean_target": float(y[seg_ids == sid].mean()),
            "drivers": [{"feature": used[j], "label": labels[used[j]],
                         "mean_shap": float(ms[j]), "mean_abs_shap": float(ma[j]),
                         "rounded": {"mean_shap": round_sig(abs(float(ms[j])))}}
                        for j in ordr],
        })
    return out


def shap_frame(data: pd.DataFrame, vm: ValueModel, ex: Explained, y: np.ndarray, target: str,
               seg_ids: np.ndarray | None, seg_names: dict[int, str]) -> pd.DataFrame:
    """One row per explained customer: id, segment, weight, prediction, target, then each
    model column's value and SHAP value (``results/shap_values.parquet``)."""
    rows = ex.rows
    frame: dict[str, Any] = {"customer_id": data["customer_id"].astype("string").to_numpy()[rows]
                             if "customer_id" in data.columns else rows}
    if seg_ids is not None:
        frame["segment_id"] = seg_ids[rows]
        frame["segment_name"] = [seg_names[int(v)] for v in seg_ids[rows]]
    frame["weight"] = ex.weights
    frame["prediction"] = ex.prediction
    frame[target] = y[rows]
    Xs = vm.X[rows].astype(float)
    for j, name in enumerate(vm.columns):
        frame[f"value__{name}"] = Xs[:, j]
    for j, name in enumerate(vm.columns):
        frame[f"shap__{name}"] = ex.shap[:, j]
    return pd.DataFrame(frame)
