"""The time-split check of the CLV models: fit on the history up to a cut-off, predict the
hold-out months after it, compare with what the customers did.

Reported (``results/clv.json`` ``validation``): calibration by decile of predicted orders
(mean predicted against mean actual purchase days), the mean absolute error of expected
orders, and the Spearman rank correlation of predicted hold-out value with realised hold-out
spend. Customers are those with a purchase before the cut-off; the persona covariates are the
run's personas, which were found on the whole window including the hold-out months, so the
check knows a little more about who belongs to a lapsing persona than a forecast made at the
cut-off would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.stages.clv.model import (expected_orders, fit_models, order_values,
                                                      purchase_history, with_personas)

DECILES = 10


def cutoff_date(end: pd.Timestamp, holdout_months: int) -> pd.Timestamp:
    """The last day of the calibration period: ``holdout_months`` calendar months before ``end``."""
    return (pd.Period(end, freq="M") - holdout_months).end_time.normalize()


def holdout_outcomes(transactions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Per customer: purchase days and spend in ``start < date <= end`` (days, like ``frequency``)."""
    tx = transactions[(transactions["date"] >= start + pd.Timedelta(days=1))
                      & (transactions["date"] < end + pd.Timedelta(days=1))]
    grouped = tx.assign(day=tx["date"].dt.normalize(), customer_id=tx["customer_id"].astype(str)).groupby("customer_id")
    return pd.DataFrame({"actual_orders": grouped["day"].nunique().astype("float64"),
                         "actual_spend": grouped["total"].sum().astype("float64")})


def validate(transactions: pd.DataFrame, segment_of: pd.Series, end: pd.Timestamp, holdout_months: int,
             sample_size: int, seed: int) -> dict[str, Any]:
    """Fit on the history up to the cut-off and score the hold-out months (see the module
    docstring for what is compared)."""
    from scipy.stats import spearmanr

    cutoff = cutoff_date(end, holdout_months)
    history = with_personas(purchase_history(transactions, cutoff), segment_of)
    models = fit_models(history, sample_size, seed)
    days = float((end - cutoff).days)
    predicted = pd.DataFrame({"customer_id": history["customer_id"],
                              "predicted_orders": expected_orders(models, history, days),
                              "order_value": order_values(models, history)})
    predicted["predicted_spend"] = predicted["predicted_orders"] * predicted["order_value"]
    actual = holdout_outcomes(transactions, cutoff, end)
    both = predicted.merge(actual, left_on="customer_id", right_index=True, how="left").fillna(
        {"actual_orders": 0.0, "actual_spend": 0.0})
    # deciles of predicted orders by rank, so ties do not empty a decile
    both["decile"] = np.floor(both["predicted_orders"].rank(method="first") * DECILES / (len(both) + 1)).astype(int) + 1
    rows = []
    for decile, part in both.groupby("decile"):
        pred, act = float(part["predicted_orders"].mean()), float(part["actual_orders"].mean())
        rows.append({"decile": int(decile), "customers": int(len(part)), "predicted_orders": pred,
                     "actual_orders": act, "relative_error": (pred - act) / act if act > 0 else None,
                     "predicted_spend": float(part["predicted_spend"].mean()),
                     "actual_spend": float(part["actual_spend"].mean())})
    errors = [abs(r["relative_error"]) for r in rows if r["relative_error"] is not None]
    rho = spearmanr(both["predicted_spend"], both["actual_spend"]).statistic
    return {
        "cutoff": cutoff.date().isoformat(), "holdout_end": end.date().isoformat(),
        "holdout_months": holdout_months, "holdout_days": int(days), "customers": int(len(both)),
        "fitted_on": models.fitted_on,
        "predicted_orders": float(both["predicted_orders"].sum()),
        "actual_orders": float(both["actual_orders"].sum()),
        "mae_orders": float((both["predicted_orders"] - both["actual_orders"]).abs().mean()),
        "mean_actual_orders": float(both["actual_orders"].mean()),
        "spearman_value_vs_spend": None if np.isnan(rho) else float(rho),
        "max_decile_relative_error": max(errors) if errors else None,
        "calibration": rows,
    }
