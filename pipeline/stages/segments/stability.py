"""Stability of a segmentation: how much of it survives refits on bootstrap subsamples.

``segments.stability_runs`` refits (UMAP + HDBSCAN with the chosen parameters, seed
``seed + 1 + i``) on 80% bootstrap subsamples (without replacement) of
``segments.stability_sample_size`` fitted customers. Agreement with the reference segmentation
on the shared customers: adjusted Rand index overall and, per segment, the best Jaccard overlap
with any perturbed cluster, averaged over runs. Confidence per segment, after Hennig (2007,
"Cluster-wise assessment of cluster stability"): ``high`` when mean Jaccard >=
:data:`CONFIDENCE_HIGH`, ``medium`` when >= :data:`CONFIDENCE_MEDIUM`, ``low`` otherwise.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from segment_report.pipeline.config import SegmentsConfig
from segment_report.pipeline.log import logger
from segment_report.pipeline.stages.segments.clustering import (MIN_CUSTOMERS, Segmenter, make_hdbscan,
                                                                 make_umap, membership_matrix, n_clusters)

CONFIDENCE_HIGH = 0.75
CONFIDENCE_MEDIUM = 0.60
STABILITY_EPOCHS = 200


def confidence_level(jaccard: float | None) -> str:
    """Map a mean bootstrap Jaccard to ``high`` (>= 0.75) / ``medium`` (>= 0.60) / ``low``."""
    if jaccard is None or not math.isfinite(jaccard):
        return "low"
    if jaccard >= CONFIDENCE_HIGH:
        return "high"
    if jaccard >= CONFIDENCE_MEDIUM:
        return "medium"
    return "low"


def bootstrap_stability(X: np.ndarray, ref_labels: np.ndarray, seg: Segmenter, cfg: SegmentsConfig,
               seed: int) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """Bootstrap refits -> ARI overall and mean best Jaccard per reference label."""
    from sklearn.metrics import adjusted_rand_score

    runs = cfg.stability_runs
    labels_present = sorted(set(ref_labels.tolist()) - {-1})
    if runs == 0 or len(labels_present) < 2:
        reason = "stability_runs is 0" if runs == 0 else "only one segment"
        per = {lab: {"jaccard_mean": None, "jaccard_runs": [], "confidence": "low" if runs else None}
               for lab in labels_present}
        return {"runs": 0, "ari_mean": None, "ari_runs": [], "skipped": reason}, per
    rng = np.random.default_rng(seed + 7919)
    n = len(X)
    pool = np.sort(rng.choice(n, min(n, cfg.stability_sample_size), replace=False))
    aris: list[float] = []
    jac: dict[int, list[float]] = {lab: [] for lab in labels_present}
    for i in range(runs):
        sub = np.sort(rng.choice(pool, max(MIN_CUSTOMERS, int(0.8 * len(pool))), replace=False))
        ratio = len(sub) / n
        pert = Segmenter(
            n_components=seg.n_components, n_neighbors=seg.n_neighbors, min_dist=seg.min_dist,
            min_segments=1, max_segments=10_000,
            min_cluster_size=max(5, int(round(seg.min_cluster_size_ * ratio))),
            min_samples=max(1, min(seg.min_samples_, int(round(seg.min_cluster_size_ * ratio)))),
            assign_noise=seg.assign_noise, n_epochs=seg.n_epochs, deterministic=True,
            random_state=seed + 1 + i)
        try:
            pert_labels = _fit_labels_only(pert, X[sub], seg.selection_method_)
        except Exception as exc:  # noqa: BLE001 - a failed perturbation counts as disagreement
            logger.debug("stability run %d failed: %s", i, exc)
            pert_labels = np.zeros(len(sub), dtype=int)
        ref = ref_labels[sub]
        aris.append(float(adjusted_rand_score(ref, pert_labels)))
        for lab in labels_present:
            a = ref == lab
            if not a.any():
                continue
            best = 0.0
            for p in set(pert_labels.tolist()) - {-1}:
                b = pert_labels == p
                inter = np.sum(a & b)
                if inter:
                    best = max(best, inter / np.sum(a | b))
            jac[lab].append(float(best))
    overall = {"runs": runs, "sample_size": int(len(pool)), "subsample_fraction": 0.8,
               "ari_mean": float(np.mean(aris)), "ari_min": float(np.min(aris)), "ari_runs": aris}
    per = {}
    for lab in labels_present:
        mean = float(np.mean(jac[lab])) if jac[lab] else None
        per[lab] = {"jaccard_mean": mean, "jaccard_min": float(np.min(jac[lab])) if jac[lab] else None,
                    "jaccard_runs": jac[lab], "confidence": confidence_level(mean)}
    return overall, per


def _fit_labels_only(seg: Segmenter, X: np.ndarray, method: str) -> np.ndarray:
    """Cluster-embedding UMAP + HDBSCAN with fixed parameters (no 2-D map, no tuning)."""
    import hdbscan

    n = len(X)
    um = make_umap(n, seg.n_components, seg.n_neighbors, seg.min_dist, seg.random_state, True,
                    seg.n_epochs or STABILITY_EPOCHS)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="umap")
        emb = um.fit_transform(X)
    cl = make_hdbscan(seg.min_cluster_size, seg.min_samples, method).fit(emb)
    labels = cl.labels_.astype(int)
    noise = labels == -1
    if seg.assign_noise and noise.any() and n_clusters(labels) > 0:
        member = membership_matrix(hdbscan.all_points_membership_vectors(cl), len(labels))[noise]
        labels[noise] = np.where(member.max(axis=1) > 0, member.argmax(axis=1), -1)
    return labels

