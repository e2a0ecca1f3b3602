"""Sentences from the drivers findings (``drivers.json`` ``findings``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from segment_report.reports import formatting as fmt
from segment_report.reports.narrative.sentence import Sentence, sentence

_money = fmt.rounded_currency  # amounts as stored, with the currency symbol in force
_OP_WORDS = {"<=": "at or below", "<": "below", ">=": "at or above", ">": "above"}



def mid_sentence(label: str) -> str:
    """A label as it reads after the start of a sentence: ``Days since last order`` -> ``days
    since last order``; labels that start with an acronym (``US customer``) stay as they are."""
    return label[:1].lower() + label[1:] if label[:2] != label[:2].upper() else label


def quantity_phrase(label: str) -> str:
    """A feature label as a quantity mid-sentence: ``Share of spend on electronics`` ->
    ``a share of spend on electronics``, ``Days since last order`` -> ``days since last order``."""
    if label.startswith("Share of spend on "):
        return "a " + mid_sentence(label)
    return mid_sentence(label)


def _too_few(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    n = f["numbers"]
    return sentence(f, f"Only {fmt.rounded(n['n'])} customers have a {report['target_label']} "
                       f"value, fewer than the {fmt.rounded(n['min'])} needed for a reliable value "
                       "model, so no drivers were estimated.")


def _constant(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    what = report["target_label"]
    return sentence(f, f"{what.capitalize()} is the same for every customer "
                       f"({_money(f['numbers']['value'])}), so there is nothing to explain: no "
                       "value model was fitted.", [what])


def _no_features(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    what = report["target_label"]
    return sentence(f, f"No usable feature is left to explain {what}, so no value model was "
                       "fitted.", [what])


def _excluded(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    label = report["features"]["labels"][report["leakage"]["excluded"][f["refs"]["leakage"]]["feature"]]
    return sentence(f, f"{label} was left out of the value model as configured "
                       "(drivers.exclude_features).", [label])


def _leakage(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    entry = report["leakage"]["excluded"][f["refs"]["leakage"]]
    label, target = report["features"]["labels"][entry["feature"]], report["target"]
    score = fmt.rounded(f["numbers"]["score"])
    if entry["relation"] == "single":
        return sentence(f, f"{label} was left out of the value model: on its own it rebuilds "
                           f"{target} almost exactly (score {score}).", [label, target])
    return sentence(f, f"{label} was left out of the value model: its {entry['relation']} with "
                       f"{entry['partner']} rebuilds {target} almost exactly (score {score}), so "
                       "keeping both would leak the answer into the model.",
                    [label, entry["partner"], target])


def _model(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    n = f["numbers"]
    r2 = n["r2"]
    quality = ("explains most of" if r2 >= 0.6 else "explains part of" if r2 >= 0.3
               else "explains little of")
    tail = ("." if r2 >= 0.3 else "; the drivers below are weak associations, read them "
            "with care.")
    return sentence(f, f"A random forest trained on {fmt.rounded(n['n_train'])} customers "
                       f"{quality} the variation in {report['target_label']} among "
                       f"{fmt.rounded(n['n_test'])} "
                       f"held-out customers (R² {fmt.rounded(r2)}, typical error "
                       f"{_money(n['mae'])} against {_money(n['mae_baseline'])} when "
                       f"predicting the average){tail}")


def _driver(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    """One of the four driver kinds: a driver, or why a top-ranked feature is not one."""
    i = f["refs"]["feature"]
    g = report["global_importance"][i]
    n, kind, what = f["numbers"], f["kind"], report["target_label"]
    percent = "%" if "threshold_percent" in g["rounded"] else ""
    quantity = quantity_phrase(g["label"])
    labels = [g["label"], g["feature"], quantity]
    verb = f"ranks #{n['rank']} for" if g["within_noise"] else f"is the #{n['rank']} driver of"
    head = f"{g['label']} {verb} {what}"
    if n["rank"] != 1:
        prev = mid_sentence(report["global_importance"][i - 1]["label"])
        head += f", after {prev}"
        labels.append(prev)
    groups = ("customers in this group", "the others")
    if "high" in n:
        groups = (f"customers with {quantity} {_OP_WORDS[g['high_op']]} "
                  f"{fmt.rounded(n['high'])}{percent}",
                  f"those {_OP_WORDS[g['low_op']]} {fmt.rounded(n['low'])}{percent}")
    if kind == "driver_noise_floor":
        text = (f"{head}, but its contribution is within noise: it moves predicted {what} by "
                f"{_money(n['mean_abs_shap'])} per customer on average, no clearly more than a "
                f"column of random numbers does (up to {_money(n['probe'])}).")
    elif kind == "driver_negligible":
        clear = ", but"
        if "effect" in n:
            # a consistent but small association: say which way it goes
            more = "higher" if g["effect"] > 0 else "lower"
            clear = (f": {groups[0]} have slightly {more} predicted {what} than {groups[1]} "
                     f"({_money(n['effect'])}), but")
        text = (f"{head}{clear} its contribution is too small to matter: it moves predicted "
                f"{what} by {_money(n['mean_abs_shap'])} per customer on average, "
                f"{fmt.rounded(n['share'])}% of the model's total, under the "
                f"{fmt.rounded(n['min_share'])}% needed to call it a driver.")
    elif kind == "driver_within_noise":
        text = (f"{head}, but its effect is within noise: {groups[0]} differ from {groups[1]} by "
                f"{_money(n['effect'])} in predicted {what}, and the {fmt.rounded(n['ci'])}% "
                "interval of that difference includes zero.")
    else:
        more = "more" if g["effect"] > 0 else "less"
        text = (f"{head}: {groups[0]} are predicted to have {_money(n['effect'])} {more} {what} "
                f"than {groups[1]} ({fmt.rounded(n['ci'])}% interval excludes zero; an "
                "association, not proof of cause).")
        if "shape_threshold" in n:
            side = "above" if g["shape"] == "mostly_above" else "below"
            change = "rise" if g["direction"] == "increasing" else "fall"
            text += (f" Most of the {change} in predicted {what} happens at {quantity} {side} "
                     f"{fmt.rounded(n['shape_threshold'])}{percent}.")
    return sentence(f, text, labels)


def _groups(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    groups, n, refs = report["group_importance"], f["numbers"], f["refs"]
    labels = [mid_sentence(groups[i]["label"]) for i in refs["groups"]]
    parts = [f"{label} ({fmt.rounded(n[f'share_{i}'])}%)" for i, label in zip(refs["groups"], labels)]
    listed = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    text = ("Counting related measures together (for example every category share as one "
            f"driver), the largest parts of the model's attributions go to {listed}")
    if refs["review_sentiment"] is not None:
        g = groups[refs["review_sentiment"]]
        verdict = ", too little to call it a driver" if g["within_noise"] else ""
        text += f"; review sentiment ranks #{n['rank']} with {fmt.rounded(n['share'])}%{verdict}"
        labels.append(g["label"])
    return sentence(f, text + ".", labels)


def _sentiment_coverage(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    n = f["numbers"]
    text = (f"Review sentiment is measured for {fmt.rounded(n['n_with_sentiment'])} of "
            f"{fmt.rounded(n['n_customers'])} customers ({fmt.rounded(n['share'])}%)")
    if "median_reviews" in n:
        text += (f", from a median of {fmt.rounded(n['median_reviews'])} review"
                 f"{'' if n['median_reviews'] == 1 else 's'} each")
    text += ("; missing and noisy measurements make a link with spend look weaker than it is, "
             "so review sentiment's rank here likely understates it.")
    return sentence(f, text, ["Review sentiment"])


def _segment(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    seg, what = report["segments"][f["refs"]["segment"]], report["target_label"]
    d = seg["drivers"][0]
    sign = "raises" if d["mean_shap"] > 0 else "lowers"
    label = mid_sentence(d["label"])
    return sentence(f, f"Within the segment “{seg['segment_name']}”, {label} is the feature most "
                       f"associated with {what}: on average it {sign} predicted {what} by "
                       f"{_money(f['numbers']['mean_shap'])} per customer compared with the "
                       "average customer.", [seg["segment_name"], label])


def _membership(report: dict[str, Any], f: dict[str, Any]) -> Sentence:
    mod = report["membership"]["models"][f["refs"]["model"]]
    n = f["numbers"]
    parts, labels = [], [mod["segment_name"]]
    for q, feat in enumerate(mod["features"][:2]):
        label = mid_sentence(feat["label"])
        parts.append(f"{feat['direction']} {label} ({feat['statistic']} "
                     f"{fmt.rounded(n[f'segment_{q}'])} vs {fmt.rounded(n[f'rest_{q}'])} for "
                     "other customers)")
        labels.append(label)
    text = f"The segment “{mod['segment_name']}” is set apart mostly by " + " and ".join(parts)
    if "auc" in n:
        text += (f"; a membership model separates it from the rest with AUC "
                 f"{fmt.rounded(n['auc'])}")
    return sentence(f, text + ".", labels)


_WRITERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Sentence]] = {
    "too_few_customers": _too_few, "constant_target": _constant, "no_features": _no_features,
    "excluded_by_config": _excluded, "leakage_excluded": _leakage, "model_fit": _model,
    "driver": _driver, "driver_within_noise": _driver, "driver_noise_floor": _driver,
    "driver_negligible": _driver, "group_ranking": _groups,
    "sentiment_coverage": _sentiment_coverage, "segment_driver": _segment,
    "membership": _membership,
}


def leakage_reason(report: dict[str, Any], entry: dict[str, Any]) -> str:
    """Why a feature was left out of the value model (an entry of ``leakage/excluded``)."""
    if entry["source"] == "config":
        return "listed in drivers.exclude_features"
    target = report["target"]
    test = (f"(score {fmt.number(entry['score'], 4)} >= "
            f"{fmt.rounded(report['leakage']['checked']['threshold'])})")
    if entry["relation"] == "single":
        return f"{entry['feature']} alone rebuilds {target} {test}"
    p, q = entry["pair"]
    return (f"the {entry['relation']} of {p} and {q} rebuilds {target} {test}; "
            f"{entry['feature']} left out, {entry['partner']} kept")


def shap_error_bound(report: dict[str, Any]) -> str:
    """How precise the top features' mean |SHAP| is, from the bootstrap (methodology)."""
    sampling = report["shap_sampling"]
    bound = sampling["error_bound"]
    return (f"Mean |SHAP| of each of the top {fmt.rounded(bound['top_n'])} features is within "
            f"+/-{fmt.percent(bound['max_relative_half_width_top'], 1)} of its value "
            f"({fmt.rounded(sampling['ci_level_percent'])}% stratified bootstrap interval over "
            f"{fmt.rounded(sampling['n_sampled'])} explained customers of "
            f"{fmt.rounded(sampling['n_population'])}).")


def drivers_sentences(report: dict[str, Any] | None) -> list[Sentence]:
    """One sentence per finding of ``drivers.json``, in the findings' order.

    Args:
        report: the ``drivers.json`` document (``None`` or one without findings: no sentences).

    Returns:
        The sentences; amounts use ``formatting.currency_symbol()``, the target the
        report's ``target_label``.

    Raises:
        KeyError: a finding of a kind this version does not know.
    """
    if not report:
        return []
    return [_WRITERS[f["kind"]](report, f) for f in report.get("findings", [])]
