"""Customer segmentation: feature matrix -> UMAP -> HDBSCAN -> named personas.

Data flow (one row per customer, never per transaction)::

    customers table --FeatureTransformer--> X (n x d)
        --UMAP (n_components, min_dist=0)--> clustering embedding --HDBSCAN (tuned)--> labels
        --UMAP (2-D, separate)------------> umap_x / umap_y for plots
    labels --noise assignment (soft membership)--> segment_id, membership_strength, was_noise
    segment_id --pipeline.personas--> profile, name, description
    bootstrap refits --> stability (ARI overall, Jaccard per segment, confidence)
    previous run's model --> reuse (assign) or Hungarian carry-over of ids and names

Feature matrix (:class:`FeatureTransformer`)
    * Default features: ``recency_days, frequency, monetary, avg_order_value, items_per_order,
      tenure_days``, every ``cat_share_*`` column, ``age``, ``gender``, ``income_band``,
      ``income`` (only when at least half the customers have a number) and ``positive_prob``
      when the sentiment stage ran. Absent default columns are skipped. ``share_negative`` is
      profiled but not clustered on by default: most customers have one or two reviews, so
      it is nearly a 0/1 flag and split every persona into "wrote a bad review" or not (ARI
      0.83 with 9 segments vs 0.97 with 5 on generated data, 9.5k customers).
      ``segments.features`` replaces the list (``cat_share_*`` patterns allowed); naming a
      column that is absent, or an identifier (``customer_id``, ``state``, ``country``,
      ``is_us``), is a :class:`~segment_report.pipeline.errors.ConfigError`. State is never clustered on:
      geography is reported per segment, not used to form them.
    * Money and counts (``recency_days, frequency, monetary, avg_order_value,
      items_per_order, tenure_days, income, review_count``) are ``log1p``-transformed.
    * Numeric columns are robust-scaled: ``(x - median) / IQR`` (standard deviation when the
      IQR is 0; left unscaled when both are 0, i.e. a constant column, which then contributes
      nothing), then clipped to [-5, 5] so a handful of extreme customers cannot stretch the
      space.
    * Category shares are compositional (they sum to 1): they are centred on their medians and
      divided by ONE common factor (their pooled standard deviation) so the mix keeps its
      geometry instead of inflating rare categories.
    * ``gender``: one-hot over the values seen at fit time, each indicator worth 0.3;
      ``income_band``: ordinal low=-1, medium=0, high=1, times 0.3. Demographics describe
      personas more than they form them: at full weight a random three-level income band
      split every behavioural persona in three on 20k customers.
    * Dequantization: integer-valued columns with 2-100 distinct values (order counts, ages,
      items per order of one-order customers) and the demographic codes get a uniform jitter
      of +-half a step. Without it UMAP treats "1 order" and "2 orders" as separate dense
      sheets and HDBSCAN splits personas along them (ARI 0.69 instead of 0.89 on 100k
      planted customers). The jitter is a hash of (customer_id, column), not random: the same
      customer gets the same jitter in every run and month, whatever the seed or row order.
    * ``positive_prob`` is centred and scaled on the customers with a scored review only
      (``sentiment_missing`` false): the others carry the stage's mean imputation, one value
      for about half the customers, which would shrink the scale and stretch the reviewers.
    * Missing values: numeric NaNs are imputed with the fit-time median (i.e. 0 after
      scaling); a missing ``income_band`` counts as medium (0), a missing ``gender`` sets no
      indicator; the share of missing values
      per feature is recorded in the schema. A feature column missing entirely at assign time
      is imputed the same way and listed in the warnings.

Clustering (:class:`Segmenter`, scikit-learn contract)
    UMAP (umap-learn) with ``min_dist=0`` to ``n_components`` dims (default 8), HDBSCAN (the
    ``hdbscan`` package, ``prediction_data=True``) on that embedding. Tuning: unless given,
    ``min_cluster_size`` is searched over 0.5%..8% of the fitted customers and
    ``min_samples`` over {5, 15} (capped by the cluster size), on a subsample of at most
    :data:`TUNE_SAMPLE` points of the embedding (cluster size scaled to that subsample) with
    ``eom`` selection (``leaf`` is tried too when no ``eom`` candidate lands in range). Among
    the candidates whose segment count is in ``[min_segments, max_segments]`` the highest
    HDBSCAN relative validity (a fast DBCV approximation) wins; ties go to less noise, then
    bigger clusters. When none is in range, the grid is widened once and then the count
    closest to the range is taken and a warning is recorded. The final HDBSCAN runs on the
    whole fit sample with the winning parameters (cluster size scaled back).

Noise
    HDBSCAN noise points get, by default (``segments.assign_noise``), the segment with the
    highest soft membership (``all_points_membership_vectors`` / ``membership_vector``),
    falling back to the segment of the nearest clustered point when every membership is 0.
    ``was_noise`` keeps the flag; ``membership_strength`` is HDBSCAN's probability for
    clustered points and the winning soft membership for former noise points. With
    ``assign_noise: false`` noise keeps ``segment_id = -1`` ("Unassigned").

Scale
    The model is fitted on a seeded random sample of ``segments.fit_sample_size`` customers
    (default 20,000); the rest are assigned with ``UMAP.transform`` +
    ``hdbscan.approximate_predict``, exactly like next month's customers under reuse.
    UMAP uses ``low_memory=True`` and 200 epochs above 10,000 points (400 below;
    ``segments.n_epochs`` overrides), and :data:`TRANSFORM_EPOCHS` (30) when placing new
    points (they start at the weighted mean of their neighbours). The 2-D plot map is a UMAP
    fitted on at most :data:`PLOT_FIT_SAMPLE` (5,000) customers; every other customer is
    placed at the inverse-distance mean of its 10 nearest fitted neighbours in the
    clustering embedding (segment assignment itself always uses UMAP transform +
    ``approximate_predict``).

Determinism
    Sampling, tuning, HDBSCAN, the dequantization jitter and the stability bootstrap are
    seeded and deterministic. UMAP is the only possible source of run-to-run variation:
    ``segments.deterministic: true`` (the default) passes ``random_state=seed``, which makes
    umap-learn run its SGD on one thread and gives identical assignments (and an identical
    segments.json) for the same data + config + seed. ``deterministic: false`` runs UMAP
    unseeded on all cores: two such runs agreed on 99.95% of customers, not 100%. On the
    2-core machine the parallel mode saved no measurable wall time at 100k customers
    (``benchmarks/RESULTS.md``, Segments); it pays off only on machines with many cores.

Stability
    ``segments.stability_runs`` refits (UMAP + HDBSCAN with the chosen parameters, seed
    ``seed + 1 + i``) on 80% bootstrap subsamples (without replacement) of
    ``segments.stability_sample_size`` fitted customers. Agreement with the reference
    segmentation on the shared customers: adjusted Rand index overall and, per segment, the
    best Jaccard overlap with any perturbed cluster, averaged over runs. Confidence per
    segment, after Hennig (2007, "Cluster-wise assessment of cluster stability"):
    ``high`` when mean Jaccard >= 0.75, ``medium`` when >= 0.60, ``low`` otherwise.

Carry-over
    A saved :class:`SegmentModel` holds the fit run's assignments (customer_id -> segment_id).
    When refitting with ``previous``, new segments are matched to previous ones by Jaccard
    overlap on the customers present in both runs (Hungarian matching,
    ``scipy.optimize.linear_sum_assignment``); a pair with Jaccard >= :data:`MATCH_MIN_JACCARD`
    keeps the previous id and name. A previous segment that sends >= 25% of its customers to
    two or more new segments has split (those segments get ``split_from``); a new segment that
    takes >= 25% of its customers from two or more previous segments is a merge
    (``merged_from``); unmatched new segments are ``new``; unmatched previous ones are listed as
    vanished. With ``reuse=True`` nothing is refitted: customers are assigned to the saved
    segments, whose ids and names are kept.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.config import SegmentsConfig
from segment_report.pipeline.errors import ConfigError, InputDataError
from segment_report.pipeline.log import logger

#: Columns that are money or counts: log1p before scaling.
LOG_FEATURES = frozenset({"recency_days", "frequency", "monetary", "avg_order_value",
                          "items_per_order", "tenure_days", "income", "review_count"})
#: Default feature list (``cat_share_*`` expands to every category share column).
DEFAULT_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "items_per_order",
                    "tenure_days", "cat_share_*", "age", "gender", "income_band", "income",
                    "positive_prob")
#: Columns never used to form segments.
FORBIDDEN_FEATURES = frozenset({"customer_id", "state", "country", "is_us", "top_category",
                                "segment_id", "segment_name", "membership_strength", "was_noise",
                                "umap_x", "umap_y"})
CATEGORICAL_FEATURES = {"gender": "onehot", "income_band": "ordinal"}
INCOME_BAND_ORDER = {"low": -1.0, "medium": 0.0, "high": 1.0}
#: Columns the sentiment stage imputes (with the scored customers' mean) and the flag that marks
#: the imputed rows: their centre and scale come from the observed rows only. Otherwise the
#: imputed half of the customers, all at one value, shrinks the IQR about fourfold and every
#: persona splits into its very positive and very critical reviewers (demo: ARI 0.78, 7 segments).
IMPUTED_FLAGS = {"positive_prob": "sentiment_missing"}
#: Weight of a demographic indicator / income-band step (behavioural features have ~1 per IQR).
ONEHOT_WEIGHT = 0.3
ORDINAL_WEIGHT = 0.3
#: Integer-valued numeric columns with at most this many distinct values are dequantized.
DEQUANTIZE_MAX_LEVELS = 100
CLIP = 5.0
#: Fewer customers than this (or fewer distinct feature rows) -> one segment, with a warning.
MIN_CUSTOMERS = 50
TUNE_SAMPLE = 5000
MATCH_MIN_JACCARD = 0.2
STABILITY_EPOCHS = 200
TRANSFORM_EPOCHS = 30
#: The 2-D plot UMAP is fitted on at most this many points; the others are interpolated.
PLOT_FIT_SAMPLE = 5000
SPLIT_MERGE_SHARE = 0.25
CONFIDENCE_HIGH = 0.75
CONFIDENCE_MEDIUM = 0.60
MODEL_FILE = "segment_model.joblib"
MODEL_META = "segment_model.json"
NOISE_ID = -1
NOISE_NAME = "Unassigned"


# --------------------------------------------------------------------------- feature matrix

def _row_keys(customers: pd.DataFrame) -> np.ndarray:
    """A stable 64-bit key per customer (from customer_id; row number when there is none)."""
    ids = customers["customer_id"] if "customer_id" in customers.columns else pd.Series(range(len(customers)))
    return pd.util.hash_pandas_object(ids.astype("string").reset_index(drop=True),
                                      index=False).to_numpy(dtype=np.uint64)


def _unit_noise(keys: np.ndarray, salt: str) -> np.ndarray:
    """Uniform [0, 1) noise that depends only on (customer, salt): splitmix64 of key ^ hash(salt).

    Used to dequantize tied values. Keyed by customer_id, so a customer gets the same
    jitter in every run and month, whatever the row order or the seed.
    """
    salt_key = int(pd.util.hash_pandas_object(pd.Series([salt], dtype="string"), index=False).iloc[0])
    with np.errstate(over="ignore"):
        z = keys ^ np.uint64(salt_key)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2 ** 53)


class FeatureTransformer:
    """Customer table -> numeric matrix for clustering (see the module docstring for the rules).

    Follows the scikit-learn contract: ``__init__`` stores parameters, :meth:`fit` learns the
    schema (``columns_``, ``schema_``) and returns ``self``, :meth:`transform` applies it.

    Args:
        features: feature names or ``fnmatch`` patterns; ``None`` means :data:`DEFAULT_FEATURES`
            with absent columns skipped.
    """

    def __init__(self, features: tuple[str, ...] | None = None) -> None:
        self.features = features

    def _select(self, customers: pd.DataFrame) -> list[str]:
        explicit = self.features is not None
        wanted = list(self.features) if explicit else list(DEFAULT_FEATURES)
        chosen: list[str] = []
        for name in wanted:
            if name in FORBIDDEN_FEATURES or any(fnmatch.fnmatch(f, name) for f in ("customer_id", "state")):
                raise ConfigError(
                    f"segments.features lists '{name}', which segments may not be built on",
                    expected="behavioural, category, demographic or sentiment feature columns; "
                             "not identifiers or geography (" + ", ".join(sorted(FORBIDDEN_FEATURES)) + ")",
                    fix=f"remove '{name}' from segments.features")
            matches = sorted(c for c in customers.columns
                             if fnmatch.fnmatchcase(c, name) and c not in FORBIDDEN_FEATURES)
            if not matches:
                if explicit:
                    raise ConfigError(
                        f"segments.features lists '{name}', but the customer table has no such column",
                        expected="one of: " + ", ".join(str(c) for c in customers.columns),
                        fix=f"remove '{name}' from segments.features or fix its spelling")
                continue
            if not explicit and name == "income" and customers["income"].notna().mean() < 0.5:
                continue
            for m in matches:
                if m not in chosen:
                    chosen.append(m)
        if not chosen:
            raise InputDataError(
                "the customer table has none of the features segments are built on",
                expected="columns such as " + ", ".join(DEFAULT_FEATURES[:6]),
                fix="run the features stage first, or set segments.features")
        return chosen

    def fit(self, customers: pd.DataFrame) -> FeatureTransformer:
        """Learn medians, scales and categories from ``customers``.

        Returns:
            ``self``.

        Raises:
            ConfigError: a configured feature is absent or not allowed.
            InputDataError: no usable feature column at all.
        """
        self.columns_ = self._select(customers)
        schema: dict[str, dict[str, Any]] = {}
        shares = [c for c in self.columns_ if c.startswith("cat_share_")]
        share_scale = 1.0
        if shares:
            vals = customers[shares].apply(pd.to_numeric, errors="coerce").to_numpy(float)
            pooled = float(np.nanstd(vals - np.nanmedian(vals, axis=0))) if np.isfinite(vals).any() else 0.0
            share_scale = pooled if pooled > 1e-12 else 1.0
        for col in self.columns_:
            series = customers[col]
            missing = float(series.isna().mean())
            kind = CATEGORICAL_FEATURES.get(col)
            if kind == "onehot":
                values = series.dropna().astype(str).str.strip().str.lower()
                cats = sorted(v for v in values.unique() if v)
                schema[col] = {"kind": "onehot", "categories": cats, "weight": ONEHOT_WEIGHT,
                               "missing_share": missing}
                continue
            if kind == "ordinal":
                schema[col] = {"kind": "ordinal", "order": INCOME_BAND_ORDER, "missing_value": 0.0,
                               "weight": ORDINAL_WEIGHT, "missing_share": missing}
                continue
            x = self._numeric(series, col)
            flag = IMPUTED_FLAGS.get(col)
            observed = (~customers[flag].fillna(False).astype(bool).to_numpy()
                        if flag in customers.columns else np.ones(len(x), dtype=bool))
            finite = x[observed & np.isfinite(x)]
            median = float(np.median(finite)) if finite.size else 0.0
            if col in shares:
                schema[col] = {"kind": "share", "center": median, "scale": share_scale,
                               "impute": median, "missing_share": missing}
                continue
            raw = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            raw = raw[np.isfinite(raw)]
            dequantize = bool(raw.size and np.all(raw == np.round(raw))
                              and 2 <= len(np.unique(raw)) <= DEQUANTIZE_MAX_LEVELS)
            if dequantize:
                x = self._numeric(series, col, jitter=_unit_noise(_row_keys(customers), col) - 0.5)
                finite = x[observed & np.isfinite(x)]
                median = float(np.median(finite)) if finite.size else 0.0
            q75, q25 = (np.percentile(finite, [75, 25]) if finite.size else (0.0, 0.0))
            scale = float(q75 - q25)
            if scale <= 1e-12:
                scale = float(np.std(finite)) if finite.size else 0.0
            constant = scale <= 1e-12
            schema[col] = {"kind": "numeric", "log1p": col in LOG_FEATURES, "dequantize": dequantize,
                           "center": median,
                           "scale": 1.0 if constant else scale, "constant": constant,
                           "impute": median, "missing_share": missing}
        self.schema_ = schema
        self.output_names_ = self._output_names()
        return self

    @staticmethod
    def _numeric(series: pd.Series, col: str, jitter: np.ndarray | None = None) -> np.ndarray:
        x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if jitter is not None:
            x = x + jitter
        if col in LOG_FEATURES:
            with np.errstate(invalid="ignore"):
                x = np.log1p(np.clip(x, 0.0, None))
        return x

    def _output_names(self) -> list[str]:
        names = []
        for col in self.columns_:
            spec = self.schema_[col]
            if spec["kind"] == "onehot":
                names.extend(f"{col}={c}" for c in spec["categories"])
            else:
                names.append(col)
        return names

    def transform(self, customers: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """Apply the learned schema.

        Args:
            customers: a customer table; feature columns absent from it are imputed.

        Returns:
            ``(X, imputed_columns)``: the float matrix (rows in input order) and the names of
            feature columns that were missing entirely and imputed.
        """
        n = len(customers)
        keys = _row_keys(customers)
        blocks: list[np.ndarray] = []
        imputed: list[str] = []
        for col in self.columns_:
            spec = self.schema_[col]
            present = col in customers.columns
            if not present:
                imputed.append(col)
            if spec["kind"] == "onehot":
                cats = spec["categories"]
                block = np.zeros((n, len(cats)))
                if present:
                    vals = customers[col].astype("string").str.strip().str.lower()
                    vals = vals.fillna("").to_numpy(dtype=object)
                    for j, c in enumerate(cats):
                        block[:, j] = (vals == c) * spec["weight"]
                for j, c in enumerate(cats):
                    block[:, j] += (_unit_noise(keys, f"{col}={c}") - 0.5) * spec["weight"]
                blocks.append(block)
                continue
            if spec["kind"] == "ordinal":
                if present:
                    vals = customers[col].astype("string").str.strip().str.lower()
                    mapped = vals.map(spec["order"]).astype("Float64")
                    col_x = mapped.fillna(spec["missing_value"]).to_numpy(dtype=float)
                else:
                    col_x = np.full(n, spec["missing_value"])
                col_x = (col_x + _unit_noise(keys, col) - 0.5) * spec["weight"]
                blocks.append(col_x[:, None])
                continue
            jitter = _unit_noise(keys, col) - 0.5 if spec.get("dequantize") else None
            x = self._numeric(customers[col], col, jitter) if present else np.full(n, np.nan)
            x = np.where(np.isfinite(x), x, spec["impute"])
            z = np.clip((x - spec["center"]) / spec["scale"], -CLIP, CLIP)
            blocks.append(z[:, None])
        return np.hstack(blocks) if blocks else np.zeros((n, 0)), imputed


# --------------------------------------------------------------------------- clustering

def _epochs(n: int, n_epochs: int | None) -> int:
    if n_epochs is not None:
        return n_epochs
    return 200 if n > 10_000 else 400


def _make_umap(n: int, n_components: int, n_neighbors: int, min_dist: float, seed: int,
               deterministic: bool, n_epochs: int | None = None):
    import umap

    return umap.UMAP(
        n_components=min(n_components, max(2, n - 2)),
        n_neighbors=max(2, min(n_neighbors, n - 1)),
        min_dist=min_dist,
        metric="euclidean",
        n_epochs=_epochs(n, n_epochs),
        low_memory=True,
        random_state=seed if deterministic else None,
        transform_seed=seed,
        n_jobs=1 if deterministic else -1,
        verbose=False,
    )


def _hdbscan(min_cluster_size: int, min_samples: int, method: str, validity: bool = False):
    import hdbscan

    return hdbscan.HDBSCAN(min_cluster_size=int(min_cluster_size), min_samples=int(min_samples),
                           cluster_selection_method=method, prediction_data=True,
                           gen_min_span_tree=validity, core_dist_n_jobs=1)


def _as_matrix(member: Any, n_rows: int) -> np.ndarray:
    """hdbscan returns a 1-D vector when there is one cluster: make it (n_rows, k)."""
    member = np.nan_to_num(np.asarray(member, dtype=float))
    return member.reshape(n_rows, -1)


def _n_clusters(labels: np.ndarray) -> int:
    return int(len(set(labels.tolist()) - {-1}))


class Segmenter:
    """UMAP + HDBSCAN with automatic tuning of the segment count (scikit-learn contract).

    ``Segmenter(min_segments=4, max_segments=10).fit(X).labels_``

    Args:
        n_components: UMAP dimensions for clustering.
        n_neighbors: UMAP neighbourhood size (capped at n - 1).
        min_dist: UMAP ``min_dist`` (0 packs clusters tightly, best for density clustering).
        min_segments, max_segments: the wanted range of segment counts.
        min_cluster_size, min_samples: fix HDBSCAN's parameters instead of tuning them.
        assign_noise: give noise points their most likely segment.
        n_epochs: UMAP epochs (``None``: 200 above 10,000 points, else 400).
        deterministic: seeded single-thread UMAP (reproducible, slower).
        random_state: the seed.

    Fitted attributes: ``umap_``, ``umap_2d_``, ``clusterer_``, ``embedding_``,
    ``embedding_2d_``, ``raw_labels_`` (HDBSCAN, -1 = noise), ``labels_`` (after noise
    assignment), ``strength_``, ``was_noise_``, ``n_segments_``, ``noise_share_``,
    ``min_cluster_size_``, ``min_samples_``, ``selection_method_``, ``tuning_`` (every
    candidate tried), ``warnings_``.
    """

    def __init__(self, n_components: int = 8, n_neighbors: int = 30, min_dist: float = 0.0,
                 min_segments: int = 4, max_segments: int = 10, min_cluster_size: int | None = None,
                 min_samples: int | None = None, assign_noise: bool = True,
                 n_epochs: int | None = None, deterministic: bool = False,
                 random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.min_segments = min_segments
        self.max_segments = max_segments
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.assign_noise = assign_noise
        self.n_epochs = n_epochs
        self.deterministic = deterministic
        self.random_state = random_state

    # -- tuning
    def _candidates(self, n: int, fractions: tuple[float, ...]) -> list[tuple[int, int]]:
        if self.min_cluster_size is not None:
            sizes = [self.min_cluster_size]
        else:
            sizes = sorted({max(5, int(round(f * n))) for f in fractions})
        out = []
        for mcs in sizes:
            samples = [self.min_samples] if self.min_samples is not None else [5, 15]
            for ms in sorted({max(1, min(s, mcs)) for s in samples}):
                out.append((mcs, ms))
        return out

    def _tune(self, emb: np.ndarray) -> tuple[int, int, str]:
        rng = np.random.default_rng(self.random_state)
        n = len(emb)
        idx = np.sort(rng.choice(n, TUNE_SAMPLE, replace=False)) if n > TUNE_SAMPLE else np.arange(n)
        sub = emb[idx]
        m = len(sub)
        self.tuning_: list[dict[str, Any]] = []

        def run(fractions: tuple[float, ...], method: str) -> None:
            for mcs, ms in self._candidates(m, fractions):
                if any(t["min_cluster_size_tune"] == mcs and t["min_samples"] == ms
                       and t["method"] == method for t in self.tuning_):
                    continue
                cl = _hdbscan(mcs, ms, method, validity=True).fit(sub)
                k = _n_clusters(cl.labels_)
                try:
                    validity = float(cl.relative_validity_) if k >= 2 else float("-inf")
                except (ValueError, ZeroDivisionError, IndexError):
                    validity = float("-inf")
                if not math.isfinite(validity):
                    validity = float("-inf")
                self.tuning_.append({"min_cluster_size_tune": mcs, "min_samples": ms, "method": method,
                                     "n_segments": k, "noise_share": float(np.mean(cl.labels_ == -1)),
                                     "relative_validity": validity})

        base = (0.005, 0.01, 0.02, 0.035, 0.05, 0.08)
        run(base, "eom")
        if not self._in_range():
            run(base, "leaf")
        if not self._in_range():
            ks = [t["n_segments"] for t in self.tuning_]
            wider = (0.12, 0.2) if min(ks) > self.max_segments else (0.002, 0.003)
            run(wider, "eom")
            run(wider, "leaf")
        pool = self._in_range()
        if not pool:
            def gap(t: dict[str, Any]) -> int:
                return max(self.min_segments - t["n_segments"], t["n_segments"] - self.max_segments, 0)
            best_gap = min(gap(t) for t in self.tuning_)
            pool = [t for t in self.tuning_ if gap(t) == best_gap]
            self.warnings_.append(
                f"no HDBSCAN setting gave between {self.min_segments} and {self.max_segments} "
                f"segments; using the closest ({pool[0]['n_segments']})")
        best = max(pool, key=lambda t: (t["relative_validity"], -t["noise_share"],
                                        t["min_cluster_size_tune"], t["method"] == "eom"))
        for t in self.tuning_:
            t["chosen"] = t is best
        mcs = best["min_cluster_size_tune"]
        if self.min_cluster_size is None:
            mcs = max(5, int(round(mcs * n / m)))
        return mcs, best["min_samples"], best["method"]

    def _in_range(self) -> list[dict[str, Any]]:
        return [t for t in self.tuning_ if self.min_segments <= t["n_segments"] <= self.max_segments]

    # -- fit / predict
    def fit(self, X: np.ndarray, y: Any = None) -> Segmenter:
        """Fit UMAP (clustering and 2-D), tune and fit HDBSCAN, assign noise.

        Args:
            X: the feature matrix (rows = customers), at least :data:`MIN_CUSTOMERS` rows.

        Returns:
            ``self``.
        """
        X = np.asarray(X, dtype=float)
        n = len(X)
        self.warnings_: list[str] = []
        self.umap_ = _make_umap(n, self.n_components, self.n_neighbors, self.min_dist,
                                self.random_state, self.deterministic, self.n_epochs)
        rng = np.random.default_rng(self.random_state + 2)
        self.plot_index_ = (np.sort(rng.choice(n, PLOT_FIT_SAMPLE, replace=False))
                            if n > PLOT_FIT_SAMPLE else np.arange(n))
        n_plot = len(self.plot_index_)
        self.umap_2d_ = _make_umap(n_plot, 2, self.n_neighbors, 0.1, self.random_state + 1,
                                   self.deterministic, self.n_epochs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*n_jobs.*")
            warnings.filterwarnings("ignore", category=UserWarning, module="umap")
            self.embedding_ = self.umap_.fit_transform(X)
            plot_2d = self.umap_2d_.fit_transform(X[self.plot_index_])
        self.embedding_2d_ = np.empty((n, 2))
        self.embedding_2d_[self.plot_index_] = plot_2d
        others = np.setdiff1d(np.arange(n), self.plot_index_)
        if len(others):
            self.embedding_2d_[others] = self._interpolate_2d(self.embedding_[others])
        if self.min_cluster_size is not None and self.min_samples is not None:
            self.tuning_ = []
            mcs, ms, method = self.min_cluster_size, self.min_samples, "eom"
        else:
            mcs, ms, method = self._tune(self.embedding_)
        self.min_cluster_size_, self.min_samples_, self.selection_method_ = mcs, ms, method
        self.clusterer_ = _hdbscan(mcs, ms, method).fit(self.embedding_)
        raw = self.clusterer_.labels_.astype(int)
        self.raw_labels_ = raw
        self.n_segments_ = _n_clusters(raw)
        self.noise_share_ = float(np.mean(raw == -1))
        if self.n_segments_ == 0:
            self.labels_ = np.zeros(n, dtype=int)
            self.strength_ = np.ones(n)
            self.was_noise_ = np.zeros(n, dtype=bool)
            self.n_segments_ = 1
            self.warnings_.append("HDBSCAN found no dense groups: every customer is in one segment")
            return self
        if not (self.min_segments <= self.n_segments_ <= self.max_segments):
            self.warnings_.append(f"{self.n_segments_} segments, outside the configured range "
                                  f"{self.min_segments}-{self.max_segments}")
        self.labels_, self.strength_, self.was_noise_ = self._resolve(
            raw, self.clusterer_.probabilities_.astype(float), self.embedding_, fitted=True)
        return self

    def _resolve(self, labels: np.ndarray, strength: np.ndarray, emb: np.ndarray,
                 fitted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import hdbscan

        labels = labels.copy()
        strength = strength.copy()
        noise = labels == -1
        if not self.assign_noise or not noise.any():
            return labels, np.where(noise, 0.0, strength), noise
        if fitted:
            member = _as_matrix(hdbscan.all_points_membership_vectors(self.clusterer_), len(labels))[noise]
        else:
            member = _as_matrix(hdbscan.membership_vector(self.clusterer_, emb[noise]), int(noise.sum()))
        best = member.argmax(axis=1)
        best_val = member.max(axis=1)
        zero = ~(best_val > 0)
        if zero.any():
            from sklearn.neighbors import NearestNeighbors

            core = self.clusterer_.labels_ != -1
            nn = NearestNeighbors(n_neighbors=1).fit(self.embedding_[core])
            _, j = nn.kneighbors(emb[noise][zero])
            best[zero] = self.clusterer_.labels_[core][j[:, 0]]
        labels[noise] = best
        strength[noise] = np.clip(best_val, 0.0, 1.0)
        return labels, strength, noise

    def _interpolate_2d(self, emb: np.ndarray, k: int = 10) -> np.ndarray:
        """Plot coordinates for new points: inverse-distance mean of the 2-D positions of their
        ``k`` nearest fitted points in the clustering embedding (a second UMAP transform would
        double the assign time for a picture)."""
        from sklearn.neighbors import NearestNeighbors

        ref = self.embedding_[self.plot_index_]
        k = min(k, len(ref))
        dist, idx = NearestNeighbors(n_neighbors=k).fit(ref).kneighbors(emb)
        w = 1.0 / (dist + 1e-6)
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", w, self.embedding_2d_[self.plot_index_][idx])

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Assign new rows to the fitted segments (UMAP transform + ``approximate_predict``).

        Args:
            X: feature matrix built by the same :class:`FeatureTransformer`.

        Returns:
            ``(labels, strength, was_noise, embedding_2d)`` with HDBSCAN labels (-1 only when
            ``assign_noise`` is off).
        """
        import hdbscan

        X = np.asarray(X, dtype=float)
        fit_epochs = self.umap_.n_epochs
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="umap")
            # umap-learn runs n_epochs // 3 epochs in transform; new points start at the
            # weighted mean of their neighbours, so TRANSFORM_EPOCHS is plenty
            self.umap_.n_epochs = 3 * TRANSFORM_EPOCHS
            try:
                emb = self.umap_.transform(X)
            finally:
                self.umap_.n_epochs = fit_epochs
        emb2 = self._interpolate_2d(emb)
        if _n_clusters(self.raw_labels_) == 0:
            n = len(X)
            return np.zeros(n, dtype=int), np.ones(n), np.zeros(n, dtype=bool), emb2
        labels, strength = hdbscan.approximate_predict(self.clusterer_, emb)
        labels, strength, noise = self._resolve(np.asarray(labels, dtype=int),
                                                np.asarray(strength, dtype=float), emb, fitted=False)
        return labels, strength, noise, emb2


# --------------------------------------------------------------------------- model + result

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
        (directory / MODEL_META).write_text(json.dumps(_jsonable(info), indent=2), encoding="utf-8")
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
            model = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing
            raise InputDataError(f"the saved segment model cannot be read ({exc})", file=str(path),
                                 expected="a model saved by this version of segment-report",
                                 fix="refit without --reuse-model") from None
        if not isinstance(model, cls):
            raise InputDataError("the file is not a segment model", file=str(path),
                                 expected="a SegmentModel", fix="refit without --reuse-model")
        return model

    def assign(self, customers: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """Assign customers to the saved segments without refitting.

        Args:
            customers: customer feature table with ``customer_id``.

        Returns:
            ``(assignments, warnings)``; assignments has the columns of
            :attr:`SegmentResult.assignments`, rows in input order.
        """
        X, imputed = self.transformer.transform(customers)
        notes = [f"feature '{c}' missing from this table; imputed with the fitted median"
                 for c in imputed]
        n = len(customers)
        if self.segmenter is None:
            labels, strength = np.zeros(n, dtype=int), np.ones(n)
            noise, emb2 = np.zeros(n, dtype=bool), np.zeros((n, 2))
        else:
            labels, strength, noise, emb2 = self.segmenter.predict(X)
        return _assignment_frame(customers["customer_id"], labels, strength, noise, emb2,
                                 self.label_to_id, self.names), notes


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
        return _jsonable({"summary": self.summary, "segments": self.segments})


def _assignment_frame(customer_id: pd.Series, labels: np.ndarray, strength: np.ndarray,
                      noise: np.ndarray, emb2: np.ndarray, label_to_id: dict[int, int],
                      names: dict[int, str]) -> pd.DataFrame:
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


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    if obj is pd.NA or obj is pd.NaT:
        return None
    return obj


# --------------------------------------------------------------------------- stability

def confidence_level(jaccard: float | None) -> str:
    """Map a mean bootstrap Jaccard to ``high`` (>= 0.75) / ``medium`` (>= 0.60) / ``low``."""
    if jaccard is None or not math.isfinite(jaccard):
        return "low"
    if jaccard >= CONFIDENCE_HIGH:
        return "high"
    if jaccard >= CONFIDENCE_MEDIUM:
        return "medium"
    return "low"


def _stability(X: np.ndarray, ref_labels: np.ndarray, seg: Segmenter, cfg: SegmentsConfig,
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
    um = _make_umap(n, seg.n_components, seg.n_neighbors, seg.min_dist, seg.random_state, True,
                    seg.n_epochs or STABILITY_EPOCHS)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="umap")
        emb = um.fit_transform(X)
    cl = _hdbscan(seg.min_cluster_size, seg.min_samples, method).fit(emb)
    labels = cl.labels_.astype(int)
    noise = labels == -1
    if seg.assign_noise and noise.any() and _n_clusters(labels) > 0:
        member = _as_matrix(hdbscan.all_points_membership_vectors(cl), len(labels))[noise]
        labels[noise] = np.where(member.max(axis=1) > 0, member.argmax(axis=1), -1)
    return labels


# --------------------------------------------------------------------------- carry-over

def match_previous(current: pd.DataFrame, previous: pd.DataFrame) -> dict[str, Any]:
    """Match this run's segments to the previous run's by customer overlap.

    Args:
        current: ``customer_id`` and provisional ``segment_id`` of this run.
        previous: ``customer_id`` and ``segment_id`` of the previous run.

    Returns:
        ``{"matches": {cur: (prev, jaccard)}, "split_from": {cur: prev},
        "merged_from": {cur: [prev, ...]}, "vanished": [prev, ...], "common_customers": n,
        "overlap": {cur: {prev: n}}}``.
    """
    from scipy.optimize import linear_sum_assignment

    cur = current[current["segment_id"] != NOISE_ID][["customer_id", "segment_id"]]
    prev = previous[previous["segment_id"] != NOISE_ID][["customer_id", "segment_id"]]
    cur = cur.assign(customer_id=cur["customer_id"].astype("string"))
    prev = prev.assign(customer_id=prev["customer_id"].astype("string"))
    both = cur.merge(prev, on="customer_id", suffixes=("_cur", "_prev"))
    cur_ids = sorted(cur["segment_id"].unique().tolist())
    prev_ids = sorted(prev["segment_id"].unique().tolist())
    out: dict[str, Any] = {"matches": {}, "split_from": {}, "merged_from": {}, "vanished": [],
                           "common_customers": int(len(both)), "overlap": {}}
    if both.empty or not cur_ids or not prev_ids:
        out["vanished"] = prev_ids
        return out
    table = pd.crosstab(both["segment_id_cur"], both["segment_id_prev"]).reindex(
        index=cur_ids, columns=prev_ids, fill_value=0)
    inter = table.to_numpy(float)
    cur_sizes = both["segment_id_cur"].value_counts().reindex(cur_ids, fill_value=0).to_numpy(float)
    prev_sizes = both["segment_id_prev"].value_counts().reindex(prev_ids, fill_value=0).to_numpy(float)
    union = cur_sizes[:, None] + prev_sizes[None, :] - inter
    jacc = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    rows, cols = linear_sum_assignment(-jacc)
    matched_prev = set()
    for r, c in zip(rows, cols):
        if jacc[r, c] >= MATCH_MIN_JACCARD:
            out["matches"][cur_ids[r]] = (prev_ids[c], float(jacc[r, c]))
            matched_prev.add(prev_ids[c])
    out["vanished"] = [p for p in prev_ids if p not in matched_prev]
    # split: a previous segment sending >= 25% of its customers to two or more new segments
    for j, p in enumerate(prev_ids):
        if prev_sizes[j] == 0:
            continue
        receivers = [cur_ids[i] for i in range(len(cur_ids)) if inter[i, j] / prev_sizes[j] >= SPLIT_MERGE_SHARE]
        if len(receivers) >= 2:
            for r in receivers:
                out["split_from"][r] = p
    for i, c in enumerate(cur_ids):
        if cur_sizes[i] == 0:
            continue
        givers = [prev_ids[j] for j in range(len(prev_ids)) if inter[i, j] / cur_sizes[i] >= SPLIT_MERGE_SHARE]
        if len(givers) >= 2:
            out["merged_from"][c] = givers
    out["overlap"] = {c: {p: int(v) for p, v in row.items() if v} for c, row in table.iterrows()}
    return out


# --------------------------------------------------------------------------- the stage

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
                      previous: SegmentModel | None = None, reuse: bool = False) -> SegmentResult:
    """Segment customers into named personas.

    Args:
        customers: the customer feature table (``results/customers.parquet``), one row per
            customer; sentiment columns may be absent.
        cfg: the ``segments`` config section.
        seed: the run seed.
        previous: the previous run's :class:`SegmentModel` (``SegmentModel.load``), or ``None``.
        reuse: with ``previous``, assign to its segments instead of refitting. Without
            reuse, ``previous`` is used only to carry ids and names over by overlap.

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
    timings: dict[str, float] = {}
    notes: list[str] = []
    if reuse:
        assert previous is not None
        assignments, notes = previous.assign(customers)
        timings["assign_s"] = time.perf_counter() - t0
        # same fitted objects; the assignments travel on so next month matches against this one
        model = dataclasses.replace(previous, assignments=assignments[["customer_id", "segment_id"]].copy())
        return _finish(customers, assignments, model, cfg, seed, notes, timings, mode="reuse",
                       carry=None, tuning=[], stab_overall=previous.stability_overall,
                       stab_per=previous.stability, t0=t0, seg=previous.segmenter)

    transformer = FeatureTransformer(cfg.features).fit(customers)
    X, _ = transformer.transform(customers)
    n = len(customers)
    # counted on the raw columns: the dequantization jitter makes every row unique
    distinct = len(customers[transformer.columns_].drop_duplicates())
    seg: Segmenter | None = None
    if n < max(MIN_CUSTOMERS, cfg.min_segments * 5) or distinct < max(cfg.min_segments * 5, 10):
        why = (f"only {n} customers" if n < max(MIN_CUSTOMERS, cfg.min_segments * 5)
               else f"only {distinct} distinct feature profiles")
        notes.append(f"{why}: too few to segment, every customer is in one segment "
                     f"(need at least {max(MIN_CUSTOMERS, cfg.min_segments * 5)} customers with "
                     "different profiles)")
        logger.warning(notes[-1])
        labels, strength = np.zeros(n, dtype=int), np.ones(n)
        noise, emb2 = np.zeros(n, dtype=bool), np.zeros((n, 2))
        fit_idx = np.arange(n)
    else:
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
            lab_r, str_r, noi_r, emb_r = seg.predict(X[rest])
            labels[rest], strength[rest], noise[rest], emb2[rest] = lab_r, str_r, noi_r, emb_r
            timings["assign_s"] = time.perf_counter() - t1

    # provisional ids: 1..k by size (largest first), label order breaks ties
    present = [lab for lab in sorted(set(labels.tolist())) if lab != -1]
    sizes = {lab: int(np.sum(labels == lab)) for lab in present}
    ordered = sorted(present, key=lambda lab: (-sizes[lab], lab))
    label_to_id = {lab: i + 1 for i, lab in enumerate(ordered)}

    stab_overall: dict[str, Any] = {"runs": 0, "ari_mean": None, "skipped": "one segment"}
    stab_label: dict[int, dict[str, Any]] = {}
    if seg is not None:
        t1 = time.perf_counter()
        stab_overall, stab_label = _stability(X[fit_idx], labels[fit_idx], seg, cfg, seed)
        timings["stability_s"] = time.perf_counter() - t1

    carry = None
    if previous is not None and previous.assignments is not None:
        provisional = pd.DataFrame({"customer_id": customers["customer_id"].astype("string"),
                                    "segment_id": [label_to_id.get(int(lab), NOISE_ID) for lab in labels]})
        carry = match_previous(provisional, previous.assignments)
        prov_to_final: dict[int, int] = {}
        next_id = max([*previous.names.keys(), 0]) + 1
        for prov in sorted(label_to_id.values()):
            if prov in carry["matches"]:
                prov_to_final[prov] = carry["matches"][prov][0]
        for prov in sorted(label_to_id.values()):
            if prov not in prov_to_final:
                prov_to_final[prov] = next_id
                next_id += 1
        label_to_id = {lab: prov_to_final[p] for lab, p in label_to_id.items()}
        carry = _remap_carry(carry, prov_to_final)

    stab_per = {label_to_id[lab]: v for lab, v in stab_label.items() if lab in label_to_id}
    model = SegmentModel(transformer=transformer, segmenter=seg, label_to_id=label_to_id, names={},
                         meta={"seed": seed, "config": cfg.model_dump(mode="json"),
                               "n_customers_fit": int(len(fit_idx)), "created_unix": time.time(),
                               "versions": _versions()})
    ids = np.array([label_to_id.get(int(lab), NOISE_ID) for lab in labels], dtype=int)
    assignments = pd.DataFrame({
        "customer_id": customers["customer_id"].astype("string").to_numpy(),
        "segment_id": ids, "membership_strength": strength.astype(float), "was_noise": noise,
        "umap_x": emb2[:, 0].astype(float), "umap_y": emb2[:, 1].astype(float)})
    tuning = getattr(seg, "tuning_", []) if seg is not None else []
    return _finish(customers, assignments, model, cfg, seed, notes, timings,
                   mode="refit" if previous is not None else "fit", carry=carry, tuning=tuning,
                   stab_overall=stab_overall, stab_per=stab_per, t0=t0, previous=previous, seg=seg)


def _remap_carry(carry: dict[str, Any], m: dict[int, int]) -> dict[str, Any]:
    return {**carry,
            "matches": {m[c]: v for c, v in carry["matches"].items()},
            "split_from": {m[c]: v for c, v in carry["split_from"].items()},
            "merged_from": {m[c]: v for c, v in carry["merged_from"].items()},
            "overlap": {m[c]: v for c, v in carry["overlap"].items() if c in m}}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("umap-learn", "hdbscan", "scikit-learn", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _finish(customers: pd.DataFrame, assignments: pd.DataFrame, model: SegmentModel,
            cfg: SegmentsConfig, seed: int, notes: list[str], timings: dict[str, float], *,
            mode: str, carry: dict[str, Any] | None, tuning: list[dict[str, Any]],
            stab_overall: dict[str, Any], stab_per: dict[int, dict[str, Any]], t0: float,
            previous: SegmentModel | None = None, seg: Segmenter | None = None) -> SegmentResult:
    """Profiles, names, descriptions, stability and carry-over flags -> SegmentResult."""
    from segment_report.pipeline.stages.segments import personas

    seg_ids = assignments["segment_id"].to_numpy()
    profiles = personas.profile_segments(customers, seg_ids, model.transformer.columns_)
    if mode == "reuse":
        names = {p["id"]: model.names.get(p["id"], f"Segment {p['id']}") for p in profiles}
    else:
        keep: dict[int, str] = {}
        if carry is not None and previous is not None:
            for cur, (prev_id, _j) in carry["matches"].items():
                if prev_id in previous.names:
                    keep[cur] = previous.names[prev_id]
        names = personas.name_segments(profiles, fixed=keep)
        model.names = dict(names)
    descriptions = {p["id"]: personas.describe_segment(p) for p in profiles}
    if mode != "reuse":
        model.descriptions = descriptions
        model.stability = stab_per
        model.stability_overall = stab_overall
        model.assignments = assignments[["customer_id", "segment_id"]].copy()
    assignments = assignments.copy()
    assignments["segment_name"] = pd.array(
        [names.get(int(i), NOISE_NAME) for i in assignments["segment_id"]], dtype="string")
    assignments = assignments[["customer_id", "segment_id", "segment_name", "membership_strength",
                               "was_noise", "umap_x", "umap_y"]]
    segments = []
    for p in profiles:
        sid = p["id"]
        stab = stab_per.get(sid, {"jaccard_mean": None, "confidence": None})
        co: dict[str, Any] = {"matched_previous_id": None, "previous_name": None, "overlap_jaccard": None,
                              "status": "new" if carry is not None else None,
                              "split_from": None, "merged_from": []}
        if mode == "reuse":
            co.update(matched_previous_id=sid, previous_name=names[sid], status="reused")
        elif carry is not None:
            if sid in carry["matches"]:
                prev_id, j = carry["matches"][sid]
                co.update(matched_previous_id=prev_id, previous_name=previous.names.get(prev_id) if previous else None,
                          overlap_jaccard=j, status="continued")
            co["split_from"] = carry["split_from"].get(sid)
            co["merged_from"] = carry["merged_from"].get(sid, [])
            if co["merged_from"]:
                co["status"] = "merge"
            elif co["split_from"] is not None:
                co["status"] = "split"
        segments.append({"id": sid, "name": names[sid], "description": descriptions[sid],
                         "size": p["size"], "share": p["share"],
                         "noise_share": float(assignments.loc[assignments["segment_id"] == sid, "was_noise"].mean()),
                         "mean_membership_strength": float(
                             assignments.loc[assignments["segment_id"] == sid, "membership_strength"].mean()),
                         "profile": {k: v for k, v in p.items() if k not in ("id", "size", "share")},
                         "stability": stab, "carry_over": co})
    timings["total_s"] = time.perf_counter() - t0
    summary = {
        "mode": mode, "seed": seed, "n_customers": int(len(customers)),
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
        "tuning": tuning,
        "stability": {**stab_overall, "thresholds": {"high": CONFIDENCE_HIGH, "medium": CONFIDENCE_MEDIUM}},
        "carry_over": ({"previous_segments": sorted(previous.names) if previous else [],
                        "common_customers": carry["common_customers"],
                        "vanished": [{"id": v, "name": previous.names.get(v) if previous else None}
                                     for v in carry["vanished"]]} if carry is not None else None),
        "warnings": notes,
    }
    return SegmentResult(assignments=assignments, segments=segments, model=model,
                         summary=_jsonable(summary), timings=timings)


def save_segments_json(result: SegmentResult, path: Path) -> Path:
    """Write ``result.to_json()`` to ``path`` (normally ``results/segments.json``)."""
    from segment_report.pipeline.io.store import write_json

    return write_json(Path(path), result.to_json())


def load_segments_json(path: Path) -> dict[str, Any]:
    """Read ``results/segments.json`` back (for rendering without recomputing).

    Raises:
        InputDataError: the file is missing or not valid JSON.
    """
    from segment_report.pipeline.io.store import read_result_json

    return read_result_json(path)
