"""Spatial statistics on the per-region estimates: Queen weights, global Moran's I, local
Moran (LISA) with conditional permutations and the two-step Benjamini-Hochberg rule."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.config import GeographyConfig
from segment_report.pipeline.io.geometry import Regions
from segment_report.pipeline.stages.geography.estimates import json_float

LISA_CLASSES = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}

NOT_SIGNIFICANT = "not significant"

#: ``spatial.skipped``: why no spatial statistics were computed (``reports.narrative`` words it).
SKIP_CODES = ("too_few_regions", "no_variation", "no_scored_reviews")


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


def spatial_statistics(values: pd.Series, testable: pd.Series, own_diff: pd.Series, own_p: pd.Series,
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
    info.update(moran_i=json_float(moran.I), moran_expected=json_float(moran.EI), moran_z=json_float(moran.z_sim),
                moran_p=json_float(moran.p_sim), moran_significant=bool(moran.p_sim < cfg.alpha))

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

