"""Sentiment labels: the label names, the positivity value of a model's classes, and the one
rule each for turning star ratings, ``positive_prob`` bands and label columns into labels."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from segment_report.pipeline.config import SentimentConfig
from segment_report.pipeline.errors import ConfigError, InputDataError

LABELS = ("negative", "neutral", "positive")
HEAD_LABELS = ("negative", "positive")
UNSCORABLE = "unscorable"


def label_values(id2label: dict[int, str]) -> list[float]:
    """Positivity value in [0, 1] of every class of a classification head (see module doc).

    Raises:
        ConfigError: a label name cannot be mapped.
    """
    n = len(id2label)
    names = [str(id2label[i]).strip().lower() for i in range(n)]
    values: list[float] = []
    for i, name in enumerate(names):
        star = re.fullmatch(r"([1-5])(\s*stars?)?", name)
        generic = re.fullmatch(r"label_(\d+)", name)
        if "neg" in name:
            values.append(0.0)
        elif "neu" in name or name in ("mixed", "neutral"):
            values.append(0.5)
        elif "pos" in name:
            values.append(1.0)
        elif star and n == 5:
            values.append((int(star.group(1)) - 1) / 4)
        elif (generic or name.isdigit()) and n in (2, 3, 5):
            k = int(generic.group(1) if generic else name)
            values.append(k / (n - 1))
        else:
            raise ConfigError(
                f"cannot map the model's labels {dict(enumerate(names))} to positive_prob",
                expected="labels like NEGATIVE/POSITIVE, negative/neutral/positive, LABEL_0..LABEL_n "
                         "(2, 3 or 5 classes) or '1 star'..'5 stars'",
                fix="set id2label in the checkpoint's config.json to such names")
    return values


def rating_to_label(ratings: pd.Series, negative: Sequence[int], neutral: Sequence[int],
                    positive: Sequence[int]) -> pd.Series:
    """Map star ratings to ``negative`` / ``neutral`` / ``positive`` (NA for other values).

    Args:
        ratings: numeric ratings (floats allowed; 4.0 counts as 4, 4.5 as unmapped).
        negative, neutral, positive: the ratings of each class (disjoint).

    Returns:
        A string Series aligned with ``ratings``; NA where the rating is missing or unmapped.

    Raises:
        ConfigError: a rating is listed in more than one class.
    """
    seen: dict[int, str] = {}
    for name, values in (("negative", negative), ("neutral", neutral), ("positive", positive)):
        for v in values:
            if int(v) in seen:
                raise ConfigError(
                    f"rating {v} is listed as both {seen[int(v)]} and {name}",
                    expected="disjoint sentiment.negative_ratings / neutral_ratings / positive_ratings",
                    fix="list every rating in at most one of the three keys")
            seen[int(v)] = name
    num = pd.to_numeric(ratings, errors="coerce")
    out = pd.Series(pd.NA, index=ratings.index, dtype="string")
    whole = num.notna() & (num == np.floor(num.fillna(0)))
    for value, name in seen.items():
        out[whole & (num == value)] = name
    return out


def band_labels(prob: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """``negative`` below ``band[0]``, ``positive`` above ``band[1]``, else ``neutral``; NaN -> unscorable."""
    prob = np.asarray(prob, dtype=float)
    out = np.where(prob > band[1], "positive", np.where(prob < band[0], "negative", "neutral")).astype(object)
    out[np.isnan(prob)] = UNSCORABLE
    return out






def star_labels(ratings: pd.Series, cfg: SentimentConfig) -> pd.Series:
    """Labels of 1-5 star ratings under the ``sentiment.*_ratings`` mapping (:func:`rating_to_label`);
    NA for other values and for stars the mapping leaves out."""
    num = pd.to_numeric(ratings, errors="coerce")
    return rating_to_label(num.where(num.isin([1, 2, 3, 4, 5])), cfg.negative_ratings,
                           cfg.neutral_ratings, cfg.positive_ratings)


def labels_from_column(values: pd.Series, cfg: SentimentConfig = SentimentConfig()) -> pd.Series:
    """Normalise true labels given as words (negative/neutral/positive, neg/pos, ...) or 1-5 ratings.

    Returns:
        A string Series of negative/neutral/positive with NA for unusable values.

    Raises:
        InputDataError: no value could be read as a label.
    """
    words = {"negative": "negative", "neg": "negative", "bad": "negative", "neutral": "neutral",
             "neu": "neutral", "average": "neutral", "mixed": "neutral", "positive": "positive",
             "pos": "positive", "good": "positive", "excellent": "positive"}
    s = values.astype("string").str.strip().str.lower()
    out = s.map(words).astype("string")
    is_rating = pd.to_numeric(values, errors="coerce").isin([1, 2, 3, 4, 5])
    if is_rating.any():
        out[is_rating] = star_labels(values, cfg)[is_rating]
    if out.notna().sum() == 0:
        raise InputDataError("no usable labels in the label column",
                             expected="words negative/neutral/positive (or pos/neg) or 1-5 ratings",
                             fix="check --label-col")
    return out
