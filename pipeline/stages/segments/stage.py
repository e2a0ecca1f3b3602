"""The segments stage: customer feature table -> named, stable personas (:func:`segment_customers`).

Data flow (one row per customer, never per transaction)::

    customers table --FeatureTransformer (features.py)--> X (n x d)
        --Segmenter (clustering.py): UMAP + tuned HDBSCAN--> labels, membership, 2-D map
    labels --personas.py--> profile, name, description
    bootstrap refits (stability.py) --> stability (ARI overall, Jaccard per segment, confidence)
    previous run's SegmentModel (model.py) --> reuse (assign) or carry-over of ids and names
        (carry_over.py)

Sampling, tuning, HDBSCAN, the dequantization jitter and the stability bootstrap are seeded;
with ``segments.deterministic`` (the default) the same data + config + seed give identical
assignments and an identical segments.json.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.config import SegmentsConfig
from segment_report.pipeline.errors import ConfigError, InputDataError
from segment_report.pipeline.log import logger
from segment_report.pipeline.io.store import jsonable
from segment_report.pipeline.stages.findings import note
from segment_report.pipeline.stages.segments import personas
from segment_report.pipeline.stages.segments.carry_over import (carried_names, carry_ids, carry_over_summary,
                                                                 segment_carry_over)
from segment_report.pipeline.stages.segments.clustering import MIN_CUSTOMERS, Segmenter, predict_in_chunks
from segment_report.pipeline.stages.segments.features import FeatureTransformer
from segment_report.pipeline.stages.segments.model import NOISE_ID, NOISE_NAME, SegmentModel, assignment_frame
from segment_report.pipeline.stages.segments.stability import (CONFIDENCE_HIGH, CONFIDENCE_MEDIUM,
                                                                bootstrap_stability)

#: The codes of ``segments.json`` ``summary.warnings`` (``reports.narrative.notes`` words them).
NOTE_CODES = ("too_few_customers", "too_few_profiles", "feature_imputed", "no_setting_in_range",
              "no_dense_groups", "segments_out_of_range")


@dataclass
class SegmentResult:
    """Output of :func:`segment_customers`.

    Attributes:
        assignments: one row per customer: customer_id, segment_id, segment_name,
            membership_strength, was_noise, umap_x, umap_y (input order).
        segments: one dict per segment for ``results/segments.json`` (raw numbers).
        model: the :class:`SegmentModel` to save under ``<run>/model/segments/``.
        summary: run-level facts: counts, noise share, chosen parameters, tuning table,
            stability, carry-over (vanished segments), warnings.
        timings: seconds per step (for manifest.json; kept out of segments.json so that file
            is identical for identical inputs).
    """

    assignments: pd.DataFrame
    segments: list[dict[str, Any]]
    model: SegmentModel
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The content of ``results/segments.json``: ``{"summary": ..., "segments": [...]}``."""
        return jsonable({"summary": self.summary, "segments": self.segments})


@dataclass
class _Fitted:
    """What fitting (or reusing) a model produced, before the personas are profiled and named."""

    mode: str  # "fit", "refit" (with a previous model to carry ids over from) or "reuse"
    assignments: pd.DataFrame  # assignment_frame() rows, in input order
    model: SegmentModel
    notes: list[dict[str, Any]]
    timings: dict[str, float]
    started: float  # time.perf_counter() when the stage began
    tuning: list[dict[str, Any]] = field(default_factory=list)
    carry: dict[str, Any] | None = None
    previous: SegmentModel | None = None


def _validate(customers: pd.DataFrame) -> None:
    if "customer_id" not in customers.columns:
        raise InputDataError("the customer table has no customer_id column",
                             expected="one row per customer with customer_id and feature columns",
                             fix="run the features stage first")
    if len(customers) == 0:
        raise InputDataError("the customer table is empty: there is nobody to segment",
                             expected="at least one customer",
                             fix="check the input period (run.period) and the quarantine file")
    dup = customers["customer_id"].duplicated()
    if dup.any():
        raise InputDataError(
            f"{int(dup.sum())} duplicate customer_id value(s), e.g. {customers['customer_id'][dup].iloc[0]!r}",
            expected="one row per customer", fix="deduplicate the customer feature table")


def segment_customers(customers: pd.DataFrame, cfg: SegmentsConfig, seed: int,
                      previous: SegmentModel | None = None, reuse: bool = False,
                      executor: Any = None) -> SegmentResult:
    """Segment customers into named personas.

    Args:
        customers: the customer feature table (``results/customers.parquet``), one row per
            customer; sentiment columns may be absent.
        cfg: the ``segments`` config section.
        seed: the run seed.
        previous: the previous run's :class:`SegmentModel` (``SegmentModel.load``), or ``None``.
        reuse: with ``previous``, assign to its segments instead of refitting. Without
            reuse, ``previous`` is used only to carry ids and names over by overlap.
        executor: where customers outside the fitted sample are assigned, in chunks
            (``pipeline.engine``; default in this process). The result does not depend on it.

    Returns:
        A :class:`SegmentResult` (assignments in input order, segments, model, summary).

    Raises:
        InputDataError: no customer_id, empty table, duplicate ids, no usable feature.
        ConfigError: ``reuse`` without ``previous``; bad ``segments.features``.
    """
    t0 = time.perf_counter()
    _validate(customers)
    if reuse and previous is None:
        raise ConfigError("reuse of a segment model was asked for, but no previous model was given",
                          expected="--reuse-model pointing at a previous run folder",
                          fix="pass the previous run folder, or drop --reuse-model")
    customers = customers.reset_index(drop=True)
    if reuse:
        assert previous is not None
        fitted = _reuse(customers, previous, t0, executor)
    else:
        fitted = _fit(customers, cfg, seed, previous, t0, executor)
    return _finish(customers, cfg, seed, fitted)


def _reuse(customers: pd.DataFrame, previous: SegmentModel, t0: float, executor: Any) -> _Fitted:
    """Assign to the previous model's segments, without refitting."""
    assignments, notes = previous.assign(customers, executor)
    timings = {"assign_s": time.perf_counter() - t0}
    # same fitted objects; the assignments travel on so next month matches against this one
    model = dataclasses.replace(previous, assignments=assignments[["customer_id", "segment_id"]].copy())
    return _Fitted(mode="reuse", assignments=assignments, model=model, notes=notes, timings=timings,
                   started=t0)


def _fit(customers: pd.DataFrame, cfg: SegmentsConfig, seed: int, previous: SegmentModel | None,
         t0: float, executor: Any) -> _Fitted:
    """Fit the features and the clustering, measure stability and carry ids over from ``previous``."""
    timings: dict[str, float] = {}
    notes: list[dict[str, Any]] = []
    transformer = FeatureTransformer(cfg.features).fit(customers)
    X, _ = transformer.transform(customers)
    seg, fit_idx, (labels, strength, noise, emb2) = _cluster(customers, transformer, X, cfg, seed,
                                                             notes, timings, t0, executor)
    # provisional ids: 1..k by size (largest first), label order breaks ties
    present = [lab for lab in sorted(set(labels.tolist())) if lab != -1]
    sizes = {lab: int(np.sum(labels == lab)) for lab in present}
    ordered = sorted(present, key=lambda lab: (-sizes[lab], lab))
    label_to_id = {lab: i + 1 for i, lab in enumerate(ordered)}

    stab_overall: dict[str, Any] = {"runs": 0, "ari_mean": None, "skipped": "one segment"}
    stab_label: dict[int, dict[str, Any]] = {}
    if seg is not None:
        t1 = time.perf_counter()
        stab_overall, stab_label = bootstrap_stability(X[fit_idx], labels[fit_idx], seg, cfg, seed)
        timings["stability_s"] = time.perf_counter() - t1

    carry = None
    if previous is not None and previous.assignments is not None:
        label_to_id, carry = carry_ids(customers["customer_id"], labels, label_to_id, previous)

    assignments = assignment_frame(customers["customer_id"], labels, strength, noise, emb2,
                                   label_to_id, {})
    model = SegmentModel(transformer=transformer, segmenter=seg, label_to_id=label_to_id, names={},
                         stability={label_to_id[lab]: v for lab, v in stab_label.items() if lab in label_to_id},
                         stability_overall=stab_overall,
                         assignments=assignments[["customer_id", "segment_id"]].copy(),
                         meta={"seed": seed, "config": cfg.model_dump(mode="json"),
                               "n_customers_fit": int(len(fit_idx)), "created_unix": time.time(),
                               "versions": _versions()})
    return _Fitted(mode="refit" if previous is not None else "fit", assignments=assignments,
                   model=model, notes=notes, timings=timings, started=t0,
                   tuning=getattr(seg, "tuning_", []) if seg is not None else [], carry=carry,
                   previous=previous)


def _cluster(customers: pd.DataFrame, transformer: FeatureTransformer, X: np.ndarray,
             cfg: SegmentsConfig, seed: int, notes: list[dict[str, Any]], timings: dict[str, float], t0: float,
             executor: Any) -> tuple[Segmenter | None, np.ndarray, tuple[np.ndarray, ...]]:
    """Fit a :class:`Segmenter` on a sample of ``X`` and assign the rest, or put everyone in one
    segment when there are too few customers or profiles (a note says so).

    Returns:
        ``(segmenter or None, fit row positions, (labels, strength, was_noise, 2-D map))``.
    """
    n = len(customers)
    # counted on the raw columns: the dequantization jitter makes every row unique
    distinct = len(customers[transformer.columns_].drop_duplicates())
    if n < max(MIN_CUSTOMERS, cfg.min_segments * 5) or distinct < max(cfg.min_segments * 5, 10):
        needed = max(MIN_CUSTOMERS, cfg.min_segments * 5)
        notes.append(note("too_few_customers", customers=n, needed=needed) if n < needed else
                     note("too_few_profiles", profiles=distinct, needed=max(cfg.min_segments * 5, 10)))
        logger.warning("%d customers with %d distinct profiles: too few to segment, every "
                       "customer is in one segment", n, distinct)
        one = (np.zeros(n, dtype=int), np.ones(n), np.zeros(n, dtype=bool), np.zeros((n, 2)))
        return None, np.arange(n), one
    rng = np.random.default_rng(seed)
    fit_idx = (np.sort(rng.choice(n, cfg.fit_sample_size, replace=False))
               if n > cfg.fit_sample_size else np.arange(n))
    seg = Segmenter(n_components=cfg.n_components, n_neighbors=cfg.n_neighbors,
                    min_dist=cfg.min_dist, min_segments=cfg.min_segments,
                    max_segments=cfg.max_segments, min_cluster_size=cfg.min_cluster_size,
                    min_samples=cfg.min_samples, assign_noise=cfg.assign_noise,
                    n_epochs=cfg.n_epochs, deterministic=cfg.deterministic,
                    random_state=seed)
    logger.info("segments: fitting UMAP + HDBSCAN on %d of %d customers", len(fit_idx), n)
    seg.fit(X[fit_idx])
    timings["fit_s"] = time.perf_counter() - t0
    notes.extend(seg.warnings_)
    labels = np.empty(n, dtype=int)
    strength = np.empty(n)
    noise = np.empty(n, dtype=bool)
    emb2 = np.empty((n, 2))
    labels[fit_idx], strength[fit_idx] = seg.labels_, seg.strength_
    noise[fit_idx], emb2[fit_idx] = seg.was_noise_, seg.embedding_2d_
    rest = np.setdiff1d(np.arange(n), fit_idx)
    if len(rest):
        t1 = time.perf_counter()
        lab_r, str_r, noi_r, emb_r = predict_in_chunks(seg, X[rest], executor)
        labels[rest], strength[rest], noise[rest], emb2[rest] = lab_r, str_r, noi_r, emb_r
        timings["assign_s"] = time.perf_counter() - t1
    return seg, fit_idx, (labels, strength, noise, emb2)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("umap-learn", "hdbscan", "scikit-learn", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _finish(customers: pd.DataFrame, cfg: SegmentsConfig, seed: int, fitted: _Fitted) -> SegmentResult:
    """Profiles, names, descriptions, stability and carry-over flags -> SegmentResult."""
    model, mode = fitted.model, fitted.mode
    profiles = personas.profile_segments(customers, fitted.assignments["segment_id"].to_numpy(),
                                         model.transformer.columns_)
    if mode == "reuse":
        names = {p["id"]: model.names.get(p["id"], f"Segment {p['id']}") for p in profiles}
    else:
        names = personas.name_segments(profiles, fixed=carried_names(fitted.carry, fitted.previous))
        model.names = dict(names)
    descriptions = {p["id"]: personas.describe_segment(p) for p in profiles}
    if mode != "reuse":
        model.descriptions = descriptions
    assignments = fitted.assignments.copy()
    assignments["segment_name"] = pd.array(
        [names.get(int(i), NOISE_NAME) for i in assignments["segment_id"]], dtype="string")
    assignments = assignments[["customer_id", "segment_id", "segment_name", "membership_strength",
                               "was_noise", "umap_x", "umap_y"]]
    segments = []
    for p in profiles:
        sid = p["id"]
        in_segment = assignments["segment_id"] == sid
        segments.append({"id": sid, "name": names[sid], "description": descriptions[sid],
                         "size": p["size"], "share": p["share"],
                         "noise_share": float(assignments.loc[in_segment, "was_noise"].mean()),
                         "mean_membership_strength": float(
                             assignments.loc[in_segment, "membership_strength"].mean()),
                         "profile": {k: v for k, v in p.items() if k not in ("id", "size", "share")},
                         "stability": model.stability.get(sid, {"jaccard_mean": None, "confidence": None}),
                         "carry_over": segment_carry_over(sid, mode, fitted.carry, names, fitted.previous)})
    fitted.timings["total_s"] = time.perf_counter() - fitted.started
    return SegmentResult(assignments=assignments, segments=segments, model=model,
                         summary=jsonable(_summary(customers, cfg, seed, fitted, assignments, segments)),
                         timings=fitted.timings)


def _summary(customers: pd.DataFrame, cfg: SegmentsConfig, seed: int, fitted: _Fitted,
             assignments: pd.DataFrame, segments: list[dict[str, Any]]) -> dict[str, Any]:
    """The run-level ``summary`` of segments.json."""
    model, seg = fitted.model, fitted.model.segmenter
    return {
        "mode": fitted.mode, "seed": seed, "n_customers": int(len(customers)),
        "n_segments": len(segments),
        "segment_range": [cfg.min_segments, cfg.max_segments],
        "in_range": cfg.min_segments <= len(segments) <= cfg.max_segments,
        "noise_share": float(assignments["was_noise"].mean()),
        "noise_assigned": cfg.assign_noise,
        "unassigned": int((assignments["segment_id"] == NOISE_ID).sum()),
        "features": model.transformer.columns_,
        "feature_schema": model.transformer.schema_,
        "n_customers_fit": model.meta.get("n_customers_fit"),
        "deterministic": cfg.deterministic,
        "umap": ({"n_components": seg.umap_.n_components, "n_neighbors": seg.umap_.n_neighbors,
                  "min_dist": seg.umap_.min_dist, "n_epochs": seg.umap_.n_epochs} if seg else None),
        "hdbscan": ({"min_cluster_size": seg.min_cluster_size_, "min_samples": seg.min_samples_,
                     "cluster_selection_method": seg.selection_method_,
                     "raw_noise_share": seg.noise_share_} if seg else None),
        "tuning": fitted.tuning,
        "stability": {**model.stability_overall,
                      "thresholds": {"high": CONFIDENCE_HIGH, "medium": CONFIDENCE_MEDIUM}},
        "carry_over": carry_over_summary(fitted.carry, fitted.previous),
        "warnings": fitted.notes,
    }
