"""Transactions of the generated customers: order counts, dates, baskets, categories and prices
by persona, and the planted spend effects."""

from __future__ import annotations

import math

import numpy as np

from segment_report.pipeline.synthetic.arrays import _choice, _obj
from segment_report.pipeline.synthetic.catalogue import (CATALOGUE, CATEGORIES, CATEGORY_BASE_PRICE, PAYMENT,
                                                         Persona, SHIPPING)
from segment_report.pipeline.synthetic.config import GenerateConfig


def _make_transactions(cfg: GenerateConfig, rng: np.random.Generator, cust: dict,
                       personas: tuple[Persona, ...], n_days: int) -> dict[str, np.ndarray]:
    """Orders per customer, dates, categories, quantities and prices, sorted by date and time."""
    n_cust = cust["customer_id"].size
    n_tx = cfg.n_transactions
    pid = cust["persona_id"]
    orders_mean = np.array([p.orders_mean for p in personas])[pid]
    one_time = np.array([p.one_time_share for p in personas])[pid]
    # Regular customers order at least twice in the window; one-time buyers are a small,
    # planted minority (a whole persona for "New Premium Shoppers").
    base = 1 + (rng.random(n_cust) >= one_time).astype(np.int64)
    if base.sum() > n_tx:
        base[:] = 1
    # Gamma-Poisson orders, conditioned on the exact total through one multinomial draw.
    lam = rng.gamma(4.0, np.maximum(orders_mean - 1.0 - (1.0 - one_time), 0.05) / 4.0)
    counts = base + rng.multinomial(n_tx - int(base.sum()), lam / lam.sum())
    cidx = np.repeat(np.arange(n_cust), counts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(n_tx) - starts[cidx]

    start_day = np.floor(cust["first"] * (n_days - 1))
    # an active customer keeps buying to the end: no last order pinned to the end of the span
    active = cust["active"]
    stop_day = np.where(active, n_days - 1, np.maximum(start_day, np.floor(cust["last"] * (n_days - 1))))
    u = rng.random(n_tx)
    multi = counts[cidx] >= 2
    u[multi & (pos == 0)] = 0.0
    u[multi & (pos == counts[cidx] - 1) & ~active[cidx]] = 1.0
    # A one-order customer buys late in their active span, so recency stays true to persona.
    u[~multi] = 0.6 + 0.4 * u[~multi]
    day = np.rint(start_day[cidx] + u * (stop_day - start_day)[cidx]).astype(np.int64)
    secs = rng.integers(7 * 3600, 23 * 3600 + 3599, n_tx)

    cum = np.cumsum(cust["mix"], axis=1)[cidx]
    cat = np.minimum((rng.random(n_tx)[:, None] > cum).sum(axis=1), len(CATEGORIES) - 1)
    basket = np.array([p.basket_mean for p in personas])[pid][cidx]
    qty = np.minimum(1 + rng.poisson(basket - 1.0), 10)
    sigma = np.array([p.price_sigma for p in personas])[pid][cidx]
    beta = 10.0 * math.log1p(cfg.sentiment_spend_pct / 100.0)
    spend_mult = np.exp(beta * (cust["satisfaction"] - 0.5))[cidx]
    price = (np.array(CATEGORY_BASE_PRICE)[cat] * cust["price_level"][cidx] * spend_mult
             * rng.lognormal(0.0, sigma))
    amount = np.maximum(np.round(price, 2), 0.5)
    total = np.round(amount * qty, 2)

    order = np.lexsort((secs, day))
    out = {"cidx": cidx, "day": day, "secs": secs, "cat": cat, "qty": qty, "amount": amount,
           "total": total}
    out = {k: v[order] for k, v in out.items()}
    n = n_tx
    type_idx = rng.integers(0, 5, n)
    prod_idx = rng.integers(0, 3, n)
    brand_idx = rng.integers(0, 6, n)
    brand = np.empty(n, dtype=object)
    ptype = np.empty(n, dtype=object)
    product = np.empty(n, dtype=object)
    for c, name in enumerate(CATEGORIES):
        m = out["cat"] == c
        brands, types = CATALOGUE[name]
        tnames = list(types)
        brand[m] = _obj(brands)[brand_idx[m] % len(brands)]
        ptype[m] = _obj(tnames)[type_idx[m]]
        table = np.array([[types[t][j] for j in range(3)] for t in tnames], dtype=object)
        product[m] = table[type_idx[m], prod_idx[m]]
    out.update(brand=brand, ptype=ptype, product=product, type_idx=type_idx, prod_idx=prod_idx,
               shipping=_choice(rng, *zip(*SHIPPING), n=n),
               payment=_choice(rng, *zip(*PAYMENT), n=n))
    recent = out["day"] >= n_days - 4
    status = np.full(n, "Delivered", dtype=object)
    status[recent] = _choice(rng, ("Processing", "Shipped", "Delivered"), (0.3, 0.4, 0.3),
                             int(recent.sum()))
    out["status"] = status
    out["counts"] = counts
    # orders per 30 days over the customer's buying span (the planted purchase rate)
    out["monthly_rate"] = counts / (stop_day - start_day + 1) * 30.0
    return out
