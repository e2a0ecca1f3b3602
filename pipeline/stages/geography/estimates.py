"""Per-region estimates: customers matched to regions, each region's mean sentiment with a
95% t-interval, the empirical-Bayes shrunk estimate, the data-sufficiency flag, the rank, and
each region's own z-test against the national mean."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from segment_report.pipeline.config import GeographyConfig
from segment_report.pipeline.io.geometry import Regions, match_key
from segment_report.pipeline.states import to_code


def json_float(value: Any) -> float | None:
    """A JSON-safe float: NaN and inf become ``None``."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def match_regions(customers: pd.DataFrame, regions: Regions, region_column: str) -> tuple[pd.Series, dict[str, int]]:
    """Region code per customer (NA when not mapped) and the coverage counts."""
    n_total = len(customers)
    raw = customers[region_column] if region_column in customers.columns else pd.Series(pd.NA, index=customers.index)
    uniques = pd.Series(raw.dropna().unique())
    if regions.is_us:
        mapping = {u: to_code(u) for u in uniques}
        codes = raw.map(mapping)
        if "is_us" in customers.columns:
            is_us = customers["is_us"].astype("boolean")
            non_us = (is_us == False).fillna(False).to_numpy(dtype=bool)  # noqa: E712
        else:
            non_us = np.zeros(n_total, dtype=bool)
        codes = codes.where(~non_us, None)
        known = set(regions.frame["code"])
        codes = codes.where(codes.isin(known), None)
        n_non_us = int(non_us.sum())
    else:
        lookup = {match_key(c): c for c in regions.frame["code"]}
        mapping = {u: lookup.get(match_key(u)) for u in uniques}
        codes = raw.map(mapping)
        non_us = np.zeros(n_total, dtype=bool)
        n_non_us = 0
    codes = codes.astype("string")
    mapped = codes.notna().to_numpy()
    counts = {
        "customers_total": int(n_total),
        "customers_mapped": int(mapped.sum()),
        "non_us": n_non_us,
        "unknown_state": int((~mapped & ~non_us).sum()),
    }
    return codes, counts


def _shrinkage(means: np.ndarray, n: np.ndarray, sigma2: float, mu: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Empirical-Bayes normal-normal shrinkage toward ``mu``.

    Returns the posterior means, posterior standard deviations and the between-state variance
    tau^2 (DerSimonian-Laird). States with ``n == 0`` get ``mu`` and the prior sd.
    """
    has = n > 0
    shrunk = np.full(means.shape, mu, dtype=float)
    if has.sum() < 2 or not sigma2 > 0:
        return shrunk, np.full(means.shape, np.nan), 0.0
    v = sigma2 / n[has]
    w = 1.0 / v
    y = means[has]
    mu_w = float(np.sum(w * y) / np.sum(w))
    q = float(np.sum(w * (y - mu_w) ** 2))
    denom = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - (has.sum() - 1)) / denom) if denom > 0 else 0.0
    post_sd = np.full(means.shape, math.sqrt(tau2))
    if tau2 <= 0:
        post_sd[:] = 0.0
        return shrunk, post_sd, 0.0
    b = v / (v + tau2)
    shrunk[has] = b * mu + (1.0 - b) * y
    post_sd[has] = np.sqrt(1.0 / (1.0 / tau2 + 1.0 / v))
    return shrunk, post_sd, tau2


def customer_values(customers: pd.DataFrame, codes: pd.Series, cfg: GeographyConfig) -> pd.DataFrame:
    """The mapped customers' region ``code``, sentiment ``value`` (NaN when not scored),
    ``scored`` flag and ``monetary`` spend; customers with imputed sentiment are counted but
    never averaged."""
    value = pd.to_numeric(customers[cfg.value_column], errors="coerce").to_numpy(dtype=float)
    if "sentiment_missing" in customers.columns:
        scored = ~customers["sentiment_missing"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    elif "review_count" in customers.columns:
        scored = pd.to_numeric(customers["review_count"], errors="coerce").fillna(0).to_numpy() > 0
    else:
        scored = np.ones(len(customers), dtype=bool)
    scored &= np.isfinite(value)
    mapped = codes.notna().to_numpy()
    df = pd.DataFrame({"code": codes.to_numpy(dtype=object), "value": np.where(scored, value, np.nan),
                       "scored": scored}, index=customers.index)[mapped]
    if "monetary" in customers.columns:
        df["monetary"] = pd.to_numeric(customers.loc[mapped, "monetary"], errors="coerce")
    else:
        df["monetary"] = np.nan
    return df


def review_counts(customers: pd.DataFrame, reviews: pd.DataFrame | None, codes: pd.Series,
                  df: pd.DataFrame, all_codes: list[str]) -> pd.Series:
    """Reviews per region: counted in ``reviews`` when given, else the customers'
    ``review_count`` summed (``df``: :func:`customer_values`)."""
    if reviews is not None and "customer_id" in reviews.columns:
        code_of = pd.Series(codes.to_numpy(dtype=object), index=customers["customer_id"].to_numpy())
        code_of = code_of[~code_of.index.duplicated()].dropna()
        return reviews["customer_id"].map(code_of).value_counts().reindex(all_codes, fill_value=0)
    if "review_count" in customers.columns:
        mapped = codes.notna().to_numpy()
        rc = pd.to_numeric(customers.loc[mapped, "review_count"], errors="coerce").fillna(0)
        return rc.groupby(df["code"]).sum().reindex(all_codes, fill_value=0)
    return pd.Series(0, index=all_codes)


@dataclass(frozen=True)
class Estimates:
    """Output of :func:`region_estimates`.

    Attributes:
        table: one row per region (index = code): counts, mean with its interval, shrunk
            estimate with its interval, spend, ``insufficient_data``, ``rank``, ``own_diff``
            and ``own_p`` (the region's own mean against the national mean).
        mu: the national mean of the scored customers' values (NaN when none).
        sigma2: the pooled within-region variance.
        tau2: the between-region variance (DerSimonian-Laird).
        scored_values: the mapped, scored customers' values.
    """

    table: pd.DataFrame
    mu: float
    sigma2: float
    tau2: float
    scored_values: np.ndarray


def region_estimates(df: pd.DataFrame, n_reviews: pd.Series, regions: Regions,
                     cfg: GeographyConfig) -> Estimates:
    """Per-region statistics of :func:`customer_values` ``df`` over every region of ``regions``."""
    all_codes = list(regions.frame["code"])
    grouped = df.groupby("code", sort=False)
    n_customers = grouped.size().reindex(all_codes, fill_value=0)
    n_reviewers = grouped["scored"].sum().reindex(all_codes, fill_value=0).astype(int)
    mean = grouped["value"].mean().reindex(all_codes)
    sd = grouped["value"].std(ddof=1).reindex(all_codes)
    spend = grouped["monetary"].mean().reindex(all_codes)

    # 95% t-interval of the region mean; undefined with one reviewer.
    n_arr = n_reviewers.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tcrit = np.where(n_arr > 1, stats.t.ppf(0.975, np.maximum(n_arr - 1, 1)), np.nan)
        half = tcrit * sd.to_numpy() / np.sqrt(n_arr)
    ci_low = np.clip(mean.to_numpy() - half, 0.0, 1.0)
    ci_high = np.clip(mean.to_numpy() + half, 0.0, 1.0)

    scored_values = df.loc[df["scored"], "value"].to_numpy()
    n_nat = scored_values.size
    mu = float(np.mean(scored_values)) if n_nat else float("nan")
    # Pooled within-region variance: stable even for regions with one or two reviewers.
    scored_rows = df[df["scored"]]
    dev = (scored_rows["value"].to_numpy(dtype=float)
           - scored_rows["code"].map(mean).to_numpy(dtype=float))
    n_groups = int((n_arr > 0).sum())
    sigma2 = float(np.sum(dev**2) / (n_nat - n_groups)) if n_nat > n_groups else float("nan")
    shrunk, post_sd, tau2 = _shrinkage(mean.fillna(0).to_numpy(), n_arr, sigma2, mu) if n_nat else (
        np.full(len(all_codes), np.nan), np.full(len(all_codes), np.nan), 0.0)

    table = pd.DataFrame({
        "code": all_codes,
        "name": regions.frame["name"].to_numpy(),
        "fips": regions.frame["fips"].to_numpy(),
        "customers": n_customers.to_numpy(dtype=int),
        "reviewers": n_reviewers.to_numpy(dtype=int),
        "reviews": n_reviews.to_numpy(dtype=int),
        "mean_positive_prob": mean.to_numpy(),
        "ci_low": np.where(n_arr > 1, ci_low, np.nan),
        "ci_high": np.where(n_arr > 1, ci_high, np.nan),
        "shrunk_positive_prob": shrunk,
        "shrunk_ci_low": np.clip(shrunk - 1.96 * post_sd, 0.0, 1.0),
        "shrunk_ci_high": np.clip(shrunk + 1.96 * post_sd, 0.0, 1.0),
        "spend_per_customer": spend.to_numpy(),
        "insufficient_data": (n_customers.to_numpy() < cfg.min_customers) | (n_arr == 0),
    }, index=all_codes)
    sufficient = ~table["insufficient_data"]
    table["rank"] = pd.Series(np.nan, index=all_codes, dtype=float)
    table.loc[sufficient, "rank"] = table.loc[sufficient, "shrunk_positive_prob"].rank(
        ascending=False, method="min")

    # Each region's own difference from the national mean, z-test with the pooled variance.
    table["own_diff"] = mean.to_numpy() - mu
    with np.errstate(invalid="ignore", divide="ignore"):
        own_z = table["own_diff"].to_numpy() / np.sqrt(sigma2 / n_arr)
    table["own_p"] = np.where(np.isfinite(own_z), 2 * stats.norm.sf(np.abs(own_z)), 1.0)
    return Estimates(table, mu, sigma2, tau2, scored_values)


def national_row(df: pd.DataFrame, scored_values: np.ndarray, coverage: dict[str, Any], n_reviews: int,
              mu: float) -> dict[str, Any]:
    """The national row: counts, mean sentiment with its 95% t-interval, spend per customer."""
    n_nat = scored_values.size
    national = {
        "customers": int(coverage["customers_mapped"]),
        "reviewers": int(n_nat),
        "reviews": n_reviews,
        "mean_positive_prob": json_float(mu),
        "ci_low": None, "ci_high": None,
        "spend_per_customer": json_float(df["monetary"].mean()) if len(df) else None,
    }
    if n_nat > 1:
        half_nat = stats.t.ppf(0.975, n_nat - 1) * float(np.std(scored_values, ddof=1)) / math.sqrt(n_nat)
        national["ci_low"] = json_float(max(0.0, mu - half_nat))
        national["ci_high"] = json_float(min(1.0, mu + half_nat))
    return national


def segment_mix(customers: pd.DataFrame, codes: pd.Series, mapped: np.ndarray,
                 all_codes: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per region: customers and share per segment (empty when there is no segment column)."""
    if "segment_id" not in customers.columns:
        return {}
    seg = pd.DataFrame({"code": codes.to_numpy(dtype=object)[mapped],
                        "segment_id": customers["segment_id"].to_numpy()[mapped]})
    names: dict[Any, str] = {}
    if "segment_name" in customers.columns:
        pairs = customers.loc[:, ["segment_id", "segment_name"]].dropna().drop_duplicates("segment_id")
        names = dict(zip(pairs["segment_id"], pairs["segment_name"].astype(str)))
    counts = seg.dropna().groupby(["code", "segment_id"]).size()
    totals = counts.groupby(level=0).sum()
    out: dict[str, list[dict[str, Any]]] = {}
    for (code, segment_id), n in counts.items():
        sid = int(segment_id) if isinstance(segment_id, (int, np.integer, float, np.floating)) else segment_id
        out.setdefault(code, []).append({"segment_id": sid, "segment_name": names.get(segment_id),
                                         "customers": int(n), "share": float(n / totals[code])})
    for entries in out.values():
        entries.sort(key=lambda e: -e["customers"])
    return out
