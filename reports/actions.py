"""Rule-based suggested actions per persona, read only from a run's saved results.

Each rule looks at numbers that ``results/segments.json`` and ``results/drivers.json`` already hold
(a persona's profile against all customers, its spend and sentiment, its bootstrap stability and
the per-persona SHAP drivers) and, when the numbers say so, proposes one action together with the
evidence: the actual numbers, formatted by :mod:`segment_report.reports.formatting`. Nothing is recomputed from
the customer table. Evidence states associations, never causes.

Rules, in the order they are listed (the order is fixed, so the output is deterministic):

1. ``fix_experience``  sentiment z <= -0.5 (mean positive probability below everyone's)
2. ``win_back``        median days since last order >= 1.5x everyone's and recency z >= 0.5 (for the
                       persona that needs attention in ``clv.json``, the evidence adds its at-risk
                       share and value lost to risk)
3. ``protect``         share of spend >= 15% and >= 1.25x the persona's share of customers
4. ``frequency``       fewer orders than everyone (median below, z <= -0.25) but a higher order
                       value (median above, z >= 0.25)
5. ``basket``          more orders than everyone (median above, z >= 0.25) but a lower order value
                       (median below, z <= -0.25): cross-sell from their anchor category
6. ``driver``          the strongest positive per-persona mean SHAP value, above the noise floor
                       and at least 5% of the persona's mean predicted spend
7. ``provisional``     confidence "low" (bootstrap Jaccard below the medium threshold) or not measured

At most :data:`MAX_ACTIONS` are kept; ``provisional`` is always kept when it fires (it qualifies the
others). When no rule fires, one ``maintain`` action says so with the persona's spend numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from segment_report.pipeline.stages.segments.personas import SLIGHT_Z, TRAIT_Z
from segment_report.pipeline.stages.segments.stability import CONFIDENCE_MEDIUM
from segment_report.reports import formatting as fmt

MAX_ACTIONS = 4

# The persona thresholds, so that an action and the persona's name and description agree:
SENTIMENT_Z = -TRAIT_Z      # "critical" in the persona name
RECENCY_Z = TRAIT_Z         # "lapsed" trait
RECENCY_RATIO = 1.5
SPEND_SHARE_MIN = 0.15
SPEND_SHARE_RATIO = 1.25
# Frequency / order value count as low or high from the smallest difference a persona
# description mentions ("slightly"), not only from a naming trait (TRAIT_Z): the actions pair
# two such differences (rare orders of high value, frequent orders of low value).
MENTION_Z = SLIGHT_Z
DRIVER_MIN_SHARE = 0.05     # of the persona's mean predicted spend


@dataclass(frozen=True)
class Action:
    """One suggested action and the numbers behind it (both display-ready text)."""

    text: str
    evidence: str
    rule: str = ""


# --------------------------------------------------------------------------- helpers

def _num(value: Any) -> float | None:
    """A finite float or None (JSON null, NaN, strings that are not numbers)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _feature(segment: dict[str, Any], name: str) -> tuple[float | None, float | None, float | None]:
    """(persona median, population median, z) of a profile feature; missing pieces are None."""
    vals = ((segment.get("profile") or {}).get("features") or {}).get(name) or {}
    return _num(vals.get("median")), _num(vals.get("population_median")), _num(vals.get("z"))


def _value(v: float | None) -> str:
    """A profile median: whole numbers without decimals, small fractional values with one."""
    if v is None:
        return fmt.MISSING
    if float(v).is_integer() or abs(v) >= 10:
        return fmt.number(v)
    return fmt.number(v, 1)


def _money(v: float | None) -> str:
    return fmt.currency(v, digits=2 if v is not None and abs(v) < 10 else 0)


def _category(name: str) -> str:
    return str(name).replace("_", " ")


# --------------------------------------------------------------------------- rules

def _fix_experience(segment: dict[str, Any]) -> Action | None:
    senti = (segment.get("profile") or {}).get("sentiment") or {}
    mean, pop, z = (_num(senti.get(k)) for k in ("mean_positive_prob", "population_mean_positive_prob", "z"))
    if mean is None or pop is None or z is None or z > SENTIMENT_Z or mean >= pop:
        return None
    parts = [f"Mean review positivity (positive_prob) {fmt.number(mean, 2)} vs {fmt.number(pop, 2)} for all customers "
             f"(z {z:+.2f})"]
    negative = _num(senti.get("mean_share_negative"))
    if negative is not None:
        parts.append(f"{fmt.percent(negative)} of their reviews read as negative on average")
    reviewers = _num(senti.get("share_with_reviews"))
    if reviewers is not None:
        parts.append(f"{fmt.percent(reviewers)} of them wrote a review")
    return Action("Fix their experience before promoting to them: read their reviews for the recurring "
                  "complaint and address it.", "; ".join(parts) + ".", "fix_experience")


def _win_back(segment: dict[str, Any], risk: str = "") -> Action | None:
    med, pop, z = _feature(segment, "recency_days")
    if med is None or pop is None or z is None or z < RECENCY_Z or med < RECENCY_RATIO * pop or med <= pop:
        return None
    return Action("Win them back before they lapse for good: a reactivation offer or reminder.",
                  f"Median {_value(med)} days since their last order vs {_value(pop)} for all customers."
                  + (f" {risk}" if risk else ""), "win_back")


def _protect(segment: dict[str, Any]) -> Action | None:
    spend = (segment.get("profile") or {}).get("spend") or {}
    spend_share, share = _num(spend.get("share_of_total")), _num(segment.get("share"))
    if spend_share is None or share is None or share <= 0:
        return None
    if spend_share < SPEND_SHARE_MIN or spend_share < SPEND_SHARE_RATIO * share:
        return None
    evidence = f"{fmt.percent(spend_share)} of all spend from {fmt.percent(share)} of customers"
    feat_med, pop, _ = _feature(segment, "monetary")
    med = _num(spend.get("median_monetary"))
    med = feat_med if med is None else med
    if med is not None and pop is not None:
        evidence += f"; median spend {_money(med)} vs {_money(pop)} for all customers"
    return Action("Protect and retain them: service levels, loyalty recognition and early access rather "
                  "than discounts.", evidence + ".", "protect")


def _frequency(segment: dict[str, Any]) -> Action | None:
    f_med, f_pop, f_z = _feature(segment, "frequency")
    a_med, a_pop, a_z = _feature(segment, "avg_order_value")
    if None in (f_med, f_pop, f_z, a_med, a_pop, a_z):
        return None
    if not (f_med < f_pop and f_z <= -MENTION_Z and a_med > a_pop and a_z >= MENTION_Z):
        return None
    return Action("Increase how often they buy: replenishment reminders and timed offers in their "
                  "categories.",
                  f"Median {_value(f_med)} orders vs {_value(f_pop)} for all customers, at a median order "
                  f"value of {_money(a_med)} vs {_money(a_pop)}.", "frequency")


def _anchor_and_gap(segment: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Their anchor category (highest lift >= 1, largest share) and the category everyone else
    buys most that they under-buy (largest population share minus their share)."""
    prof = segment.get("profile") or {}
    mix = [c for c in (prof.get("category_mix") or prof.get("top_categories") or [])
           if _num(c.get("mean_share")) is not None and _num(c.get("population_share")) is not None]
    anchors = [c for c in mix if (_num(c.get("lift")) or 0) >= 1.0]
    anchor = max(anchors, key=lambda c: (_num(c["mean_share"]), _num(c.get("lift")) or 0, c["category"]),
                 default=None)
    gaps = [c for c in mix if c is not anchor and _num(c["population_share"]) - _num(c["mean_share"]) > 0.05]
    gap = max(gaps, key=lambda c: (_num(c["population_share"]) - _num(c["mean_share"]), c["category"]),
              default=None)
    return anchor, gap


def _basket(segment: dict[str, Any]) -> Action | None:
    f_med, f_pop, f_z = _feature(segment, "frequency")
    a_med, a_pop, a_z = _feature(segment, "avg_order_value")
    if None in (f_med, f_pop, f_z, a_med, a_pop, a_z):
        return None
    if not (f_med > f_pop and f_z >= MENTION_Z and a_med < a_pop and a_z <= -MENTION_Z):
        return None
    anchor, gap = _anchor_and_gap(segment)
    evidence = (f"Median order value {_money(a_med)} vs {_money(a_pop)} for all customers, at "
                f"{_value(f_med)} orders vs {_value(f_pop)}")
    if anchor is not None and gap is not None:
        text = (f"Build bigger orders: bundles and cross-sell of {_category(gap['category'])} next to "
                f"{_category(anchor['category'])}.")
    elif anchor is not None:
        text = f"Build bigger orders: bundles and add-ons around {_category(anchor['category'])}."
    else:
        text = "Build bigger orders: bundles, add-ons and free-shipping thresholds."
    if anchor is not None:
        lift = _num(anchor.get("lift"))
        evidence += (f"; {_category(anchor['category'])} is {fmt.percent(anchor['mean_share'])} of their spend"
                     + (f" ({lift:.1f}× all customers)" if lift is not None else ""))
    if gap is not None:
        evidence += (f"; {_category(gap['category'])} is {fmt.percent(gap['population_share'])} of all "
                     f"customers' spend but {fmt.percent(gap['mean_share'])} of theirs")
    return Action(text, evidence + ".", "basket")


_DRIVER_TEXT = {
    "frequency": "Keep them ordering often: purchase frequency lifts their predicted spend the most.",
    "recency_days": "Keep them coming back soon: recent ordering lifts their predicted spend the most.",
    "items_per_order": "Keep their baskets full: basket size lifts their predicted spend the most.",
    "tenure_days": "Nurture the relationship: tenure lifts their predicted spend the most.",
}


def _driver_text(feature: str, label: str) -> str:
    if feature in _DRIVER_TEXT:
        return _DRIVER_TEXT[feature]
    for prefix in ("cat_share_", "top_category="):
        if feature.startswith(prefix):
            cat = _category(feature.removeprefix(prefix)).lower()
            return f"Keep {cat} central in what you show them: it lifts their predicted spend the most."
    return f"Build on {label[:1].lower() + label[1:]}: it lifts their predicted spend the most."


def _driver(segment: dict[str, Any], drivers: dict[str, Any] | None) -> Action | None:
    if not drivers or drivers.get("status", "ok") != "ok":
        return None
    entry = next((s for s in drivers.get("segments") or [] if s.get("segment_id") == segment.get("id")), None)
    if not entry:
        return None
    candidates = [d for d in entry.get("drivers") or [] if (_num(d.get("mean_shap")) or 0) > 0]
    if not candidates:
        return None
    best = max(candidates, key=lambda d: (_num(d["mean_shap"]), str(d.get("feature", ""))))
    effect = _num(best["mean_shap"])
    floor = _num((drivers.get("noise_probes") or {}).get("floor")) or 0.0
    base = _num(entry.get("mean_prediction"))
    if effect <= floor or (base is not None and effect < DRIVER_MIN_SHARE * abs(base)):
        return None
    feature = str(best.get("feature", ""))
    label = best.get("label") or feature
    evidence = (f"{label} is associated with +{_money(effect)} of predicted spend per customer in this "
                f"persona (mean SHAP")
    n = _num(entry.get("n_sampled"))
    evidence += f" over {fmt.plural(n, 'customer')} explained)" if n is not None else ")"
    category = _driver_category(segment, feature)
    med, pop, _ = _feature(segment, feature)
    if category is not None:
        evidence += (f"; {_category(category['category'])} is {fmt.percent(category['mean_share'])} of their "
                     f"spend vs {fmt.percent(category['population_share'])} for all customers")
    elif med is not None and pop is not None and not feature.startswith(("cat_share_", "top_category=")):
        evidence += f"; their median {_value(med)} vs {_value(pop)} for all customers"
    return Action(_driver_text(feature, label), evidence + ".", "driver")


def _driver_category(segment: dict[str, Any], feature: str) -> dict[str, Any] | None:
    """The category-mix entry a ``cat_share_*`` / ``top_category=*`` driver is about, if any."""
    if not feature.startswith(("cat_share_", "top_category=")):
        return None
    prof = segment.get("profile") or {}
    key = feature.removeprefix("cat_share_").removeprefix("top_category=").replace("_", " ").lower()
    for entry in prof.get("category_mix") or prof.get("top_categories") or []:
        if (str(entry.get("category", "")).lower() == key or entry.get("column") == feature) \
                and _num(entry.get("mean_share")) is not None and _num(entry.get("population_share")) is not None:
            return entry
    return None


def _provisional(segment: dict[str, Any], population: dict[str, Any] | None) -> Action | None:
    stab = segment.get("stability") or {}
    thresholds = ((population or {}).get("stability") or {}).get("thresholds") or {}
    medium = _num(thresholds.get("medium")) or CONFIDENCE_MEDIUM  # when segments.json has no thresholds
    jaccard = _num(stab.get("jaccard_mean"))
    confidence = stab.get("confidence")
    if jaccard is None:
        if confidence in ("high", "medium"):
            return None
        return Action("Treat this persona as provisional: test any action on a small group first.",
                      "Its stability was not measured (too few customers for the bootstrap).", "provisional")
    if confidence != "low" and jaccard >= medium:
        return None
    evidence = f"Bootstrap Jaccard {fmt.number(jaccard, 2)}"
    low = _num(stab.get("jaccard_min"))
    if low is not None:
        evidence += f" (lowest {fmt.number(low, 2)})"
    evidence += f", below the {fmt.number(medium, 2)} needed for medium confidence."
    return Action("Treat this persona as provisional: test any action on a small group first.", evidence,
                  "provisional")


def _maintain(segment: dict[str, Any]) -> Action:
    spend = (segment.get("profile") or {}).get("spend") or {}
    share, spend_share = _num(segment.get("share")), _num(spend.get("share_of_total"))
    evidence = (f"{fmt.percent(spend_share)} of spend from {fmt.percent(share)} of customers; no spend, recency, "
                "order or sentiment rule fired for them.")
    return Action("Keep them in the regular programme and watch next month's profile.", evidence, "maintain")


def _single_segment(segment: dict[str, Any], population: dict[str, Any] | None) -> bool:
    n = _num((population or {}).get("n_segments"))
    share = _num(segment.get("share"))
    return (n is not None and n <= 1) or (share is not None and share >= 0.999)


# --------------------------------------------------------------------------- public API

def persona_actions(segment: dict[str, Any], population: dict[str, Any] | None = None,
                    drivers: dict[str, Any] | None = None, risk: str = "") -> list[Action]:
    """Suggested actions (1 to :data:`MAX_ACTIONS`) for one ``segments.json`` segment entry.

    Args:
        segment: one entry of ``segments.json["segments"]`` (profile, spend, sentiment, stability).
        population: ``segments.json["summary"]`` (number of segments, stability thresholds), or None.
        drivers: the whole ``drivers.json`` (per-segment SHAP, noise floor), or None.
        risk: for the persona with the largest value lost to risk (``clv.json`` ``attention``),
            its at-risk share and value lost in words, added to the win-back evidence.
    """
    relative = [] if _single_segment(segment, population) else [
        _fix_experience(segment), _win_back(segment, risk), _protect(segment), _frequency(segment), _basket(segment)]
    found = [a for a in (*relative, _driver(segment, drivers)) if a is not None]
    provisional = _provisional(segment, population)
    if provisional is not None:
        found = found[:MAX_ACTIONS - 1] + [provisional]
    return found[:MAX_ACTIONS] or [_maintain(segment)]


def actions_by_segment(segments: dict[str, Any] | None, drivers: dict[str, Any] | None = None
                       ) -> dict[Any, list[Action]]:
    """``{segment id: actions}`` for every segment of a ``segments.json``."""
    if not segments:
        return {}
    population = segments.get("summary")
    return {seg.get("id"): persona_actions(seg, population, drivers) for seg in segments.get("segments") or []}
