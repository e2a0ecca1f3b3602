"""Small array helpers shared by the generator's modules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def _alloc(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total by weights with the largest-remainder method (exact, deterministic)."""
    weights = np.asarray(weights, dtype=float)
    raw = total * weights / weights.sum()
    counts = np.floor(raw).astype(np.int64)
    rest = total - counts.sum()
    if rest > 0:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:rest]] += 1
    return counts


def _choice(rng: np.random.Generator, options: tuple, probs: tuple | np.ndarray, n: int) -> np.ndarray:
    arr = np.empty(len(options), dtype=object)
    arr[:] = list(options)
    return arr[rng.choice(len(options), size=n, p=np.asarray(probs) / np.sum(probs))]


def _obj(values: list | tuple) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


try:  # pandas >= 3: the default string dtype
    _STR = pd.StringDtype("pyarrow", na_value=np.nan)
except TypeError:  # pragma: no cover - pandas 2.x
    _STR = pd.StringDtype("pyarrow")


def _col(values: np.ndarray, idx: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """A string column built in Arrow (``values[idx]``; None stays missing).

    Taking a per-customer array row by row in Arrow is ~10x faster than letting pandas
    convert millions of Python strings.
    """
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    if idx is not None:
        arr = arr.take(pa.array(idx))
    return pd.array(arr, dtype=_STR)


def _counter(values: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts)}
