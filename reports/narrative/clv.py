"""Words for churn risk and customer lifetime value (``results/clv.json``).

The CLV stage stores numbers only (see ``segment_report.pipeline.stages.clv.stage``); every
sentence the reports show about them is written here, with the numbers formatted by
``segment_report.reports.formatting``. Skip reasons are the stage's notes, worded in
:mod:`segment_report.reports.narrative.notes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segment_report.reports import formatting as fmt
from segment_report.reports.narrative.notes import note_text

#: Notes that say why the stage did not fit its models.
SKIP_CODES = ("clv_disabled", "clv_short_history", "clv_few_repeat_customers")

#: What the page says about a run made before the CLV stage existed (no ``clv.json``).
NOT_IN_RUN = ("This run has no churn-risk and lifetime-value results (results/clv.json): it was made "
              "before the CLV stage existed. Re-run the period to add them.")


def horizon_words(settings: Mapping[str, Any]) -> str:
    """``the next 6 months``."""
    return f"the next {fmt.plural(settings['horizon_months'], 'month')}"


def threshold_words(settings: Mapping[str, Any]) -> str:
    """``probability of still being active below 50%``."""
    return f"probability of still being active below {fmt.percent(settings['at_risk_below'])}"


def skipped_reason(doc: Mapping[str, Any] | None) -> str:
    """Why there are no CLV numbers: the skip note in words, or that the run predates the stage."""
    if doc is None:
        return NOT_IN_RUN
    reasons = [note_text(n) for n in doc.get("notes", []) if n["code"] in SKIP_CODES]
    return " ".join(reasons) or "Churn risk and lifetime value were not estimated this run."


def risk_sentence(group: Mapping[str, Any], settings: Mapping[str, Any], who: str = "this persona") -> str:
    """``38% of this persona is at risk (probability of still being active below 50%); $1.2M
    expected over the next 6 months; $210k lost to risk.``"""
    return (f"{fmt.percent(group['at_risk_share'])} of {who} is at risk ({threshold_words(settings)}); "
            f"{fmt.compact_currency(group['expected_value'])} expected over {horizon_words(settings)}; "
            f"{fmt.compact_currency(group['value_lost_to_risk'])} lost to risk.")


def _points(points: float) -> str:
    """A change in percentage points: ``up 2.1 points``, ``about unchanged``."""
    if abs(points) < 0.05:
        return "about unchanged"
    return f"{'up' if points > 0 else 'down'} {fmt.number(abs(points), 1)} points"


def _pct(pct: float | None) -> str:
    if pct is None:
        return "not comparable (no expected value last month)"
    if abs(pct) < 0.5:
        return "about unchanged"
    return f"{'up' if pct > 0 else 'down'} {fmt.percent(abs(pct) / 100, 1 if abs(pct) < 10 else 0)}"


def change_sentence(change: Mapping[str, Any] | None, versus: str = "last month") -> str:
    """``Since September 2026: at-risk share up 2.1 points (from 36%), expected value down 4%
    (from $1.3M).`` Empty without last month's numbers."""
    if not change:
        return ""
    return (f"Since {versus}: at-risk share {_points(change['at_risk_share_points'])} (from "
            f"{fmt.percent(change['previous_at_risk_share'])}), expected value "
            f"{_pct(change.get('expected_value_pct'))} (from "
            f"{fmt.compact_currency(change['previous_expected_value'])}).")


def change_cells(change: Mapping[str, Any] | None) -> tuple[str, str]:
    """The change in two table cells: at-risk share in points and expected value in %:
    ``("▲ 2.1 pts", "▼ 4.0%")``; en dashes without last month's numbers."""
    if not change:
        return fmt.MISSING, fmt.MISSING
    value = change.get("expected_value_pct")
    return (fmt.delta(change["at_risk_share_points"] / 100, "points", 1),
            fmt.delta(value / 100, "percent", 1) if value is not None else fmt.MISSING)


def totals_sentence(totals: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """The whole customer base in one sentence, for the value page's lead."""
    return (f"{fmt.number(totals['customers'])} customers are expected to bring "
            f"{fmt.compact_currency(totals['expected_value'])} over {horizon_words(settings)} "
            f"({fmt.currency(totals['value_per_customer'])} per customer). "
            f"{fmt.number(totals['at_risk'])} of them ({fmt.percent(totals['at_risk_share'])}) are at risk "
            f"({threshold_words(settings)}); if every customer were certainly still active they would add "
            f"another {fmt.compact_currency(totals['value_lost_to_risk'])}: the value lost to risk.")


def value_at_risk_sentence(totals: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """Page 1 of the executive PDF: ``$193k of value lost to risk over the next 6 months: 19% of
    customers are at risk (probability of still being active below 50%).``"""
    return (f"{fmt.compact_currency(totals['value_lost_to_risk'])} of value lost to risk over "
            f"{horizon_words(settings)}: {fmt.percent(totals['at_risk_share'])} of customers are at risk "
            f"({threshold_words(settings)}).")


def attention_sentence(group: Mapping[str, Any], totals: Mapping[str, Any]) -> str:
    """Page 1: the persona with the largest value lost to risk: ``Needs attention: Lapsed
    buyers (100% at risk, $192k lost, 99% of the total).``"""
    share = (group["value_lost_to_risk"] / totals["value_lost_to_risk"]
             if totals.get("value_lost_to_risk") else None)
    return (f"Needs attention: {group['segment_name']} ({fmt.percent(group['at_risk_share'])} at risk, "
            f"{fmt.compact_currency(group['value_lost_to_risk'])} lost"
            + (f", {fmt.percent(share)} of the total)." if share is not None else ")."))


def attention_evidence(group: Mapping[str, Any], settings: Mapping[str, Any]) -> str:
    """Evidence for the win-back action of the persona that needs attention: ``100% of them are
    at risk (probability of still being active below 50%), $192k lost to risk over the next 6
    months, the most of any persona.``"""
    return (f"{fmt.percent(group['at_risk_share'])} of them are at risk ({threshold_words(settings)}): "
            f"{fmt.compact_currency(group['value_lost_to_risk'])} lost to risk over {horizon_words(settings)}, "
            "the most of any persona.")


# --------------------------------------------------------------------------- validation

def validation_rows(v: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The time-split check: (measure, value, what it means) for each number."""
    days = fmt.plural(v["holdout_days"], "day")
    rows = [
        ("Cut-off", fmt.date(v["cutoff"]),
         f"the models were refitted on purchases up to this day and predicted the "
         f"{fmt.plural(v['holdout_months'], 'month')} after it ({days}, to {fmt.date(v['holdout_end'])}) "
         f"for the {fmt.number(v['customers'])} customers who had bought before it"),
        ("Purchase days, predicted vs actual", f"{fmt.number(v['predicted_orders'])} vs {fmt.number(v['actual_orders'])}",
         "all those customers' expected purchase days in the hold-out months against the days they "
         "actually bought on"),
        ("Mean absolute error of expected orders", fmt.number(v["mae_orders"], 2),
         f"the typical miss for one customer, in purchase days (they bought on "
         f"{fmt.number(v['mean_actual_orders'], 2)} days on average in the hold-out)"),
        ("Spearman correlation, predicted value vs hold-out spend", fmt.number(v.get("spearman_value_vs_spend"), 2),
         "how well the predicted value ranks customers by what they then spent: 1 is the same order, "
         "0 no better than chance"),
        ("Largest decile error", fmt.percent(v.get("max_decile_relative_error"), 1),
         "customers are cut into ten deciles of predicted orders; this is the worst gap between a decile's "
         "mean predicted and mean actual purchase days, relative to the actual"),
    ]
    return rows


def calibration_caption() -> str:
    """The calibration figure's caption (site and Quarto)."""
    return ("Time-split check: mean predicted against mean actual purchase days per customer in the "
            "hold-out months, by decile of predicted orders (1 = customers expected to buy least). The "
            "closer the two lines, the better calibrated the model.")


VALIDATION_CAVEAT = ("Caveat: the personas used as covariates were found on the whole window, hold-out months "
                     "included, so the check knows a little more about who belongs to a lapsing persona than "
                     "a forecast made at the cut-off would; read it as slightly optimistic.")


# --------------------------------------------------------------------------- methodology

def method_sentences(doc: Mapping[str, Any] | None) -> list[str]:
    """The methodology paragraph on churn risk and lifetime value (the skip reason when there
    are no numbers)."""
    if doc is None:
        return [NOT_IN_RUN]
    s = doc["settings"]
    discount = s.get("monthly_discount_rate") or 0
    lines = [
        ("Churn risk and lifetime value come from two models from pymc-marketing, fitted by maximum a "
         "posteriori (MAP) estimation on every customer's purchase history up to the window's last day: a "
         "Modified BG/NBD model for how often a customer buys and whether they have silently stopped, and a "
         "Gamma-Gamma model for how much they spend per order (fitted on customers who bought more than once). "
         "The persona is a covariate of the purchase and dropout rates, so each persona has its own. Orders are "
         "counted as purchase days: several orders on one day count once."),
        ("p_active is the probability that a customer is still active at the end of the window; "
         f"expected_orders is the purchase days expected over {horizon_words(s)}; clv is the expected spend "
         "over those months (expected orders × expected order value"
         + (f", discounted by {fmt.percent(discount, 1)} a month)." if discount else ", not discounted).")),
        (f"A customer is at risk when p_active is below {fmt.percent(s['at_risk_below'])}. Value lost to risk "
         "is what the customers would add over the horizon if every one were certainly still active, less "
         "their CLV. The change since last month compares with last month's run's customers, scored the same way."),
        (f"Time-split check: the models are refitted on the history up to {fmt.plural(s['holdout_months'], 'month')} "
         "before the window's end and their predictions for those months are compared with what the customers "
         "did (calibration by decile, mean absolute error of expected orders, Spearman rank correlation of "
         "predicted value with realised spend). " + VALIDATION_CAVEAT),
        ("The stage is skipped when it is switched off (clv.enabled), when the purchase history is shorter than "
         f"{fmt.plural(s['min_history_months'], 'month')} or when fewer than "
         f"{fmt.number(s['min_repeat_customers'])} customers bought on more than one day."),
    ]
    if doc["status"] == "skipped":
        lines.append(f"This run: {skipped_reason(doc)}")
    else:
        m = doc.get("model") or {}
        lines.append(f"This run: {m.get('library', 'pymc-marketing')}, purchase model fitted on "
                     f"{fmt.plural(m.get('fitted_on'), 'customer')}, spend model on "
                     f"{fmt.plural(m.get('spend_fitted_on'), 'repeat customer')}; history "
                     f"{fmt.date(doc['history']['first_date'])} – {fmt.date(doc['history']['last_date'])} "
                     f"({fmt.plural(doc['history']['months'], 'month')}).")
    return lines
