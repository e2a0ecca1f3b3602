"""Personas: what each segment looks like, what it is called and a paragraph about it.

Everything here is computed from the data; nothing is keyed to a known generator or to
expected segments. Numbers stay raw (the reports format them).

Profile (:func:`profile_segments`), per segment
    size, share of customers, share of spend; for every numeric feature column the
    segment's median and mean, the population's median, mean and standard deviation, ``z``
    (difference of means divided by the population standard deviation, computed after
    ``log1p`` for money and counts so one big spender cannot dominate) and ``ratio``
    (segment median / population median, ``None`` when the population median is 0);
    top categories (mean ``cat_share_*`` with lift = segment mean / population mean); top
    states (count, share, lift; US customers only); sentiment (mean and median
    ``positive_prob``, mean ``share_negative``, share of customers with a scored review, z);
    spend (total, share of all spend, median and mean ``monetary`` and ``avg_order_value``);
    demographics (gender and income band shares, median age).

Names (:func:`name_segments`) are built by these rules:

1. Traits: for each behavioural/demographic feature in :data:`TRAIT_WORDS` the segment's
   ``z``; a trait counts when ``|z| >= 0.5``. The word is the feature's "high" or "low"
   word (e.g. frequency high -> "loyal", items_per_order high -> "big-basket",
   recency_days low -> "active"). Gender is deliberately never used in names.
2. Noun: the category with the highest lift among those with lift >= 1.5 and a mean share
   >= 0.25 gives "<category> buyers" (two such categories: "<a> and <b> buyers");
   otherwise "buyers".
3. Name = the two strongest traits (by ``|z|``, ties by the order of :data:`TRAIT_WORDS`)
   + noun, capitalised; plus ", very positive" / ", positive" / ", critical" /
   ", very critical" when the sentiment z is >= 1 / >= 0.5 / <= -0.5 / <= -1.
   No trait at all -> "Typical buyers" (or "Typical <category> buyers").
4. Uniqueness: segments are named largest first; a name already taken gets the next
   strongest trait (up to four), then " (segment <id>)". Names carried over from a
   previous run are reserved first.

Descriptions (:func:`describe_segment`) turn the same z-scores into words: |z| >= 1
"much", >= 0.5 plain, >= 0.25 "slightly", smaller differences are not mentioned.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.constants import INCOME_BAND_VALUE, LOG_FEATURES
from segment_report.pipeline.states import CODE_TO_NAME

#: feature -> (word when high, word when low), in tie-break order.
TRAIT_WORDS: dict[str, tuple[str, str]] = {
    "frequency": ("loyal", "occasional"),
    "monetary": ("high-spending", "low-spending"),
    "items_per_order": ("big-basket", "small-basket"),
    "avg_order_value": ("premium", "thrifty"),
    "recency_days": ("lapsed", "active"),
    "tenure_days": ("long-time", "new"),
    "income": ("affluent", "budget"),
    "income_band": ("affluent", "budget"),
    "age": ("older", "younger"),
}
#: feature -> (phrase when high, phrase when low) for descriptions.
PHRASES: dict[str, tuple[str, str]] = {
    "frequency": ("order {m}more often", "order {m}less often"),
    "recency_days": ("last ordered {m}longer ago", "ordered {m}more recently"),
    "monetary": ("spend {m}more in total", "spend {m}less in total"),
    "avg_order_value": ("spend {m}more per order", "spend {m}less per order"),
    "items_per_order": ("buy {m}bigger baskets", "buy {m}smaller baskets"),
    "tenure_days": ("have been customers {m}longer", "are {m}newer customers"),
    "age": ("are {m}older", "are {m}younger"),
    "income": ("have {m}higher incomes", "have {m}lower incomes"),
    "income_band": ("are in {m}higher income bands", "are in {m}lower income bands"),
}
#: |z| that makes a trait (in names; plain wording in descriptions), a "much" / "very" one, and
#: the smallest difference a description mentions ("slightly").
TRAIT_Z = 0.5
STRONG_Z = 1.0
SLIGHT_Z = 0.25
CATEGORY_LIFT = 1.5
CATEGORY_SHARE = 0.25
EXCLUDED_COLUMNS = frozenset({"customer_id", "segment_id", "segment_name", "membership_strength",
                              "was_noise", "umap_x", "umap_y"})


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def category_label(column: str) -> str:
    """``cat_share_home_decor`` -> ``home decor``."""
    return column.removeprefix("cat_share_").replace("_", " ").strip()


def _numeric_columns(customers: pd.DataFrame) -> list[str]:
    cols = []
    for c in customers.columns:
        if c in EXCLUDED_COLUMNS:
            continue
        s = customers[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(c)
    return cols


def _analysis_scale(customers: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    out = {}
    for c in cols:
        x = pd.to_numeric(customers[c], errors="coerce").astype(float)
        if c in LOG_FEATURES:
            x = np.log1p(x.clip(lower=0))
        out[c] = x
    if "income_band" in customers.columns:
        band = customers["income_band"].astype("string").str.lower().map(INCOME_BAND_VALUE)
        out["income_band"] = pd.to_numeric(band, errors="coerce").astype(float)
    return pd.DataFrame(out, index=customers.index)


def profile_segments(customers: pd.DataFrame, segment_ids: np.ndarray | pd.Series,
                     features: list[str] | None = None) -> list[dict[str, Any]]:
    """Describe every segment numerically against the whole population.

    Args:
        customers: the customer feature table (any subset of the documented columns).
        segment_ids: one segment id per row of ``customers``; ``-1`` (unassigned) rows count
            in the population but get no profile.
        features: the columns the segmentation used (recorded as ``clustered_on``).

    Returns:
        One dict per segment, ordered by size (largest first, then id), with the keys
        described in the module docstring plus ``id``, ``size``, ``share``, ``traits``.
    """
    customers = customers.reset_index(drop=True)
    ids = np.asarray(segment_ids, dtype=int)
    n = len(customers)
    num_cols = [c for c in _numeric_columns(customers)]
    raw = customers[num_cols].apply(pd.to_numeric, errors="coerce").astype(float) if num_cols else pd.DataFrame(index=customers.index)
    scaled = _analysis_scale(customers, num_cols)
    pop_mean_s, pop_std_s = scaled.mean(), scaled.std(ddof=0)
    pop_median, pop_mean = raw.median(), raw.mean()
    share_cols = [c for c in num_cols if c.startswith("cat_share_")]
    spend = pd.to_numeric(customers["monetary"], errors="coerce") if "monetary" in customers else None
    total_spend = float(spend.sum()) if spend is not None else None
    states = (customers["state"].astype("string") if "state" in customers.columns else None)
    state_counts_pop = states.value_counts(dropna=True) if states is not None else None
    n_state_pop = int(states.notna().sum()) if states is not None else 0
    has_sentiment = "positive_prob" in customers.columns

    present = sorted({int(i) for i in ids if i != -1}, key=lambda i: (-(ids == i).sum(), i))
    profiles = []
    for sid in present:
        mask = ids == sid
        size = int(mask.sum())
        seg_raw, seg_scaled = raw[mask], scaled[mask]
        feats: dict[str, dict[str, Any]] = {}
        for c in num_cols:
            sd = _f(pop_std_s.get(c))
            z = ((_f(seg_scaled[c].mean()) or 0.0) - (_f(pop_mean_s[c]) or 0.0)) / sd if sd else 0.0
            pmed = _f(pop_median[c])
            smed = _f(seg_raw[c].median())
            feats[c] = {"median": smed, "mean": _f(seg_raw[c].mean()),
                        "population_median": pmed, "population_mean": _f(pop_mean[c]),
                        "population_std": _f(raw[c].std(ddof=0)),
                        "z": _f(z) if seg_raw[c].notna().any() else None,
                        "ratio": (smed / pmed) if (pmed and smed is not None) else None,
                        "missing_share": float(seg_raw[c].isna().mean())}
        if "income_band" in scaled.columns and "income_band" not in feats:
            sd = _f(pop_std_s["income_band"])
            feats["income_band"] = {"z": (((_f(seg_scaled["income_band"].mean()) or 0.0)
                                           - (_f(pop_mean_s["income_band"]) or 0.0)) / sd) if sd else 0.0,
                                    "kind": "ordinal low=-1 medium=0 high=1",
                                    "mean": _f(seg_scaled["income_band"].mean()),
                                    "population_mean": _f(pop_mean_s["income_band"])}
        cats = []
        for c in share_cols:
            m, pm = _f(seg_raw[c].mean()) or 0.0, _f(pop_mean[c]) or 0.0
            cats.append({"category": category_label(c), "column": c, "mean_share": m,
                         "population_share": pm, "lift": (m / pm) if pm > 0 else None})
        cats.sort(key=lambda d: (-d["mean_share"], d["category"]))
        top_states = []
        if states is not None:
            seg_states = states[mask].value_counts(dropna=True)
            n_state = int(seg_states.sum())
            for code, cnt in sorted(seg_states.items(), key=lambda kv: (-kv[1], str(kv[0])))[:5]:
                pop_share = state_counts_pop.get(code, 0) / n_state_pop if n_state_pop else 0.0
                share = cnt / n_state if n_state else 0.0
                top_states.append({"state": str(code), "name": CODE_TO_NAME.get(str(code), str(code)),
                                   "count": int(cnt), "share": float(share),
                                   "lift": float(share / pop_share) if pop_share else None})
        sentiment = None
        if has_sentiment:
            pp = pd.to_numeric(customers.loc[mask, "positive_prob"], errors="coerce")
            reviewed = (~customers.loc[mask, "sentiment_missing"].astype(bool)) if "sentiment_missing" in customers else pp.notna()
            sentiment = {"mean_positive_prob": _f(pp.mean()), "median_positive_prob": _f(pp.median()),
                         "population_mean_positive_prob": _f(pop_mean.get("positive_prob")),
                         "z": feats.get("positive_prob", {}).get("z"),
                         "mean_share_negative": (_f(pd.to_numeric(customers.loc[mask, "share_negative"], errors="coerce").mean())
                                                 if "share_negative" in customers else None),
                         "share_with_reviews": float(reviewed.mean()) if size else None}
        spend_d = None
        if spend is not None:
            seg_spend = spend[mask]
            spend_d = {"total": _f(seg_spend.sum()),
                       "share_of_total": (_f(seg_spend.sum() / total_spend) if total_spend else None),
                       "median_monetary": _f(seg_spend.median()), "mean_monetary": _f(seg_spend.mean()),
                       "median_avg_order_value": (_f(pd.to_numeric(customers.loc[mask, "avg_order_value"], errors="coerce").median())
                                                  if "avg_order_value" in customers else None)}
        demo: dict[str, Any] = {}
        for c in ("gender", "income_band"):
            if c in customers.columns:
                vc = customers.loc[mask, c].astype("string").fillna("unknown").value_counts(normalize=True)
                demo[c] = {str(k): float(v) for k, v in sorted(vc.items(), key=lambda kv: str(kv[0]))}
        if "age" in feats:
            demo["age_median"] = feats["age"]["median"]
        profile = {"id": sid, "size": size, "share": size / n if n else 0.0,
                   "spend_share": spend_d["share_of_total"] if spend_d else None,
                   "clustered_on": list(features) if features is not None else None,
                   "features": feats, "top_categories": cats[:3], "category_mix": cats,
                   "top_states": top_states, "sentiment": sentiment, "spend": spend_d,
                   "demographics": demo}
        profile["traits"] = _traits(profile)
        profiles.append(profile)
    return profiles


def _traits(profile: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for order, (feat, (hi, lo)) in enumerate(TRAIT_WORDS.items()):
        z = (profile["features"].get(feat) or {}).get("z")
        if z is None or abs(z) < TRAIT_Z:
            continue
        if feat == "income_band" and any(t["word"] in (hi, lo) for t in out):
            continue
        out.append({"feature": feat, "z": z, "direction": "high" if z > 0 else "low",
                    "word": hi if z > 0 else lo, "order": order})
    out.sort(key=lambda t: (-abs(t["z"]), t["order"]))
    # income and income_band say the same thing: keep the stronger one only
    seen: set[str] = set()
    unique = []
    for t in out:
        if t["word"] in seen:
            continue
        seen.add(t["word"])
        unique.append(t)
    return unique


def _noun(profile: dict[str, Any]) -> str:
    picks = [c for c in profile["category_mix"]
             if c["lift"] is not None and c["lift"] >= CATEGORY_LIFT and c["mean_share"] >= CATEGORY_SHARE]
    picks.sort(key=lambda c: (-c["lift"], c["category"]))
    if not picks:
        return "buyers"
    if len(picks) >= 2:
        return f"{picks[0]['category']} and {picks[1]['category']} buyers"
    return f"{picks[0]['category']} buyers"


def _sentiment_suffix(profile: dict[str, Any]) -> str:
    z = (profile.get("sentiment") or {}).get("z")
    if z is None:
        return ""
    if z >= STRONG_Z:
        return ", very positive"
    if z >= TRAIT_Z:
        return ", positive"
    if z <= -STRONG_Z:
        return ", very critical"
    if z <= -TRAIT_Z:
        return ", critical"
    return ""


def _compose(words: list[str], noun: str, suffix: str) -> str:
    core = " ".join(words + [noun]) if words else f"typical {noun}"
    return core[0].upper() + core[1:] + suffix


def name_segments(profiles: list[dict[str, Any]], fixed: dict[int, str] | None = None) -> dict[int, str]:
    """Give every segment a unique, readable name by the rules in the module docstring.

    Args:
        profiles: output of :func:`profile_segments` (largest first).
        fixed: names that must be kept (carried over from a previous run), by segment id.

    Returns:
        ``{segment_id: name}`` for every profile; names are unique.
    """
    fixed = dict(fixed or {})
    names: dict[int, str] = {}
    taken: set[str] = set()
    for sid, name in fixed.items():
        if any(p["id"] == sid for p in profiles) and name.lower() not in taken:
            names[sid] = name
            taken.add(name.lower())
    for p in profiles:
        if p["id"] in names:
            continue
        words = [t["word"] for t in p["traits"]]
        noun, suffix = _noun(p), _sentiment_suffix(p)
        chosen = None
        for k in range(min(2, len(words)), min(4, len(words)) + 1):
            candidate = _compose(words[:k], noun, suffix)
            if candidate.lower() not in taken:
                chosen = candidate
                break
        if chosen is None:
            chosen = f"{_compose(words[:2], noun, suffix)} (segment {p['id']})"
        names[p["id"]] = chosen
        taken.add(chosen.lower())
    return names


def _intensity(z: float) -> str | None:
    a = abs(z)
    if a >= STRONG_Z:
        return "much "
    if a >= TRAIT_Z:
        return ""
    if a >= SLIGHT_Z:
        return "slightly "
    return None


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def describe_segment(profile: dict[str, Any]) -> str:
    """One paragraph, in words only (no numbers), saying how a segment differs from everyone.

    Args:
        profile: one item of :func:`profile_segments`.

    Returns:
        The description.
    """
    diffs = []
    for feat, (hi, lo) in PHRASES.items():
        z = (profile["features"].get(feat) or {}).get("z")
        if z is None:
            continue
        m = _intensity(z)
        if m is None:
            continue
        if feat == "income_band" and "income" in profile["features"] and \
                _intensity((profile["features"]["income"] or {}).get("z") or 0.0) is not None:
            continue
        diffs.append((abs(z), (hi if z > 0 else lo).format(m=m)))
    diffs.sort(key=lambda d: -d[0])
    sentences: list[str] = []
    if diffs:
        sentences.append("Compared with the average customer they " + _join([d[1] for d in diffs[:5]]) + ".")
    else:
        sentences.append("On orders, spend and tenure they look much like the average customer.")
    leaning = [c for c in profile["category_mix"] if c["lift"] is not None and c["lift"] >= 1.25]
    if leaning:
        sentences.append("Their spending leans towards " + _join([c["category"] for c in leaning[:3]]) + ".")
    elif profile["top_categories"]:
        sentences.append("Their category mix is close to the average, led by "
                         + profile["top_categories"][0]["category"] + ".")
    sent = profile.get("sentiment")
    if sent is None:
        sentences.append("No review sentiment was available for this run.")
    elif sent.get("z") is not None:
        z = sent["z"]
        m = _intensity(z)
        if m is None:
            sentences.append("Their reviews are about as positive as everyone else's.")
        else:
            sentences.append(f"Their reviews are {m}{'more positive' if z > 0 else 'more critical'} than average.")
    if profile["top_states"]:
        sentences.append("Their largest states are " + _join([s["name"] for s in profile["top_states"][:3]]) + ".")
    return " ".join(sentences)
