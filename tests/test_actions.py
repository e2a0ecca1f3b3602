"""Rule-based persona actions: each rule fires when its numbers say so and only then, the evidence
quotes the input numbers, and missing pieces (no sentiment, no drivers, one segment) never crash."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from segment_report.reports.actions import MAX_ACTIONS, Action, actions_by_segment, persona_actions


def _feature(median: float, population_median: float, z: float) -> dict[str, float]:
    return {"median": median, "population_median": population_median, "z": z}


def segment(**changes: Any) -> dict[str, Any]:
    """A persona that is average in every respect (no rule fires); ``changes`` are dotted paths."""
    seg: dict[str, Any] = {
        "id": 1, "name": "Average buyers", "size": 500, "share": 0.25,
        "profile": {
            "features": {
                "recency_days": _feature(15, 15, 0.0),
                "frequency": _feature(4, 4, 0.0),
                "monetary": _feature(400, 400, 0.0),
                "avg_order_value": _feature(90, 90, 0.0),
                "items_per_order": _feature(2.2, 2.2, 0.0),
            },
            "spend": {"share_of_total": 0.25, "median_monetary": 400.0, "median_avg_order_value": 90.0},
            "sentiment": {"mean_positive_prob": 0.55, "population_mean_positive_prob": 0.55, "z": 0.0,
                          "mean_share_negative": 0.2, "share_with_reviews": 0.6},
            "category_mix": [
                {"category": "grocery", "mean_share": 0.5, "population_share": 0.2, "lift": 2.5},
                {"category": "clothing", "mean_share": 0.1, "population_share": 0.4, "lift": 0.25},
                {"category": "books", "mean_share": 0.4, "population_share": 0.4, "lift": 1.0},
            ],
        },
        "stability": {"jaccard_mean": 0.9, "jaccard_min": 0.85, "confidence": "high"},
    }
    for path, value in changes.items():
        node = seg
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return seg


def rules(actions: list[Action]) -> list[str]:
    return [a.rule for a in actions]


def drivers_for(*drivers: tuple[str, str, float], mean_prediction: float = 400.0, floor: float = 2.0,
                status: str = "ok") -> dict[str, Any]:
    return {"status": status, "noise_probes": {"floor": floor},
            "segments": [{"segment_id": 1, "n_sampled": 120, "mean_prediction": mean_prediction,
                          "drivers": [{"feature": f, "label": label, "mean_shap": v} for f, label, v in drivers]}]}


def test_average_persona_gets_one_maintain_action():
    actions = persona_actions(segment())
    assert rules(actions) == ["maintain"]
    assert "25% of spend from 25% of customers" in actions[0].evidence


def test_protect_fires_on_a_large_share_of_spend():
    seg = segment(share=0.19, profile__spend={"share_of_total": 0.30, "median_monetary": 772.0})
    seg["profile"]["features"]["monetary"] = _feature(772, 428, 0.8)
    action = next(a for a in persona_actions(seg) if a.rule == "protect")
    assert action.text.startswith("Protect")
    assert "30% of all spend from 19% of customers" in action.evidence
    assert "$772 vs $428" in action.evidence


@pytest.mark.parametrize("spend_share, share", [(0.22, 0.20), (0.12, 0.05)])
def test_protect_needs_a_material_and_outsized_share(spend_share, share):
    seg = segment(share=share, profile__spend={"share_of_total": spend_share, "median_monetary": 400.0})
    assert "protect" not in rules(persona_actions(seg))


def test_fix_experience_cites_mean_positive_prob_against_everyone():
    seg = segment(profile__sentiment={"mean_positive_prob": 0.1, "population_mean_positive_prob": 0.55,
                                      "z": -1.5, "mean_share_negative": 0.63, "share_with_reviews": 0.97})
    action = persona_actions(seg)[0]
    assert action.rule == "fix_experience"
    assert "0.10 vs 0.55" in action.evidence
    assert "63%" in action.evidence and "97%" in action.evidence


def test_fix_experience_not_for_about_average_sentiment():
    seg = segment(profile__sentiment={"mean_positive_prob": 0.5, "population_mean_positive_prob": 0.55,
                                      "z": -0.3})
    assert "fix_experience" not in rules(persona_actions(seg))


def test_win_back_on_high_recency():
    seg = segment()
    seg["profile"]["features"]["recency_days"] = _feature(74, 31, 0.9)
    action = next(a for a in persona_actions(seg) if a.rule == "win_back")
    assert action.text.startswith("Win them back")
    assert action.evidence == "Median 74 days since their last order vs 31 for all customers."


def test_no_win_back_for_slightly_older_orders():
    seg = segment()
    seg["profile"]["features"]["recency_days"] = _feature(40, 31, 0.2)
    assert "win_back" not in rules(persona_actions(seg))


def test_frequency_for_rare_but_large_orders():
    seg = segment()
    seg["profile"]["features"]["frequency"] = _feature(2, 4, -0.6)
    seg["profile"]["features"]["avg_order_value"] = _feature(216, 93, 1.0)
    action = next(a for a in persona_actions(seg) if a.rule == "frequency")
    assert "Median 2 orders vs 4" in action.evidence
    assert "$216 vs $93" in action.evidence
    assert "basket" not in rules(persona_actions(seg))


def test_no_frequency_action_when_orders_are_rare_and_small():
    seg = segment()
    seg["profile"]["features"]["frequency"] = _feature(2, 4, -0.6)
    seg["profile"]["features"]["avg_order_value"] = _feature(60, 93, -0.8)
    assert not {"frequency", "basket"} & set(rules(persona_actions(seg)))


def test_basket_for_frequent_small_orders_uses_category_lift():
    seg = segment()
    seg["profile"]["features"]["frequency"] = _feature(6, 4, 0.8)
    seg["profile"]["features"]["avg_order_value"] = _feature(74, 93, -0.6)
    action = next(a for a in persona_actions(seg) if a.rule == "basket")
    assert "clothing next to grocery" in action.text
    assert "$74 vs $93" in action.evidence and "6 orders vs 4" in action.evidence
    assert "grocery is 50% of their spend (2.5× all customers)" in action.evidence
    assert "clothing is 40% of all customers' spend but 10% of theirs" in action.evidence
    assert "frequency" not in rules(persona_actions(seg))


def test_basket_without_category_mix_still_works():
    seg = segment()
    seg["profile"]["features"]["frequency"] = _feature(6, 4, 0.8)
    seg["profile"]["features"]["avg_order_value"] = _feature(74, 93, -0.6)
    seg["profile"].pop("category_mix")
    action = next(a for a in persona_actions(seg) if a.rule == "basket")
    assert action.evidence.startswith("Median order value $74 vs $93")


def test_strongest_positive_driver_named_with_its_shap():
    drivers = drivers_for(("recency_days", "Days since last order", -137.0),
                          ("frequency", "Purchase frequency", 103.0),
                          ("items_per_order", "Basket size (items per order)", 44.0))
    seg = segment()
    seg["profile"]["features"]["frequency"] = _feature(6, 4, 0.8)
    action = next(a for a in persona_actions(seg, None, drivers) if a.rule == "driver")
    assert "purchase frequency" in action.text
    assert "Purchase frequency is associated with +$103" in action.evidence
    assert "120 customers" in action.evidence
    assert "their median 6 vs 4" in action.evidence


def test_category_driver_cites_category_shares():
    drivers = drivers_for(("cat_share_grocery", "Share of spend on grocery", 80.0))
    action = next(a for a in persona_actions(segment(), None, drivers) if a.rule == "driver")
    assert "Keep grocery central" in action.text
    assert "grocery is 50% of their spend vs 20% for all customers" in action.evidence


@pytest.mark.parametrize("drivers", [
    drivers_for(("frequency", "Purchase frequency", -50.0)),                     # only negative
    drivers_for(("frequency", "Purchase frequency", 10.0), mean_prediction=400),  # < 5% of $400
    drivers_for(("frequency", "Purchase frequency", 1.5), mean_prediction=10),    # within noise
    drivers_for(("frequency", "Purchase frequency", 103.0), status="skipped"),    # no value model
    {"status": "ok", "segments": []},                                            # persona missing
    None,
])
def test_no_driver_action_without_a_clear_positive_driver(drivers):
    assert "driver" not in rules(persona_actions(segment(), None, drivers))


def test_provisional_quotes_the_jaccard_and_comes_last():
    seg = segment(stability={"jaccard_mean": 0.5, "jaccard_min": 0.38, "confidence": "low"})
    seg["profile"]["features"]["recency_days"] = _feature(74, 31, 0.9)
    actions = persona_actions(seg, {"n_segments": 6, "stability": {"thresholds": {"medium": 0.6}}})
    assert rules(actions) == ["win_back", "provisional"]
    assert actions[-1].text.startswith("Treat this persona as provisional")
    assert "Bootstrap Jaccard 0.50 (lowest 0.38)" in actions[-1].evidence
    assert "0.60" in actions[-1].evidence


def test_provisional_when_stability_not_measured_but_not_for_stable_personas():
    unmeasured = segment(stability={"jaccard_mean": None, "confidence": None})
    assert "not measured" in persona_actions(unmeasured)[-1].evidence
    assert "provisional" not in rules(persona_actions(segment()))
    medium = segment(stability={"jaccard_mean": 0.66, "jaccard_min": 0.58, "confidence": "medium"})
    assert "provisional" not in rules(persona_actions(medium))


def test_at_most_four_in_a_fixed_order_and_provisional_kept():
    seg = segment(share=0.1, stability={"jaccard_mean": 0.4, "confidence": "low"},
                  profile__spend={"share_of_total": 0.3, "median_monetary": 900.0},
                  profile__sentiment={"mean_positive_prob": 0.1, "population_mean_positive_prob": 0.55,
                                      "z": -1.5})
    seg["profile"]["features"]["recency_days"] = _feature(74, 31, 0.9)
    seg["profile"]["features"]["frequency"] = _feature(2, 4, -0.6)
    seg["profile"]["features"]["avg_order_value"] = _feature(216, 93, 1.0)
    drivers = drivers_for(("frequency", "Purchase frequency", 103.0))
    actions = persona_actions(seg, {"n_segments": 5}, drivers)
    assert len(actions) == MAX_ACTIONS
    assert rules(actions) == ["fix_experience", "win_back", "protect", "provisional"]
    assert persona_actions(copy.deepcopy(seg), {"n_segments": 5}, drivers) == actions


def test_missing_sentiment_drivers_and_profile_do_not_crash():
    seg = segment()
    seg["profile"]["sentiment"] = {"mean_positive_prob": None, "z": None, "share_with_reviews": 0.0}
    assert rules(persona_actions(seg, None, None)) == ["maintain"]
    bare = {"id": 9, "name": "Bare", "share": None, "profile": {}, "stability": {}}
    actions = persona_actions(bare)
    assert 1 <= len(actions) <= MAX_ACTIONS
    assert all(isinstance(a.text, str) and isinstance(a.evidence, str) for a in actions)
    assert persona_actions({"id": 10})


def test_single_segment_makes_no_comparisons_with_itself():
    seg = segment(share=1.0, profile__spend={"share_of_total": 1.0, "median_monetary": 400.0})
    seg["profile"]["features"]["recency_days"] = _feature(74, 31, 0.9)  # would be win-back
    actions = persona_actions(seg, {"n_segments": 1})
    assert rules(actions) == ["maintain"]


def test_no_causal_wording():
    drivers = drivers_for(("frequency", "Purchase frequency", 103.0))
    seg = segment()
    seg["profile"]["features"]["frequency"] = _feature(6, 4, 0.8)
    seg["profile"]["features"]["avg_order_value"] = _feature(74, 93, -0.6)
    for action in persona_actions(seg, None, drivers):
        words = (action.text + " " + action.evidence).lower()
        assert not any(w in words for w in ("causes", "caused", "because", "leads to", "results in"))
    driver = next(a for a in persona_actions(seg, None, drivers) if a.rule == "driver")
    assert "associated with" in driver.evidence


def test_actions_by_segment_keys_by_id():
    other = segment(id=2)
    out = actions_by_segment({"summary": {"n_segments": 2}, "segments": [segment(), other]}, None)
    assert list(out) == [1, 2]
    assert actions_by_segment(None) == {}
