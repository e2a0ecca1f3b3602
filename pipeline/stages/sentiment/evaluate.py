"""Evaluation of sentiment labels against true labels: accuracy, macro-F1, confusion matrix."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from segment_report.pipeline.stages.sentiment.labels import LABELS, UNSCORABLE


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str],
                           labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Rows whose prediction is not one of ``labels`` (e.g. ``unscorable``) count as wrong.

    Returns:
        ``{"n", "accuracy", "macro_f1", "per_class": {label: {...}}, "confusion_matrix":
        {"labels": [...], "rows_true_cols_pred": [[...]]}}``.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = [str(v) for v in y_true]
    y_pred = [str(v) for v in y_pred]
    labels = list(labels)
    n = len(y_true)
    if n == 0:
        return {"n": 0, "accuracy": None, "macro_f1": None, "per_class": {},
                "confusion_matrix": {"labels": labels, "rows_true_cols_pred": []}}
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = [i for i, lab in enumerate(labels) if s[i] > 0]
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "n": n,
        "accuracy": float(np.mean([a == b for a, b in zip(y_true, y_pred)])),
        "macro_f1": float(np.mean([f[i] for i in present])) if present else None,
        "per_class": {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(s[i])} for i, lab in enumerate(labels)},
        "confusion_matrix": {"labels": labels, "rows_true_cols_pred": cm.tolist()},
    }


def evaluate_labels(true: pd.Series, scores: pd.DataFrame) -> dict[str, Any]:
    """Accuracy, macro-F1 and confusion matrix of predicted vs true labels.

    When the true labels have no ``neutral`` class, the prediction is binary
    (positive_prob >= 0.5), so a 2-class benchmark is not penalised by the neutral band.

    Returns:
        :func:`classification_metrics` output plus ``"mode"``.
    """
    mask = true.notna().to_numpy()
    t = true[mask].astype(str).to_numpy()
    prob = scores["positive_prob"].to_numpy()[mask]
    if "neutral" in set(t):
        pred = scores["label"].astype(str).to_numpy()[mask]
        labels, mode = list(LABELS), "3-class"
    else:
        pred = np.where(np.isnan(prob), UNSCORABLE, np.where(prob >= 0.5, "positive", "negative"))
        labels, mode = ["negative", "positive"], "binary (positive_prob >= 0.5)"
    m = classification_metrics(t, pred, labels)
    m["mode"] = mode
    m["unscorable"] = int(np.isnan(prob).sum())
    return m


