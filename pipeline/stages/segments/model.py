"""The fitted segment model (:class:`SegmentModel`): assign customers to saved segments, save
it with a run and load it next month."""

from __future__ import annotations

import json
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from segment_report.pipeline.errors import InputDataError
from segment_report.pipeline.io.store import jsonable
from segment_report.pipeline.stages.findings import note
from segment_report.pipeline.stages.segments.clustering import Segmenter, predict_in_chunks
from segment_report.pipeline.stages.segments.features import FeatureTransformer

MODEL_FILE = "segment_model.joblib"
MODEL_META = "segment_model.json"
NOISE_ID = -1
NOISE_NAME = "Unassigned"
# Where models saved by earlier versions name their classes: ``pipeline.segments`` before the
# one ``segment_report`` package, ``segment_report.pipeline.segments`` before the stage
# subpackages. Last month's model must still load after an upgrade.
_OLD_MODULES = ("pipeline.segments", "segment_report.pipeline.segments")


@dataclass
class SegmentModel:
    """Everything needed to assign next month's customers to these segments.

    Attributes:
        transformer: the fitted :class:`FeatureTransformer` (feature schema).
        segmenter: the fitted :class:`Segmenter`, or ``None`` for a one-segment fallback.
        label_to_id: HDBSCAN label -> public ``segment_id``.
        names: ``segment_id`` -> name; ``descriptions`` likewise.
        stability: ``segment_id`` -> stability dict from the fit run; ``stability_overall``.
        assignments: the fit run's ``customer_id -> segment_id`` (for carry-over matching).
        meta: config, seed, versions, created timestamp.
    """

    transformer: FeatureTransformer
    segmenter: Segmenter | None
    label_to_id: dict[int, int]
    names: dict[int, str]
    descriptions: dict[int, str] = field(default_factory=dict)
    stability: dict[int, dict[str, Any]] = field(default_factory=dict)
    stability_overall: dict[str, Any] = field(default_factory=dict)
    assignments: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: Path) -> Path:
        """Write the model to ``directory`` (``segment_model.joblib`` + readable ``segment_model.json``).

        Returns:
            The path of the joblib file.
        """
        import joblib

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MODEL_FILE
        joblib.dump(self, path, compress=3)
        info = {"meta": self.meta, "features": self.transformer.columns_,
                "schema": self.transformer.schema_,
                "segments": [{"id": i, "name": self.names.get(i)} for i in sorted(self.names)]}
        (directory / MODEL_META).write_text(json.dumps(jsonable(info), indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path) -> SegmentModel:
        """Load a model written by :meth:`save`.

        Raises:
            InputDataError: the folder has no model or it cannot be read.
        """
        import joblib

        path = Path(directory) / MODEL_FILE
        if not path.exists():
            raise InputDataError("no saved segment model here", file=str(path),
                                 expected=f"{MODEL_FILE} written by a previous run (model/segments/)",
                                 fix="point --reuse-model at a previous run folder that finished")
        try:
            with _old_module_alias():
                model = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing
            raise InputDataError(f"the saved segment model cannot be read ({exc})", file=str(path),
                                 expected="a model saved by this version of segment-report",
                                 fix="refit without --reuse-model") from None
        if not isinstance(model, cls):
            raise InputDataError("the file is not a segment model", file=str(path),
                                 expected="a SegmentModel", fix="refit without --reuse-model")
        return model

    def assign(self, customers: pd.DataFrame, executor: Any = None) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
        """Assign customers to the saved segments without refitting.

        Args:
            customers: customer feature table with ``customer_id``.
            executor: where the chunks of customers are assigned (``predict_in_chunks``).

        Returns:
            ``(assignments, notes)``; assignments has the columns of
            :attr:`SegmentResult.assignments`, rows in input order.
        """
        X, imputed = self.transformer.transform(customers)
        notes = [note("feature_imputed", feature=c) for c in imputed]
        n = len(customers)
        if self.segmenter is None:
            labels, strength = np.zeros(n, dtype=int), np.ones(n)
            noise, emb2 = np.zeros(n, dtype=bool), np.zeros((n, 2))
        else:
            labels, strength, noise, emb2 = predict_in_chunks(self.segmenter, X, executor)
        return assignment_frame(customers["customer_id"], labels, strength, noise, emb2,
                                 self.label_to_id, self.names), notes



@contextmanager
def _old_module_alias() -> Iterator[None]:
    """Let a model pickled under an old module path load as the classes it was split into."""
    added = []
    for name in _OLD_MODULES:
        parent = name.rpartition(".")[0]
        for module in (parent, name):
            if module not in sys.modules:
                alias = types.ModuleType(module)
                if module == name:
                    alias.FeatureTransformer, alias.Segmenter, alias.SegmentModel = (
                        FeatureTransformer, Segmenter, SegmentModel)
                sys.modules[module] = alias
                added.append(module)
    try:
        yield
    finally:
        for module in added:
            del sys.modules[module]


def assignment_frame(customer_id: pd.Series, labels: np.ndarray, strength: np.ndarray,
                     noise: np.ndarray, emb2: np.ndarray, label_to_id: dict[int, int],
                     names: dict[int, str]) -> pd.DataFrame:
    """One row per customer: customer_id, segment_id (from ``label_to_id``, noise -1),
    segment_name, membership_strength, was_noise, umap_x, umap_y."""
    ids = np.array([label_to_id.get(int(lab), NOISE_ID) for lab in labels], dtype=int)
    return pd.DataFrame({
        "customer_id": customer_id.astype("string").to_numpy(),
        "segment_id": ids,
        "segment_name": pd.array([names.get(int(i), NOISE_NAME) for i in ids], dtype="string"),
        "membership_strength": np.asarray(strength, dtype=float),
        "was_noise": np.asarray(noise, dtype=bool),
        "umap_x": np.asarray(emb2[:, 0], dtype=float),
        "umap_y": np.asarray(emb2[:, 1], dtype=float),
    })
