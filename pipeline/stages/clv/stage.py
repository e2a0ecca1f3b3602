"""Churn risk and customer lifetime value: per customer and per persona, with the time-split
check and the change since last month.

``results/clv.json`` (numbers only; ``reports`` words them):

- ``status``: ``fitted`` or ``skipped`` (then ``notes`` say why and nothing else is filled in)
- ``settings``: horizon, discount, at-risk threshold, hold-out months
- ``history``: first and last day of the purchase history, its months, customers, repeat customers
- ``model``: the models, the library version, the fitted parameters and how many customers they saw
- ``totals`` and ``segments`` (one entry per persona): customers, ``at_risk`` (count whose
  probability of still being active is below ``at_risk_below``) and its share, mean
  ``p_active``, ``expected_orders`` and ``expected_value`` (sum of CLV over the horizon),
  ``value_lost_to_risk`` (what the customers would add over the horizon if every one were
  certainly still active, less their CLV: sum of ``clv * (1 - p) / p``) and, with last month's
  run, ``change`` (at-risk share in points, expected value in %)
- ``attention``: the persona with the largest value lost to risk
- ``validation``: see ``validation.py``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.config import ClvConfig
from segment_report.pipeline.stages.clv.model import fit_models, purchase_history, score_customers, with_personas
from segment_report.pipeline.stages.clv.validation import validate
from segment_report.pipeline.stages.findings import note

NOTE_CODES = ("clv_disabled", "clv_short_history", "clv_few_repeat_customers", "clv_no_previous")
SCORE_COLUMNS = ("p_active", "expected_orders", "clv")
#: p below this counts as 0 when the value lost to risk divides by p
_P_FLOOR = 1e-9


@dataclass
class ClvResult:
    """``doc`` for ``results/clv.json`` and ``scores``: one row per customer of the run with
    ``p_active``, ``expected_orders`` and ``clv`` (empty when skipped)."""

    doc: dict[str, Any]
    scores: pd.DataFrame


def _skipped(cfg: ClvConfig, history: dict[str, Any], code: str, **params: Any) -> ClvResult:
    doc = {"status": "skipped", "settings": _settings(cfg, cfg.holdout_months), "history": history,
           "notes": [note(code, **params)]}
    return ClvResult(doc, pd.DataFrame(columns=["customer_id", *SCORE_COLUMNS]))


def _settings(cfg: ClvConfig, holdout: int) -> dict[str, Any]:
    return {"horizon_months": cfg.horizon_months, "monthly_discount_rate": cfg.monthly_discount_rate,
            "at_risk_below": cfg.at_risk_below, "holdout_months": holdout,
            "min_history_months": cfg.min_history_months, "min_repeat_customers": cfg.min_repeat_customers,
            "time_unit": "week"}


def _group_numbers(scores: pd.DataFrame, threshold: float) -> dict[str, Any]:
    p = scores["p_active"].to_numpy()
    value = scores["clv"].to_numpy()
    at_risk = int((p < threshold).sum())
    lost = value * (1.0 - p) / np.maximum(p, _P_FLOOR)
    n = len(scores)
    return {"customers": int(n), "at_risk": at_risk, "at_risk_share": at_risk / n if n else None,
            "mean_p_active": float(p.mean()) if n else None,
            "expected_orders": float(scores["expected_orders"].sum()),
            "expected_value": float(value.sum()), "value_per_customer": float(value.mean()) if n else None,
            "value_lost_to_risk": float(lost[p >= _P_FLOOR].sum())}


def _change(now: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any] | None:
    if before is None or not before["customers"]:
        return None
    return {"at_risk_share_points": 100.0 * (now["at_risk_share"] - before["at_risk_share"]),
            "expected_value_pct": (100.0 * (now["expected_value"] / before["expected_value"] - 1.0)
                                   if before["expected_value"] > 0 else None),
            "previous_at_risk_share": before["at_risk_share"], "previous_expected_value": before["expected_value"]}


def _previous_numbers(previous: pd.DataFrame | None, threshold: float) -> dict[Any, dict[str, Any]] | None:
    """Last month's totals (key ``None``) and per-persona numbers, from its customer table."""
    if previous is None or not set(SCORE_COLUMNS) <= set(previous.columns):
        return None
    scored = previous.dropna(subset=list(SCORE_COLUMNS))
    if scored.empty:
        return None
    out: dict[Any, dict[str, Any]] = {None: _group_numbers(scored, threshold)}
    if "segment_id" in scored:
        for sid, part in scored.groupby("segment_id"):
            out[int(sid)] = _group_numbers(part, threshold)
    return out


def estimate_clv(transactions: pd.DataFrame, segments: pd.DataFrame, end: pd.Timestamp, cfg: ClvConfig,
                 seed: int, previous_customers: pd.DataFrame | None = None) -> ClvResult:
    """Fit the models on every customer's purchase history up to ``end`` (the window's last
    day), score the run's customers (``segments``: customer_id, segment_id, segment_name) and
    sum them up per persona; check the models on a time split. See the module docstring."""
    from importlib.metadata import version

    first = transactions["date"].min().normalize() if len(transactions) else end
    months = (pd.Period(end, freq="M") - pd.Period(first, freq="M")).n + 1
    known = {"first_date": first.date().isoformat(), "last_date": end.date().isoformat(), "months": int(months)}
    if not cfg.enabled:
        return _skipped(cfg, known, "clv_disabled")
    if months < cfg.min_history_months:
        return _skipped(cfg, known, "clv_short_history", months=int(months), needed=cfg.min_history_months)
    segment_of = segments.set_index("customer_id")["segment_id"]
    history = with_personas(purchase_history(transactions, end), segment_of)
    repeat = int((history["frequency"] > 0).sum())
    known.update(customers=int(len(history)), repeat_customers=repeat)
    if repeat < cfg.min_repeat_customers:
        return _skipped(cfg, known, "clv_few_repeat_customers", customers=repeat, needed=cfg.min_repeat_customers)

    holdout = cfg.holdout_for(int(months))
    models = fit_models(history, cfg.fit_sample_size, seed)
    scored = score_customers(models, history, cfg.horizon_months, cfg.monthly_discount_rate)
    run = segments[["customer_id", "segment_id", "segment_name"]].merge(scored, on="customer_id", how="inner")
    before = _previous_numbers(previous_customers, cfg.at_risk_below)
    totals = _group_numbers(run, cfg.at_risk_below)
    totals["change"] = _change(totals, before.get(None) if before else None)
    per_segment = []
    for (sid, name), part in run.groupby(["segment_id", "segment_name"], sort=True):
        numbers = _group_numbers(part, cfg.at_risk_below)
        numbers["change"] = _change(numbers, before.get(int(sid)) if before else None)
        per_segment.append({"segment_id": int(sid), "segment_name": str(name), **numbers})
    attention = max(per_segment, key=lambda s: s["value_lost_to_risk"], default=None)
    doc = {
        "status": "fitted", "settings": _settings(cfg, holdout), "history": known,
        "model": {"library": f"pymc-marketing {version('pymc-marketing')}", "fit": "MAP",
                  "orders": type(models.orders).__name__, "spend": type(models.spend).__name__,
                  "covariates": "persona (purchase and dropout rates)",
                  "fitted_on": models.fitted_on, "spend_fitted_on": models.spend_fitted_on,
                  "parameters": models.parameters()},
        "totals": totals, "segments": per_segment,
        "attention": None if attention is None else {"segment_id": attention["segment_id"],
                                                     "segment_name": attention["segment_name"]},
        "validation": validate(transactions, segment_of, end, holdout, cfg.fit_sample_size, seed),
        "notes": [] if before is not None else [note("clv_no_previous")],
    }
    return ClvResult(doc, run[["customer_id", *SCORE_COLUMNS]].reset_index(drop=True))
