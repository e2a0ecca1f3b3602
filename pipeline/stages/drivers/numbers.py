"""Numbers as the drivers report stores them: plain JSON numbers and the rounded values that
the reports print."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def json_number(value: Any) -> Any:
    """Plain Python numbers for JSON; NaN/inf become None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def round_sig(value: float | None, digits: int = 3) -> float | int | None:
    """Round to ``digits`` significant figures (whole numbers come back as int).

    The reports print exactly these values, so tests can compare text to report.
    """
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    rounded = round(float(value), decimals)
    return int(rounded) if float(rounded).is_integer() else rounded



def average_rank(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share a rank), as used by Spearman's rho."""
    return pd.Series(values).rank(method="average").to_numpy()
