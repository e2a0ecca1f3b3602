"""The feature matrix segments are formed on (:class:`FeatureTransformer`).

* Default features: ``recency_days, frequency, monetary, avg_order_value, items_per_order,
  tenure_days``, every ``cat_share_*`` column, ``age``, ``gender``, ``income_band``, ``income``
  (only when at least half the customers have a number) and ``positive_prob`` when the
  sentiment stage ran. Absent default columns are skipped. ``share_negative`` is profiled but
  not clustered on by default: most customers have one or two reviews, so it is nearly a 0/1
  flag and splits every persona into "wrote a bad review" or not (benchmarks/RESULTS.md).
  ``segments.features`` replaces the list (``cat_share_*`` patterns allowed); naming a column
  that is absent, or an identifier (``customer_id``, ``state``, ``country``, ``is_us``), is a
  :class:`~segment_report.pipeline.errors.ConfigError`. State is never clustered on: geography
  is reported per segment, not used to form them.
* Money and counts (:data:`~segment_report.pipeline.constants.LOG_FEATURES`) are
  ``log1p``-transformed.
* Numeric columns are robust-scaled: ``(x - median) / IQR`` (standard deviation when the IQR is
  0; left unscaled when both are 0, i.e. a constant column, which then contributes nothing),
  then clipped to [-5, 5] so a handful of extreme customers cannot stretch the space.
* Category shares are compositional (they sum to 1): they are centred on their medians and
  divided by ONE common factor (their pooled standard deviation) so the mix keeps its geometry
  instead of inflating rare categories.
* ``gender``: one-hot over the values seen at fit time, each indicator worth 0.3;
  ``income_band``: ordinal low=-1, medium=0, high=1, times 0.3. Demographics describe personas
  more than they form them: at full weight a random three-level income band splits every
  behavioural persona in three.
* Dequantization: integer-valued columns with 2-100 distinct values (order counts, ages, items
  per order of one-order customers) and the demographic codes get a uniform jitter of +-half a
  step. Without it UMAP treats "1 order" and "2 orders" as separate dense sheets and HDBSCAN
  splits personas along them. The jitter is a hash of (customer_id, column), not random: the
  same customer gets the same jitter in every run and month, whatever the seed or row order.
* ``positive_prob`` is centred and scaled on the customers with a scored review only
  (``sentiment_missing`` false): the others carry the stage's mean imputation, one value for
  about half the customers, which would shrink the scale and stretch the reviewers.
* Missing values: numeric NaNs are imputed with the fit-time median (i.e. 0 after scaling); a
  missing ``income_band`` counts as medium (0), a missing ``gender`` sets no indicator; the
  share of missing values per feature is recorded in the schema. A feature column missing
  entirely at assign time is imputed the same way and listed in the warnings.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.constants import INCOME_BAND_VALUE, LOG_FEATURES
from segment_report.pipeline.errors import ConfigError, InputDataError

#: Default feature list (``cat_share_*`` expands to every category share column).
DEFAULT_FEATURES = ("recency_days", "frequency", "monetary", "avg_order_value", "items_per_order",
                    "tenure_days", "cat_share_*", "age", "gender", "income_band", "income",
                    "positive_prob")
#: Columns never used to form segments.
FORBIDDEN_FEATURES = frozenset({"customer_id", "state", "country", "is_us", "top_category",
                                "segment_id", "segment_name", "membership_strength", "was_noise",
                                "umap_x", "umap_y"})
CATEGORICAL_FEATURES = {"gender": "onehot", "income_band": "ordinal"}
#: Columns the sentiment stage imputes (with the scored customers' mean) and the flag that marks
#: the imputed rows: their centre and scale come from the observed rows only. Otherwise the
#: imputed half of the customers, all at one value, shrinks the IQR and every persona splits
#: into its very positive and very critical reviewers (benchmarks/RESULTS.md).
IMPUTED_FLAGS = {"positive_prob": "sentiment_missing"}
#: Weight of a demographic indicator / income-band step (behavioural features have ~1 per IQR).
ONEHOT_WEIGHT = 0.3
ORDINAL_WEIGHT = 0.3
#: Integer-valued numeric columns with at most this many distinct values are dequantized.
DEQUANTIZE_MAX_LEVELS = 100
CLIP = 5.0


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
                schema[col] = {"kind": "ordinal", "order": INCOME_BAND_VALUE, "missing_value": 0.0,
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

