"""Geography stage: per-state sentiment with intervals and shrinkage, spatial clustering.

Method (stated in ``states.json`` too):

* Each customer with at least one scored review contributes one value (``positive_prob``,
  the mean P(positive) of their reviews); customers with imputed sentiment are counted but
  never averaged.
* Per state: the mean with a 95% t-interval, and an empirical-Bayes estimate shrunk toward
  the national mean (normal-normal model; within-state variance pooled over all states,
  between-state variance by DerSimonian-Laird moments). Small states move most of the way
  to the national mean, so they cannot look extreme by chance.
* States with fewer than ``geography.min_customers`` customers (or no reviewer) are flagged
  ``insufficient_data``: greyed on maps, never ranked, never tested for clustering.
* Spatial weights: Queen contiguity on the polygons, row-standardised. Regions with no
  neighbour (Alaska, Hawaii) are left out of Moran's I and LISA (``islands: exclude``) or
  linked to their nearest region (``islands: nearest``).
* Global Moran's I and local Moran (LISA) on the shrunk estimates, conditional permutation
  pseudo p-values (seeded). Tested states: enough data and at least one neighbour.
* Multiple testing, two steps, each Benjamini-Hochberg FDR at ``geography.alpha``:
  (1) each tested state's own mean against the national mean (z-test, pooled variance);
  (2) the local Moran p-values of the states passing (1) whose LISA quadrant has the same
  direction. Step 1 stops average states next to a real cluster from being flagged through
  their neighbours' values (the LISA "halo"); because the conditional permutation holds a
  state's own value fixed, selecting on that value leaves the step-2 p-values valid. A state
  gets a LISA class (HH/LL/HL/LH) only when it passes both; a hotspot is a significant HH
  (high) or LL (low) state.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from segment_report.pipeline.config import GeographyConfig
from segment_report.pipeline.errors import InputDataError
from segment_report.pipeline.io.geometry import Regions, load_regions, match_key
from segment_report.pipeline.log import logger
from segment_report.pipeline.stages.findings import add_finding
from segment_report.pipeline.states import to_code

LISA_CLASSES = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
NOT_SIGNIFICANT = "not significant"
#: ``spatial.skipped``: why no spatial statistics were computed (``reports.narrative`` words it).
SKIP_CODES = ("too_few_regions", "no_variation", "no_scored_reviews")


@dataclass(frozen=True)
class GeographyResult:
    """Output of :func:`analyse_geography`.

    Attributes:
        report: JSON-ready dict for ``results/states.json`` (see :func:`analyse_geography`).
        states: one row per region with the same per-state numbers (for tables and tests).
    """

    report: dict[str, Any]
    states: pd.DataFrame = field(repr=False)


# --------------------------------------------------------------------------- helpers

def _num(value: Any) -> float | None:
    """A JSON-safe float: NaN and inf become ``None``."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1).

    Args:
        p_values: 1-D array of p-values (no NaN).

    Returns:
        Array of adjusted p-values in the input order.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _match_regions(customers: pd.DataFrame, regions: Regions, region_column: str) -> tuple[pd.Series, dict[str, int]]:
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


def _weights(regions: Regions, islands: str) -> tuple[Any, list[str], list[str]]:
    """Queen contiguity weights (row-standardised) and the island handling.

    Returns the libpysal ``W`` over the regions used in the spatial statistics, the codes of
    regions with no shared border, and the codes excluded from the spatial statistics.
    """
    from libpysal.weights import Queen, W

    frame = regions.frame
    codes = list(frame["code"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        queen = Queen.from_dataframe(frame, ids=codes, use_index=False, silence_warnings=True)
    neighbours = {k: list(v) for k, v in queen.neighbors.items()}
    island_codes = [c for c in codes if not neighbours.get(c)]
    excluded: list[str] = []
    if island_codes and islands == "nearest" and len(codes) > 1:
        # Distances on an equal-area world projection; good enough to pick a nearest neighbour.
        projected = frame.to_crs("EPSG:6933").geometry
        for code in island_codes:
            dist = projected.distance(projected.loc[code]).drop(index=code)
            nearest = str(dist.idxmin())
            neighbours[code] = sorted(set(neighbours[code]) | {nearest})
            neighbours[nearest] = sorted(set(neighbours[nearest]) | {code})
    elif island_codes:
        excluded = list(island_codes)
        for code in excluded:
            neighbours.pop(code, None)
    kept = [c for c in codes if c in neighbours]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = W({c: [x for x in neighbours[c] if x in neighbours] for c in kept}, id_order=kept,
              silence_warnings=True)
    w.transform = "r"
    return w, island_codes, excluded


def local_moran_pvalues(z: np.ndarray, w: Any, permutations: int, seed: int) -> np.ndarray:
    """Conditional-permutation pseudo p-values of local Moran's I, as in esda.

    For each region i the values of its neighbours are replaced by a random draw (without
    replacement) of the other regions' values; the p-value is the folded one-sided
    ``(min(larger, P - larger) + 1) / (P + 1)`` that ``esda.Moran_Local.p_sim`` reports.

    Args:
        z: standardised values in ``w.id_order``.
        w: libpysal ``W`` (row-standardised or not).
        permutations: number of random draws P.
        seed: seeds the draws.

    Returns:
        Array of pseudo p-values in ``w.id_order``; 1.0 for regions with no neighbour.
    """
    n = z.size
    rng = np.random.default_rng(seed)
    ids = list(w.id_order)
    pos = {c: i for i, c in enumerate(ids)}
    max_k = max((len(v) for v in w.neighbors.values()), default=0)
    out = np.ones(n)
    if max_k == 0 or n < 2:
        return out
    # One shared set of permutations of n-1 "other" slots, as esda does.
    perm = np.argsort(rng.random((permutations, n - 1)), axis=1)[:, :max_k]
    for i, code in enumerate(ids):
        neigh = w.neighbors[code]
        k = len(neigh)
        if k == 0:
            continue
        weights = np.asarray(w.weights[code], dtype=float)
        observed = z[i] * float((z[[pos[c] for c in neigh]] * weights).sum())
        draw = perm[:, :k]
        draw = draw + (draw >= i)  # skip i itself
        simulated = z[i] * (z[draw] * weights).sum(axis=1)
        # Draws of the observed neighbours tie with it; BLAS sums can differ in the last bit
        # from run to run (memory alignment), so ties are compared with a tolerance.
        tol = 1e-9 * max(abs(observed), 1e-12)
        larger = int(np.sum(simulated >= observed - tol))
        larger = min(larger, permutations - larger)
        out[i] = (larger + 1.0) / (permutations + 1.0)
    return out


def _spatial(values: pd.Series, testable: pd.Series, own_diff: pd.Series, own_p: pd.Series,
             regions: Regions, cfg: GeographyConfig, seed: int) -> tuple[dict[str, Any], pd.DataFrame]:
    """Global Moran's I and BH-adjusted LISA on ``values`` (indexed by region code).

    ``own_diff`` / ``own_p``: each region's mean minus the national mean and the two-sided
    p-value of that difference (step 1 of the two-step rule in the module docstring).
    """
    import esda

    w, island_codes, excluded = _weights(regions, cfg.islands)
    ids = list(w.id_order)
    y = values.loc[ids].to_numpy(dtype=float)
    local = pd.DataFrame({"lisa_class": NOT_SIGNIFICANT, "lisa_quadrant": None, "lisa_i": np.nan,
                          "lisa_p": np.nan, "lisa_p_adjusted": np.nan, "lisa_tested": False,
                          "own_p_adjusted": np.nan, "lisa_screened": False},
                         index=values.index)
    info: dict[str, Any] = {
        # method identifiers; reports.narrative.geography describes them
        "weights": "queen_row_standardised",
        "value": "empirical_bayes_shrunk_mean",
        "islands": island_codes,
        "island_treatment": cfg.islands,
        "excluded": excluded,
        "permutations": cfg.permutations,
        "seed": seed,
        "alpha": cfg.alpha,
        "engine": cfg.lisa_engine,
        "multiple_testing": "fdr_bh_two_step",
        "moran_i": None, "moran_expected": None, "moran_z": None, "moran_p": None,
        "moran_significant": False, "tested_regions": 0, "skipped": None,
    }
    n_links = sum(len(v) for v in w.neighbors.values())
    if len(ids) < 3 or n_links == 0:
        info["skipped"] = "too_few_regions"
        return info, local
    if float(np.std(y)) <= 1e-12:
        info["skipped"] = "no_variation"
        return info, local

    # Moran draws from the global numpy RNG; seed it and restore it so callers are unaffected.
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            moran = esda.Moran(y, w, permutations=cfg.permutations)
            if cfg.lisa_engine == "esda":
                lisa = esda.Moran_Local(y, w, permutations=cfg.permutations, seed=seed,
                                        keep_simulations=False)
                lisa_p = np.asarray(lisa.p_sim, dtype=float)
            else:
                lisa = esda.Moran_Local(y, w, permutations=0)
                lisa_p = local_moran_pvalues(np.asarray(lisa.z, dtype=float), w,
                                             cfg.permutations, seed)
    finally:
        np.random.set_state(state)
    info.update(moran_i=_num(moran.I), moran_expected=_num(moran.EI), moran_z=_num(moran.z_sim),
                moran_p=_num(moran.p_sim), moran_significant=bool(moran.p_sim < cfg.alpha))

    frame = pd.DataFrame({"lisa_i": lisa.Is, "lisa_p": lisa_p,
                          "lisa_quadrant": [LISA_CLASSES.get(int(q)) for q in lisa.q]}, index=ids)
    has_neighbour = pd.Series({c: len(w.neighbors[c]) > 0 for c in ids})
    tested = [c for c in ids if bool(testable.get(c, False)) and has_neighbour[c]]
    frame["lisa_tested"] = frame.index.isin(tested)
    frame["lisa_p_adjusted"] = np.nan
    frame["own_p_adjusted"] = np.nan
    frame["lisa_screened"] = False
    if tested:
        frame.loc[tested, "own_p_adjusted"] = benjamini_hochberg(own_p.loc[tested].to_numpy())
    # Step 1: a state is high (low) itself only when its own mean differs from the national mean.
    # Without this, average states bordering a real cluster inherit significance through their
    # neighbours' lag (the LISA "halo"). Step 2: local Moran on the states passing step 1. The
    # conditional permutation p-value holds the state's own value fixed, so selecting on that
    # value leaves the step-2 p-values valid; BH over the smaller family keeps the power.
    own_sig = frame["lisa_tested"] & (frame["own_p_adjusted"] < cfg.alpha)
    own_dir = np.sign(own_diff.loc[ids].to_numpy())
    quad_dir = frame["lisa_quadrant"].map({"HH": 1, "HL": 1, "LL": -1, "LH": -1}).fillna(0).to_numpy()
    screened = own_sig.to_numpy() & (own_dir == quad_dir) & (quad_dir != 0)
    frame["lisa_screened"] = screened
    if screened.any():
        frame.loc[screened, "lisa_p_adjusted"] = benjamini_hochberg(frame.loc[screened, "lisa_p"].to_numpy())
    significant = frame["lisa_screened"] & (frame["lisa_p_adjusted"] < cfg.alpha)
    frame["lisa_class"] = np.where(significant, frame["lisa_quadrant"], NOT_SIGNIFICANT)
    info["tested_regions"] = len(tested)
    cols = ["lisa_class", "lisa_quadrant", "lisa_i", "lisa_p", "lisa_p_adjusted", "lisa_tested",
            "own_p_adjusted", "lisa_screened"]
    local.loc[ids, cols] = frame[cols]
    return info, local


# --------------------------------------------------------------------------- stage

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
    codes, coverage = _match_regions(customers, regions, cfg.region_column)
    logger.debug("geography: %d of %d customers mapped", coverage["customers_mapped"],
                 coverage["customers_total"])

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

    all_codes = list(regions.frame["code"])
    grouped = df.groupby("code", sort=False)
    n_customers = grouped.size().reindex(all_codes, fill_value=0)
    n_reviewers = grouped["scored"].sum().reindex(all_codes, fill_value=0).astype(int)
    mean = grouped["value"].mean().reindex(all_codes)
    sd = grouped["value"].std(ddof=1).reindex(all_codes)
    spend = grouped["monetary"].mean().reindex(all_codes)

    if reviews is not None and "customer_id" in reviews.columns:
        code_of = pd.Series(codes.to_numpy(dtype=object), index=customers["customer_id"].to_numpy())
        code_of = code_of[~code_of.index.duplicated()].dropna()
        n_reviews = reviews["customer_id"].map(code_of).value_counts().reindex(all_codes, fill_value=0)
    elif "review_count" in customers.columns:
        rc = pd.to_numeric(customers.loc[mapped, "review_count"], errors="coerce").fillna(0)
        n_reviews = rc.groupby(df["code"]).sum().reindex(all_codes, fill_value=0)
    else:
        n_reviews = pd.Series(0, index=all_codes)

    # 95% t-interval of the state mean; undefined with one reviewer.
    n_arr = n_reviewers.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        tcrit = np.where(n_arr > 1, stats.t.ppf(0.975, np.maximum(n_arr - 1, 1)), np.nan)
        half = tcrit * sd.to_numpy() / np.sqrt(n_arr)
    ci_low = np.clip(mean.to_numpy() - half, 0.0, 1.0)
    ci_high = np.clip(mean.to_numpy() + half, 0.0, 1.0)

    scored_values = df.loc[df["scored"], "value"].to_numpy()
    n_nat = scored_values.size
    mu = float(np.mean(scored_values)) if n_nat else float("nan")
    # Pooled within-state variance: stable even for states with one or two reviewers.
    scored_rows = df[df["scored"]]
    dev = (scored_rows["value"].to_numpy(dtype=float)
           - scored_rows["code"].map(mean).to_numpy(dtype=float))
    n_groups = int((n_arr > 0).sum())
    sigma2 = float(np.sum(dev**2) / (n_nat - n_groups)) if n_nat > n_groups else float("nan")
    shrunk, post_sd, tau2 = _shrinkage(mean.fillna(0).to_numpy(), n_arr, sigma2, mu) if n_nat else (
        np.full(len(all_codes), np.nan), np.full(len(all_codes), np.nan), 0.0)
    shrunk_low = np.clip(shrunk - 1.96 * post_sd, 0.0, 1.0)
    shrunk_high = np.clip(shrunk + 1.96 * post_sd, 0.0, 1.0)

    insufficient = (n_customers.to_numpy() < cfg.min_customers) | (n_arr == 0)
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
        "shrunk_ci_low": shrunk_low,
        "shrunk_ci_high": shrunk_high,
        "spend_per_customer": spend.to_numpy(),
        "insufficient_data": insufficient,
    }, index=all_codes)
    sufficient = ~table["insufficient_data"]
    table["rank"] = pd.Series(np.nan, index=all_codes, dtype=float)
    table.loc[sufficient, "rank"] = table.loc[sufficient, "shrunk_positive_prob"].rank(
        ascending=False, method="min")

    # Each state's own difference from the national mean, z-test with the pooled variance.
    own_diff = pd.Series(mean.to_numpy() - mu, index=all_codes)
    with np.errstate(invalid="ignore", divide="ignore"):
        own_z = own_diff.to_numpy() / np.sqrt(sigma2 / n_arr)
    own_p = pd.Series(np.where(np.isfinite(own_z), 2 * stats.norm.sf(np.abs(own_z)), 1.0),
                      index=all_codes)
    if n_nat:
        spatial, local = _spatial(table["shrunk_positive_prob"], sufficient, own_diff, own_p,
                                  regions, cfg, seed)
    else:
        spatial, local = _spatial(pd.Series(0.0, index=all_codes), sufficient & False, own_diff,
                                  own_p, regions, cfg, seed)
        spatial["skipped"] = "no_scored_reviews"
    table["own_p"] = own_p
    table = table.join(local)
    table["hotspot"] = table["lisa_class"].isin(["HH", "LL"])

    segment_mix = _segment_mix(customers, codes, mapped, all_codes)
    national = _national(df, scored_values, coverage, int(table["reviews"].sum()), mu)
    report: dict[str, Any] = {
        "geometry": {"source": regions.source, "key_column": regions.key_column,
                     "is_us": regions.is_us,
                     "name_column": None if regions.is_us else cfg.name_column},
        "value_column": cfg.value_column,
        "min_customers": cfg.min_customers,
        "coverage": coverage,
        "national": national,
        "shrinkage": {
            "method": ("empirical Bayes, normal-normal: state mean shrunk toward the national mean "
                       "by sigma^2/n / (sigma^2/n + tau^2); tau^2 by DerSimonian-Laird moments"),
            "target": _num(mu), "sigma2_within": _num(sigma2), "tau2_between": _num(tau2),
        },
        "spatial": spatial,
        "states": _region_rows(table, segment_mix),
        "hotspots": {key: [c for c in all_codes if table.at[c, "lisa_class"] == lisa]
                     for key, lisa in HOTSPOT_KEYS.items()},
        "insufficient": [c for c in all_codes if table.at[c, "insufficient_data"]],
        "n_ranked": int(table["rank"].notna().sum()),
    }
    report["n_insufficient"] = len(report["insufficient"])
    build_findings(report)
    return GeographyResult(report=report, states=table)


#: ``states.json`` ``hotspots`` keys and the LISA class each lists.
HOTSPOT_KEYS = {"high": "HH", "low": "LL", "outliers_high_among_low": "HL", "outliers_low_among_high": "LH"}


def _national(df: pd.DataFrame, scored_values: np.ndarray, coverage: dict[str, Any], n_reviews: int,
              mu: float) -> dict[str, Any]:
    """The national row: counts, mean sentiment with its 95% t-interval, spend per customer."""
    n_nat = scored_values.size
    national = {
        "customers": int(coverage["customers_mapped"]),
        "reviewers": int(n_nat),
        "reviews": n_reviews,
        "mean_positive_prob": _num(mu),
        "ci_low": None, "ci_high": None,
        "spend_per_customer": _num(df["monetary"].mean()) if len(df) else None,
    }
    if n_nat > 1:
        half_nat = stats.t.ppf(0.975, n_nat - 1) * float(np.std(scored_values, ddof=1)) / math.sqrt(n_nat)
        national["ci_low"] = _num(max(0.0, mu - half_nat))
        national["ci_high"] = _num(min(1.0, mu + half_nat))
    return national


def _region_rows(table: pd.DataFrame, segment_mix: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``states.json`` ``states``: one JSON row per region of the statistics table."""
    rows = []
    for code, row in table.iterrows():
        rows.append({
            "code": str(code), "name": row["name"],
            "fips": None if row["fips"] is None or pd.isna(row["fips"]) else str(row["fips"]),
            "customers": int(row["customers"]), "reviewers": int(row["reviewers"]),
            "reviews": int(row["reviews"]),
            "mean_positive_prob": _num(row["mean_positive_prob"]),
            "ci_low": _num(row["ci_low"]), "ci_high": _num(row["ci_high"]),
            "shrunk_positive_prob": _num(row["shrunk_positive_prob"]),
            "shrunk_ci_low": _num(row["shrunk_ci_low"]), "shrunk_ci_high": _num(row["shrunk_ci_high"]),
            "spend_per_customer": _num(row["spend_per_customer"]),
            "segment_mix": segment_mix.get(code, []),
            "insufficient_data": bool(row["insufficient_data"]),
            "rank": None if pd.isna(row["rank"]) else int(row["rank"]),
            "lisa_class": row["lisa_class"],
            "lisa_quadrant": row["lisa_quadrant"] if isinstance(row["lisa_quadrant"], str) else None,
            "lisa_i": _num(row["lisa_i"]),
            "lisa_p": _num(row["lisa_p"]),
            "lisa_p_adjusted": _num(row["lisa_p_adjusted"]),
            "lisa_tested": bool(row["lisa_tested"]),
            "lisa_screened": bool(row["lisa_screened"]),
            "own_p": _num(row["own_p"]),
            "own_p_adjusted": _num(row["own_p_adjusted"]),
            "hotspot": bool(row["hotspot"]),
        })
    return rows


def _segment_mix(customers: pd.DataFrame, codes: pd.Series, mapped: np.ndarray,
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


# --------------------------------------------------------------------------- findings

FINDING_KINDS = ("coverage", "no_scored_reviews", "national_mean", "spatial_test_skipped",
                 "spatial_autocorrelation", "no_spatial_pattern", "spatial_cluster",
                 "spatial_outlier", "no_hotspot", "highest_lowest", "insufficient_regions")


def build_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """What the geography numbers show, and only that, as findings (see
    ``segment_report.pipeline.stages.findings``); ``segment_report.reports.narrative`` writes
    the sentences.

    Args:
        report: the ``states.json`` dict built by :func:`analyse_geography` (its ``findings``
            list is filled).

    Returns:
        The findings, in reading order: ``coverage``; then ``no_scored_reviews``, or
        ``national_mean``; ``spatial_test_skipped``, ``spatial_autocorrelation`` or
        ``no_spatial_pattern``; ``spatial_cluster`` (refs: direction high/low, region codes),
        ``spatial_outlier`` (refs: direction high_among_low/low_among_high, codes) or
        ``no_hotspot``; ``highest_lowest`` (refs: top, bottom) among regions with enough data;
        ``insufficient_regions``.
    """
    report["findings"] = []
    index = {r["code"]: i for i, r in enumerate(report["states"])}
    sp = report["spatial"]

    def shrunk(codes: list[str]) -> dict[str, str]:
        return {f"shrunk_{c}": f"/states/{index[c]}/shrunk_positive_prob" for c in codes}

    cov = {k: f"/coverage/{k}" for k in ("customers_mapped", "customers_total", "non_us",
                                         "unknown_state")}
    add_finding(report, "coverage", "coverage", cov)
    nat = report["national"]
    if nat["mean_positive_prob"] is None:
        add_finding(report, "no_scored_reviews", "no_scored_reviews")
        return report["findings"]
    src = {"reviewers": "/national/reviewers", "mean": "/national/mean_positive_prob"}
    if nat["ci_low"] is not None:
        src.update(ci_low="/national/ci_low", ci_high="/national/ci_high")
    add_finding(report, "national_mean", "national_mean", src)
    moran = {"moran_i": "/spatial/moran_i", "moran_p": "/spatial/moran_p"}
    if sp["skipped"]:
        add_finding(report, "spatial_test", "spatial_test_skipped")
    elif sp["moran_significant"]:
        add_finding(report, "spatial_test", "spatial_autocorrelation", moran)
    else:
        add_finding(report, "spatial_test", "no_spatial_pattern", {**moran, "alpha": "/spatial/alpha"})
    hs = report["hotspots"]
    if not sp["skipped"]:
        tested = {"tested": "/spatial/tested_regions"}
        for direction in ("high", "low"):
            if hs[direction]:
                add_finding(report, f"cluster_{direction}", "spatial_cluster",
                            {**shrunk(hs[direction]), **tested},
                            {"direction": direction, "codes": hs[direction]})
        for key, direction in (("outliers_high_among_low", "high_among_low"),
                               ("outliers_low_among_high", "low_among_high")):
            if hs[key]:
                add_finding(report, f"outliers_{direction}", "spatial_outlier", shrunk(hs[key]),
                            {"direction": direction, "codes": hs[key]})
        if not any(hs.values()):
            add_finding(report, "no_hotspot", "no_hotspot", tested)
    ranked = sorted((r for r in report["states"] if r["rank"] is not None), key=lambda r: r["rank"])
    if len(ranked) >= 2:
        top, bottom = index[ranked[0]["code"]], index[ranked[-1]["code"]]
        add_finding(report, "highest_lowest", "highest_lowest",
                    {"n_ranked": "/n_ranked",
                     "top": f"/states/{top}/shrunk_positive_prob",
                     "top_customers": f"/states/{top}/customers",
                     "bottom": f"/states/{bottom}/shrunk_positive_prob",
                     "bottom_customers": f"/states/{bottom}/customers"},
                    {"top": ranked[0]["code"], "bottom": ranked[-1]["code"]})
    if report["insufficient"]:
        add_finding(report, "insufficient", "insufficient_regions",
                    {"n_insufficient": "/n_insufficient", "min_customers": "/min_customers"})
    return report["findings"]


# --------------------------------------------------------------------------- I/O
