"""The geography stage: per-region sentiment estimates, spatial statistics and findings,
assembled into ``results/states.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from segment_report.pipeline.config import GeographyConfig
from segment_report.pipeline.errors import InputDataError
from segment_report.pipeline.io.geometry import Regions, load_regions
from segment_report.pipeline.log import logger
from segment_report.pipeline.stages.geography.estimates import (customer_values, json_float,
                                                                 match_regions, national_row,
                                                                 region_estimates, review_counts,
                                                                 segment_mix)
from segment_report.pipeline.stages.geography.findings import build_findings
from segment_report.pipeline.stages.geography.spatial import spatial_statistics

#: ``states.json`` ``hotspots`` keys and the LISA class each lists.
HOTSPOT_KEYS = {"high": "HH", "low": "LL", "outliers_high_among_low": "HL", "outliers_low_among_high": "LH"}


@dataclass(frozen=True)
class GeographyResult:
    """Output of :func:`analyse_geography`.

    Attributes:
        report: JSON-ready dict for ``results/states.json`` (see :func:`analyse_geography`).
        states: one row per region with the same per-state numbers (for tables and tests).
    """

    report: dict[str, Any]
    states: pd.DataFrame = field(repr=False)


def analyse_geography(customers: pd.DataFrame, reviews: pd.DataFrame | None, cfg: GeographyConfig,
                      seed: int, regions: Regions | None = None) -> GeographyResult:
    """Per-state sentiment, shrinkage, Moran's I / LISA and findings.

    Args:
        customers: the customer feature table (``customer_id``, ``state`` or
            ``cfg.region_column``, ``is_us``, ``cfg.value_column``, ``sentiment_missing``,
            ``review_count``, ``monetary``; ``segment_id`` / ``segment_name`` when present).
            With the built-in US map, non-US rows are excluded and counted.
        reviews: the reviews table (``customer_id``), used to count reviews per state; when
            ``None`` the customers' ``review_count`` is summed instead.
        cfg: the ``geography`` config section.
        seed: seeds the permutation tests.
        regions: the polygons, as the runner loads them (``io.geometry.load_regions``); when
            ``None`` (notebooks, tests) they are loaded from ``cfg`` here.

    Returns:
        :class:`GeographyResult`; ``report`` holds ``states`` (one entry per region, all 50
        states + DC with the built-in map, including those with no customers), ``national``,
        ``coverage`` (mapped, non-US and unknown-state customers), ``shrinkage``, ``spatial``
        (Moran's I, LISA settings, the multiple-testing treatment), ``hotspots``,
        ``insufficient``, ``n_ranked``, ``n_insufficient`` and ``findings`` (see
        :func:`build_findings`).

    Raises:
        InputDataError: the customer table lacks ``customer_id`` or the sentiment column.
        ConfigError: an unusable ``cfg.geojson``.
    """
    required = {"customer_id", cfg.value_column}
    missing = sorted(required - set(customers.columns))
    if missing:
        raise InputDataError(f"the customer table lacks column(s) {missing}",
                             file="results/customers.parquet",
                             expected="the feature table with sentiment scores (see DESIGN.md)",
                             fix="run the sentiment stage before the geography stage")
    if regions is None:
        regions = load_regions(cfg.geojson, cfg.key_column, cfg.name_column)
    codes, coverage = match_regions(customers, regions, cfg.region_column)
    logger.debug("geography: %d of %d customers mapped", coverage["customers_mapped"],
                 coverage["customers_total"])
    all_codes = list(regions.frame["code"])
    df = customer_values(customers, codes, cfg)
    est = region_estimates(df, review_counts(customers, reviews, codes, df, all_codes), regions, cfg)
    table = est.table
    sufficient = ~table["insufficient_data"]
    if est.scored_values.size:
        spatial, local = spatial_statistics(table["shrunk_positive_prob"], sufficient,
                                            table["own_diff"], table["own_p"], regions, cfg, seed)
    else:
        spatial, local = spatial_statistics(pd.Series(0.0, index=all_codes), sufficient & False,
                                            table["own_diff"], table["own_p"], regions, cfg, seed)
        spatial["skipped"] = "no_scored_reviews"
    table = table.join(local)
    table["hotspot"] = table["lisa_class"].isin(["HH", "LL"])

    mix = segment_mix(customers, codes, codes.notna().to_numpy(), all_codes)
    report: dict[str, Any] = {
        "geometry": {"source": regions.source, "key_column": regions.key_column,
                     "is_us": regions.is_us,
                     "name_column": None if regions.is_us else cfg.name_column},
        "value_column": cfg.value_column,
        "min_customers": cfg.min_customers,
        "coverage": coverage,
        "national": national_row(df, est.scored_values, coverage, int(table["reviews"].sum()), est.mu),
        "shrinkage": {
            "method": "empirical_bayes_normal_normal",  # tau^2 by DerSimonian-Laird moments
            "target": json_float(est.mu), "sigma2_within": json_float(est.sigma2),
            "tau2_between": json_float(est.tau2),
        },
        "spatial": spatial,
        "states": _region_rows(table, mix),
        "hotspots": {key: [c for c in all_codes if table.at[c, "lisa_class"] == lisa]
                     for key, lisa in HOTSPOT_KEYS.items()},
        "insufficient": [c for c in all_codes if table.at[c, "insufficient_data"]],
        "n_ranked": int(table["rank"].notna().sum()),
    }
    report["n_insufficient"] = len(report["insufficient"])
    build_findings(report)
    return GeographyResult(report=report, states=table)


def _region_rows(table: pd.DataFrame, segment_mix: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``states.json`` ``states``: one JSON row per region of the statistics table."""
    rows = []
    for code, row in table.iterrows():
        rows.append({
            "code": str(code), "name": row["name"],
            "fips": None if row["fips"] is None or pd.isna(row["fips"]) else str(row["fips"]),
            "customers": int(row["customers"]), "reviewers": int(row["reviewers"]),
            "reviews": int(row["reviews"]),
            "mean_positive_prob": json_float(row["mean_positive_prob"]),
            "ci_low": json_float(row["ci_low"]), "ci_high": json_float(row["ci_high"]),
            "shrunk_positive_prob": json_float(row["shrunk_positive_prob"]),
            "shrunk_ci_low": json_float(row["shrunk_ci_low"]), "shrunk_ci_high": json_float(row["shrunk_ci_high"]),
            "spend_per_customer": json_float(row["spend_per_customer"]),
            "segment_mix": segment_mix.get(code, []),
            "insufficient_data": bool(row["insufficient_data"]),
            "rank": None if pd.isna(row["rank"]) else int(row["rank"]),
            "lisa_class": row["lisa_class"],
            "lisa_quadrant": row["lisa_quadrant"] if isinstance(row["lisa_quadrant"], str) else None,
            "lisa_i": json_float(row["lisa_i"]),
            "lisa_p": json_float(row["lisa_p"]),
            "lisa_p_adjusted": json_float(row["lisa_p_adjusted"]),
            "lisa_tested": bool(row["lisa_tested"]),
            "lisa_screened": bool(row["lisa_screened"]),
            "own_p": json_float(row["own_p"]),
            "own_p_adjusted": json_float(row["own_p_adjusted"]),
            "hotspot": bool(row["hotspot"]),
        })
    return rows
