"""The drivers stage: :func:`explain_drivers` runs the steps of the package in order; the
runner's store writes its ``drivers.json`` and ``shap_values.parquet``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.config import DriversConfig
from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.io.store import jsonable
from segment_report.pipeline.log import logger
from segment_report.pipeline.stages.drivers import findings
from segment_report.pipeline.stages.drivers.explain import (explain_sample, global_importance,
                                                             membership_models, segment_drivers,
                                                             shap_frame)
from segment_report.pipeline.stages.drivers.features import encode_features, feature_label
from segment_report.pipeline.stages.drivers.model import fit_value_model, leakage_guard
from segment_report.pipeline.stages.drivers.numbers import json_number, round_sig
from segment_report.pipeline.stages.findings import note

#: The codes of ``drivers.json`` ``notes`` (``reports.narrative.notes`` words them).
NOTE_CODES = ("exclude_feature_unknown", "target_missing", "few_customers")
#: Below this many customers the model's metrics and drivers are noted as rough indications.
ROUGH_BELOW = 200


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


def _empty_report(customers: pd.DataFrame, cfg: DriversConfig, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "target": cfg.target,
        "target_label": cfg.target_label,
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
        "findings": [],
    }


def _check_target(customers: pd.DataFrame, cfg: DriversConfig) -> None:
    """Raise ConfigError unless ``cfg.target`` is a numeric, non-boolean column."""
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
            "median_reviews": json_number(median),
            "rounded": {"share_percent": round_sig(100 * share), "n_with_sentiment": n_known,
                        "n_customers": int(len(data)),
                        "median_reviews": round_sig(median) if median is not None else None}}


def _exclude_and_guard(report: dict[str, Any], feats: Any, y: np.ndarray, cfg: DriversConfig,
                       rng: np.random.Generator, timings: dict[str, float]) -> list[dict[str, Any]]:
    """Fill ``report["leakage"]`` with the configured exclusions and the leakage guard's;
    returns the guard's entries."""
    X_all = feats.frame
    for name in cfg.exclude_features:
        matched = [c for c in X_all.columns if feats.source.get(c) == name or c == name]
        if not matched:
            report["notes"].append(note("exclude_feature_unknown", feature=name))
        for col in matched:
            report["leakage"]["excluded"].append(
                {"feature": col, "source": "config", "relation": None, "partner": None,
                 "pair": None, "score": None})
    config_excluded = {e["feature"] for e in report["leakage"]["excluded"]}
    t = _now()
    leaked, checked = leakage_guard(X_all.drop(columns=sorted(config_excluded)), y, cfg,
                                    feats.binary, rng)
    _lap(timings, "leakage_guard", t)
    for entry in leaked:
        entry["score"] = json_number(entry["score"])
        entry["score_rounded"] = round_sig(entry["score"], 4)
    report["leakage"]["excluded"].extend(leaked)
    for entry in report["leakage"]["excluded"]:
        logger.info("drivers: %s left out of the value model (%s%s, score %s)", entry["feature"],
                    entry["relation"] or "drivers.exclude_features",
                    f" with {entry['partner']}" if entry["partner"] else "", entry["score"])
    report["leakage"]["checked"] = checked
    return leaked


def _segment_ids(data: pd.DataFrame) -> tuple[np.ndarray | None, dict[int, str]]:
    """Each customer's segment id (-1 when unassigned) and each segment's name; ``None`` and
    no names when the table has no segment column."""
    if "segment_id" not in data.columns or not data["segment_id"].notna().any():
        return None, {}
    seg_ids = pd.to_numeric(data["segment_id"], errors="coerce").fillna(-1).astype(int).to_numpy()
    names_col = data["segment_name"] if "segment_name" in data.columns else None
    seg_names = {}
    for sid in np.unique(seg_ids):
        nm = None
        if names_col is not None:
            vals = names_col[seg_ids == sid].dropna()
            nm = str(vals.iloc[0]) if len(vals) else None
        seg_names[int(sid)] = nm or ("Unassigned" if sid < 0 else f"Segment {sid}")
    return seg_ids, seg_names


def explain_drivers(customers: pd.DataFrame, cfg: DriversConfig, seed: int, executor: Any = None) -> DriversResult:
    """Explain customer value: leakage-guarded spend model, SHAP, personas, findings.

    Args:
        customers: the customer feature table (one row per customer); sentiment columns and
            ``segment_id``/``segment_name`` are optional.
        cfg: the ``drivers`` config section.
        seed: random seed (sampling, forests, bootstrap).
        executor: where the SHAP values are computed (``pipeline.engine``; default here).

    Returns:
        :class:`DriversResult` with the report dict (``results/drivers.json``), the SHAP
        frame (``results/shap_values.parquet``) and step timings. A constant target, too few
        customers or no usable feature give ``status`` other than ``"ok"``, no model and a
        finding saying why.

    Raises:
        ConfigError: ``drivers.target`` is not a numeric column of the table.
    """
    timings: dict[str, float] = {}
    t0 = _now()
    _check_target(customers, cfg)
    rng = np.random.default_rng(seed)
    report = _empty_report(customers, cfg, "ok")
    y_all = pd.to_numeric(customers[cfg.target], errors="coerce").astype(float)
    keep = np.isfinite(y_all.to_numpy())
    data = customers.loc[keep].reset_index(drop=True)
    y = y_all[keep].to_numpy()
    report["n_customers_used"] = int(len(data))
    report["sentiment_coverage"] = _sentiment_coverage(data)
    if (~keep).any():
        report["notes"].append(note("target_missing", customers=int((~keep).sum()),
                                    target=cfg.target))

    if len(data) < cfg.min_customers:
        report["status"] = "too_few_customers"
        report["min_customers"] = cfg.min_customers
        findings.not_fitted(report)
        return DriversResult(report, pd.DataFrame(), timings)
    if np.ptp(y) == 0:
        report["status"] = "constant_target"
        report["target_value"] = json_number(y[0])
        report["target_value_rounded"] = round_sig(float(y[0]))
        findings.not_fitted(report)
        return DriversResult(report, pd.DataFrame(), timings)

    feats = encode_features(data, cfg)
    report["features"]["dropped"] = feats.dropped
    _exclude_and_guard(report, feats, y, cfg, rng, timings)
    excluded = {e["feature"] for e in report["leakage"]["excluded"]}
    config_excluded = {e["feature"] for e in report["leakage"]["excluded"] if e["source"] == "config"}
    used = [c for c in feats.frame.columns if c not in excluded]
    labels = {c: feature_label(c) for c in feats.frame.columns}
    labels[cfg.target] = feature_label(cfg.target)
    report["features"]["used"] = used
    report["features"]["labels"] = labels
    findings.exclusions(report)
    if not used:
        report["status"] = "no_features"
        findings.not_fitted(report)
        return DriversResult(report, pd.DataFrame(), timings)

    t = _now()
    vm = fit_value_model(feats.frame[used], y, cfg, seed, rng)
    _lap(timings, "fit", t)
    report["model"] = vm.summary
    if len(data) < ROUGH_BELOW:
        report["notes"].append(note("few_customers", customers=len(data), threshold=ROUGH_BELOW))

    seg_ids, seg_names = _segment_ids(data)
    n = len(data)
    strata = (seg_ids if seg_ids is not None and np.unique(seg_ids).size > 1
              else np.zeros(n, dtype=int))
    t = _now()
    ex = explain_sample(vm, y, strata, cfg, rng, executor)
    _lap(timings, "shap", t)
    t = _now()
    report.update(global_importance(vm, ex, feats, labels, cfg, rng))
    _lap(timings, "bootstrap", t)
    if seg_ids is not None:
        report["segments"] = segment_drivers(vm, ex, y, seg_ids, seg_names, labels)
    t = _now()
    report["membership"] = membership_models(
        data, feats, config_excluded, y,
        seg_ids if seg_ids is not None else np.zeros(n, dtype=int), seg_names,
        seg_ids is not None, cfg, seed, rng)
    _lap(timings, "membership", t)
    frame = shap_frame(data, vm, ex, y, cfg.target, seg_ids, seg_names)
    findings.fitted(report, cfg.top_n)
    _lap(timings, "total", t0)
    return DriversResult(jsonable(report), frame, timings)
