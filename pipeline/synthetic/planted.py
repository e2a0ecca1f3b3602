"""The planted drivers of spend as the truth to recover: each planted factor's effect on customer
spend measured by exact observational Shapley values over the factors."""

from __future__ import annotations

import math

import numpy as np

from segment_report.pipeline.synthetic.catalogue import CATEGORY_BASE_PRICE
from segment_report.pipeline.synthetic.config import GenerateConfig

# planted factor -> the value-model feature or driver group that observes it. The persona's
# price level has no column of its own: it shows through the persona markers, mainly the
# category mix, so it is compared together with the category prices.
PLANTED_DRIVER_FEATURES = {"frequency": "frequency", "basket_size": "items_per_order",
                           "category_price": "category_mix", "satisfaction": "review_sentiment",
                           "price_level": "category_mix"}


# Planted effects closer than this (relative to the larger) are tied: their order is not a
# property of the data. The truth estimate itself moves about +-5 % between seeds.
PLANTED_TIE_MARGIN = 0.10
TRUTH_SHAPLEY_SAMPLE = 4_000  # customers explained (as many fitted on) for the planted effects

# One conditional-mean model per coalition: 50 rounds at rate 0.2 give the same effects as 100 at
# 0.1 (to $1) in half the time; one thread is faster for these small fits.
TRUTH_MODEL = {"max_iter": 50, "learning_rate": 0.2, "random_state": 0}


def _conditional_shapley(L: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact Shapley values of ``y`` over the columns of ``L`` with the observational value
    function ``v(S) = E[y | L_S]``: the conditional means are fitted on one half of the rows
    (gradient boosting, one model per coalition) and the other half is explained, so noise the
    fit would memorise does not count as an effect. Returns (explained row indices, values).
    Constant columns get 0."""
    from itertools import combinations

    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    rows = rng.permutation(len(y))[: 2 * TRUTH_SHAPLEY_SAMPLE]
    fit, explain = np.sort(rows[::2]), np.sort(rows[1::2])
    players = [j for j in range(L.shape[1]) if np.ptp(L[:, j]) > 0]
    value = {(): np.full(len(explain), y[fit].mean())}
    with threadpool_limits(1):
        for r in range(1, len(players) + 1):
            for coalition in combinations(players, r):
                model = HistGradientBoostingRegressor(**TRUTH_MODEL)
                model.fit(L[fit][:, coalition], y[fit])
                value[coalition] = model.predict(L[explain][:, coalition])
    phi = np.zeros((len(explain), L.shape[1]))
    p = len(players)
    for j in players:
        others = [k for k in players if k != j]
        for r in range(p):
            weight = math.factorial(r) * math.factorial(p - r - 1) / math.factorial(p)
            for coalition in combinations(others, r):
                phi[:, j] += weight * (value[tuple(sorted(coalition + (j,)))] - value[coalition])
    return explain, phi


def _tie_ranks(effects: dict[str, float]) -> dict[str, dict]:
    """Rank by effect, largest first, and list for each key the others within the tie margin."""
    order = sorted(effects, key=effects.get, reverse=True)
    return {k: {"rank": order.index(k) + 1,
                "tied_with": [o for o in order if o != k and abs(effects[o] - effects[k])
                              < PLANTED_TIE_MARGIN * max(effects[o], effects[k])]}
            for k in order}


def planted_drivers(cfg: GenerateConfig, cust: dict, tx: dict) -> dict:
    """How strongly each planted factor drives spend in the generated data, in dollars.

    A customer's spend is a product of factors: orders x items per order x the base price of
    the categories bought x the persona's price level x the satisfaction multiplier
    ``exp(b * (satisfaction - 0.5))`` x price noise. A factor's planted effect is the mean
    absolute Shapley value it has in spend when the value of a set of factors is the expected
    spend given them (observational, "true to the data" Shapley values), the currency of mean
    |SHAP|. Unlike setting one factor at a time to its average, this does not credit factors
    that offset each other across personas (large baskets of cheap groceries) with effects
    that never show in spend. Driver groups add their factors' values per customer, as the
    drivers stage does with SHAP.
    """
    n = cust["customer_id"].size
    cidx = tx["cidx"]
    orders = np.bincount(cidx, minlength=n).astype(float)
    items = np.bincount(cidx, weights=tx["qty"], minlength=n)
    ok = orders > 0
    base = np.array(CATEGORY_BASE_PRICE)[tx["cat"]]
    spend = np.bincount(cidx, weights=tx["total"], minlength=n)[ok]
    beta = 10.0 * math.log1p(cfg.sentiment_spend_pct / 100.0)
    factors = {
        "frequency": orders[ok],
        "basket_size": items[ok] / orders[ok],
        "category_price": np.bincount(cidx, weights=base * tx["qty"], minlength=n)[ok] / items[ok],
        "price_level": cust["price_level"][ok],
        "satisfaction": np.exp(beta * (cust["satisfaction"][ok] - 0.5)),
    }
    names = list(factors)
    rows, phi = _conditional_shapley(np.log(np.column_stack([factors[k] for k in names])),
                                     spend, cfg.seed)
    effect = {k: float(np.mean(np.abs(phi[:, j]))) for j, k in enumerate(names)}
    groups = sorted(set(PLANTED_DRIVER_FEATURES.values()))
    group_effect = {g: float(np.mean(np.abs(phi[:, [j for j, k in enumerate(names)
                                                     if PLANTED_DRIVER_FEATURES[k] == g]].sum(axis=1))))
                    for g in groups}
    factor_rank, group_rank = _tie_ranks(effect), _tie_ranks(group_effect)
    return {
        "description": "planted drivers of spend, strongest first: each factor's mean absolute "
                       "Shapley value in spend per customer, with the expected spend given a set "
                       "of factors as its value (observational Shapley values, the currency of "
                       "mean |SHAP|), estimated on customers held out from the fitted "
                       "expectations. 'observed_as' names the value-model feature or driver "
                       "group that sees the factor; 'observed' adds up each group's factors per "
                       "customer. Effects closer than tie_margin are tied",
        "method": {"value_function": "E[spend | factors in the set], HistGradientBoosting on the "
                                     "log factors, one model per set",
                   "n_fitted": int(min(TRUTH_SHAPLEY_SAMPLE, (int(ok.sum()) + 1) // 2)),
                   "n_explained": int(len(rows))},
        "tie_margin": PLANTED_TIE_MARGIN,
        "factors": {k: {"rank": factor_rank[k]["rank"], "direction": "increasing",
                        "mean_abs_effect": round(effect[k], 2),
                        "observed_as": PLANTED_DRIVER_FEATURES[k]}
                    for k in sorted(names, key=lambda k: factor_rank[k]["rank"])},
        "observed": {g: {"rank": group_rank[g]["rank"], "tied_with": group_rank[g]["tied_with"],
                         "mean_abs_effect": round(group_effect[g], 2),
                         "factors": [k for k in names if PLANTED_DRIVER_FEATURES[k] == g]}
                     for g in sorted(groups, key=lambda g: group_rank[g]["rank"])},
    }
