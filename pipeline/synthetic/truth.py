"""The ground truth written next to the generated data (``ground_truth.json``): personas, planted
effects, review labels, mess and row counts."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd

from segment_report.pipeline import __version__
from segment_report.pipeline.synthetic.arrays import _counter
from segment_report.pipeline.synthetic.catalogue import (CATEGORIES, CATEGORY_BASE_PRICE,
                                                         HIGH_SENTIMENT_STATES, INCOME_BANDS, INCOME_RANGES,
                                                         LOW_SENTIMENT_STATES, Persona)
from segment_report.pipeline.synthetic.config import GenerateConfig
from segment_report.pipeline.synthetic.messy import INVALID_REASONS
from segment_report.pipeline.synthetic.planted import planted_drivers
from segment_report.pipeline.synthetic.reviews import review_noise_sd


def _truth(cfg: GenerateConfig, personas: tuple[Persona, ...], cust: dict, tx: dict, rev: dict,
           start: pd.Timestamp, end: pd.Timestamp, frames: dict, mess: dict,
           review_ids: np.ndarray) -> dict:
    n_cust = cust["customer_id"].size
    pid = cust["persona_id"]
    persona_list = []
    for k, p in enumerate(personas):
        m = pid == k
        traits = asdict(p)
        traits.pop("name")
        traits.pop("weight")
        persona_list.append({
            "id": k, "name": p.name,
            "share": round(p.weight / sum(q.weight for q in personas), 6),
            "n_customers": int(m.sum()),
            "realised_share": round(float(m.mean()), 6),
            "traits": {k2: (list(v) if isinstance(v, tuple) else v) for k2, v in traits.items()},
        })
    is_us = cust["is_us"]
    data_keys = [k for k in frames if not k.startswith("truth_")]
    rows_written = {k: int(len(frames[k])) for k in data_keys}
    tables = {k: v for k, v in mess.items() if k != "unknown"}
    duplicates = {k: int(v.get("duplicates", 0)) for k, v in tables.items()}
    invalid_ids: dict[str, list[str]] = {r: [] for r in INVALID_REASONS}
    detail: dict[str, int] = {}
    for v in tables.values():
        if "invalid" in v:
            for r, ids in v["invalid"]["ids"].items():
                invalid_ids[r].extend(str(i) for i in ids)
            detail.update(v["invalid"]["detail"])
    tx_by_country = pd.Series(tx["counts"]).groupby(cust["country"]).sum()
    pii_ids = [str(review_ids[p]) for p in rev["pii_pos"]]
    beta = 10.0 * math.log1p(cfg.sentiment_spend_pct / 100.0)
    state_sent = pd.Series(cust["sentiment"][is_us]).groupby(cust["state_code"][is_us]).mean()
    return {
        "generator": {"command": "segment-report generate", "version": __version__,
                      "config": _config_fields(cfg)},
        "window": {"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d"),
                   "days": int((end - start).days) + 1},
        "files": {k: v for k, v in data_file_names(cfg).items() if k in data_keys},
        "categories": list(CATEGORIES),
        "category_base_price": dict(zip(CATEGORIES, CATEGORY_BASE_PRICE)),
        "personas": persona_list,
        "effects": {
            "sentiment_spend": {
                "description": "unit price (Amount, hence Total_Amount) x exp(b * (u - 0.5)) for "
                               "the customer's satisfaction u = clip(s + N(0, satisfaction_sd), "
                               "0.02, 0.98), within every persona; u also sets the star ratings",
                "b": round(beta, 6),
                "spend_pct_per_0.1_sentiment": cfg.sentiment_spend_pct,
                "satisfaction_sd": cfg.satisfaction_sd,
            },
            "spend_drivers": planted_drivers(cfg, cust, tx),
            "lifetimes": _planted_lifetimes(personas, cust, tx),
            "state_sentiment": {
                "description": "latent sentiment shifted for every customer in these "
                               "neighbouring states (then clipped to [0.02, 0.98])",
                "high": {"states": list(HIGH_SENTIMENT_STATES), "shift": cfg.state_sentiment_shift},
                "low": {"states": list(LOW_SENTIMENT_STATES), "shift": -cfg.state_sentiment_shift},
                "mean_latent_sentiment_us": round(float(cust["sentiment"][is_us].mean()), 6),
                "mean_latent_sentiment_by_state": {k: round(float(v), 6)
                                                   for k, v in state_sent.items()},
            },
        },
        "reviews": {
            "rating_model": f"clip(round(1 + 4 u + N(0, {review_noise_sd(cfg):.4g})), 1, 5) for "
                            "the customer's satisfaction u",
            "label_from_rating": {"negative": [1, 2], "neutral": [3], "positive": [4, 5]},
            "by_label": _counter(rev["label"]),
            "by_rating": _counter(rev["rating"]),
            "text_source": _counter(rev["source"]),
            "pii": {"count": int(rev["pii_pos"].size), "by_kind": _counter(rev["pii_kind"]),
                    "review_ids": pii_ids},
        },
        "income": {"retail_table": "band text Low / Medium / High",
                   "tables": "numeric US$ per year; bands " + ", ".join(
                       f"{b}: [{lo}, {hi})" for b, (lo, hi) in zip(INCOME_BANDS, INCOME_RANGES))},
        "counts": {
            "rows_written": rows_written,
            "transactions": int(tx["day"].size),
            "customers": n_cust,
            "reviews": int(rev["tx_pos"].size),
            "duplicates_injected": duplicates,
            "invalid_rows": {r: len(v) for r, v in invalid_ids.items()},
            "invalid_rows_detail": detail,
            "invalid_total": int(sum(len(v) for v in invalid_ids.values())),
            "customers_by_country": _counter(cust["country"]),
            "transactions_by_country": {str(k): int(v) for k, v in tx_by_country.items()},
            "non_us_customers": {k: v for k, v in _counter(cust["country"][~is_us]).items()},
            "non_us_transactions": {str(k): int(v) for k, v in tx_by_country.items() if k != "USA"},
            "customers_by_state": _counter(cust["state_code"][is_us]),
            "customers_with_unknown": dict(mess.get("unknown", {})),
        },
        "invalid_transaction_ids": invalid_ids,
    }


def _planted_lifetimes(personas: tuple[Persona, ...], cust: dict, tx: dict) -> dict:
    """Per persona: the planted share still buying at the end of the history and the purchase
    rates, the truth the CLV stage's ``p_active`` and expected orders are checked against."""
    from segment_report.pipeline.synthetic.catalogue import LAPSE_RANGE, LAPSED_PERSONA_LAST_ORDER

    pid, active, rate = cust["persona_id"], cust["active"], tx["monthly_rate"]
    by_persona = {}
    for k, p in enumerate(personas):
        m = pid == k
        by_persona[p.name] = {
            "active_share_at_end": round(float(active[m].mean()), 6) if m.any() else None,
            "lapsed_as_a_whole": bool(p.last_order[1] < LAPSED_PERSONA_LAST_ORDER),
            "lapse_share": 1.0 if p.last_order[1] < LAPSED_PERSONA_LAST_ORDER else p.lapse_share,
            "monthly_order_rate_active": round(float(rate[m & active].mean()), 6) if (m & active).any() else None,
            "monthly_order_rate_all": round(float(rate[m].mean()), 6) if m.any() else None,
        }
    return {
        "description": "a customer is active at the end of the history when still buying then: "
                       "orders are uniform (Poisson given their count) over the buying span from "
                       "the first order; a persona whose last orders all fall before "
                       f"{LAPSED_PERSONA_LAST_ORDER} of the window has lapsed as a whole, in every "
                       "other persona lapse_share of the customers stop buying between "
                       f"{LAPSE_RANGE[0]} and {LAPSE_RANGE[1]} of the window; monthly rates are "
                       "orders per 30 days of the buying span (truth_customers.csv: active_at_end, "
                       "monthly_order_rate)",
        "personas": by_persona,
    }


def data_file_names(cfg: GenerateConfig) -> dict[str, str]:
    """The data file of each table, relative to the output folder; a folder of monthly parts
    (with a trailing ``/``) for the tables that ``cfg.parts == "monthly"`` splits."""
    names = {"retail_table": "retail_data.csv", "customers": "customers.csv",
             "transactions": "transactions.csv", "reviews": "reviews.csv"}
    if cfg.parts == "monthly":
        names.update({k: names[k].removesuffix(".csv") + "/" for k in PARTED_TABLES})
    return names


PARTED_TABLES = ("retail_table", "transactions", "reviews")
"""The tables that ``parts="monthly"`` writes as folders of monthly parts."""


def _config_fields(cfg: GenerateConfig) -> dict:
    """The config as recorded in ground_truth.json; ``parts`` only when not the default, so
    that single-file datasets keep the bytes they had before the field existed."""
    fields = asdict(cfg)
    if fields["parts"] == "none":
        del fields["parts"]
    return fields
