"""The drivers findings (see ``segment_report.pipeline.stages.findings``): ``numbers`` are the
rounded values stored in ``drivers.json``; ``refs`` index ``global_importance`` (feature),
``leakage/excluded`` (leakage), ``group_importance`` (groups), ``segments`` (segment) and
``membership/models`` (model). Kinds:

``too_few_customers``, ``constant_target``, ``no_features`` (no model); ``excluded_by_config``,
``leakage_excluded`` (a feature left out); ``model_fit``; ``driver``, ``driver_within_noise``
(effect interval includes zero), ``driver_noise_floor`` (importance within the noise probes),
``driver_negligible`` (below ``min_share``); ``group_ranking``; ``sentiment_coverage``;
``segment_driver``; ``membership``.
"""

from __future__ import annotations

from typing import Any

from segment_report.pipeline.stages.findings import add_finding as _add

KINDS = ("too_few_customers", "constant_target", "no_features", "excluded_by_config",
         "leakage_excluded", "model_fit", "driver", "driver_within_noise", "driver_noise_floor",
         "driver_negligible", "group_ranking", "sentiment_coverage", "segment_driver",
         "membership")


def not_fitted(report: dict[str, Any]) -> None:
    """Why no value model was fitted (``report["status"]`` says which)."""
    status = report["status"]
    if status == "too_few_customers":
        _add(report, "too_few", "too_few_customers",
             {"n": "/n_customers_used", "min": "/min_customers"})
    elif status == "constant_target":
        _add(report, "constant_target", "constant_target", {"value": "/target_value_rounded"})
    else:
        _add(report, "no_features", "no_features")


def exclusions(report: dict[str, Any]) -> None:
    """One finding per feature left out: configured ones first, then the leakage guard's."""
    excluded = report["leakage"]["excluded"]
    configured = [k for k, e in enumerate(excluded) if e["source"] == "config"]
    for i, k in enumerate(configured):
        _add(report, f"excluded_{i}", "excluded_by_config", refs={"leakage": k})
    for i, k in enumerate(k for k, e in enumerate(excluded) if e["source"] != "config"):
        _add(report, f"leakage_{i}", "leakage_excluded",
             {"score": f"/leakage/excluded/{k}/score_rounded"}, {"leakage": k})


def _threshold(rounded: dict[str, Any], pointer: str, which: str) -> str:
    """Pointer to a dependence threshold as printed: a percentage for shares, else the value;
    ``which`` is low, high or shape."""
    if "threshold_percent" in rounded:
        return f"{pointer}/rounded/threshold_percent/{which}"
    return f"{pointer}/rounded/{which}_threshold"


def _driver_kind(g: dict[str, Any]) -> str:
    if g["below_noise_floor"]:
        return "driver_noise_floor"
    if g["negligible"]:
        return "driver_negligible"
    return "driver_within_noise" if g["within_noise"] else "driver"


def _driver(report: dict[str, Any], i: int) -> None:
    """A top feature: its rank, and its effect with the numbers its kind is stated with."""
    g = report["global_importance"][i]
    if g["effect"] is None:
        return
    p = f"/global_importance/{i}"
    kind = _driver_kind(g)
    src = {"rank": f"{p}/rank"}
    effect_src = {"effect": f"{p}/rounded/effect"}
    if not g["binary"]:
        effect_src = {"high": _threshold(g["rounded"], p, "high"),
                      "low": _threshold(g["rounded"], p, "low"), **effect_src}
    if kind == "driver_noise_floor":
        src.update(mean_abs_shap=f"{p}/rounded/mean_abs_shap", probe="/noise_probes/rounded/floor")
    elif kind == "driver_negligible":
        src.update(mean_abs_shap=f"{p}/rounded/mean_abs_shap",
                   share=f"{p}/rounded/share_percent", min_share="/min_share_percent")
        if not g["effect_ci_includes_zero"]:
            src.update(effect_src)
    else:
        src.update(effect_src)
        src["ci"] = "/shap_sampling/ci_level_percent"
        if kind == "driver" and g["shape"] in ("mostly_above", "mostly_below") and not g["binary"]:
            src["shape_threshold"] = _threshold(g["rounded"], p, "shape")
    _add(report, f"driver_{g['feature']}", kind, src, {"feature": i})


def _groups(report: dict[str, Any]) -> None:
    """The three largest driver groups, and review sentiment's rank when it is not among them;
    only when some group has more than one measure."""
    groups = report["group_importance"]
    if not any(len(g["features"]) > 1 for g in groups):
        return
    top = list(range(min(3, len(groups))))
    src = {f"share_{i}": f"/group_importance/{i}/rounded/share_percent" for i in top}
    k = next((i for i, g in enumerate(groups) if g["group"] == "review_sentiment"), None)
    sentiment = k if k is not None and k >= 3 else None
    if sentiment is not None:
        src.update(rank=f"/group_importance/{k}/rank",
                   share=f"/group_importance/{k}/rounded/share_percent")
    _add(report, "groups", "group_ranking", src, {"groups": top, "review_sentiment": sentiment})


def _sentiment_coverage(report: dict[str, Any]) -> None:
    """Measurement caveat for review sentiment: missing reviews and one noisy review per
    customer dilute an association (regression dilution), so its rank is likely too low.
    Stated when under 90 % of customers have a sentiment or the median reviewer has under 3."""
    cov = report.get("sentiment_coverage")
    if not cov or not cov["n_with_sentiment"]:
        return
    r = cov["rounded"]
    few = r["median_reviews"] is not None and r["median_reviews"] < 3
    if r["share_percent"] >= 90 and not few:
        return
    path = "/sentiment_coverage/rounded/"
    src = {"n_with_sentiment": path + "n_with_sentiment", "n_customers": path + "n_customers",
           "share": path + "share_percent"}
    if r["median_reviews"] is not None:
        src["median_reviews"] = path + "median_reviews"
    _add(report, "sentiment_coverage", "sentiment_coverage", src)


def fitted(report: dict[str, Any], top_n: int) -> None:
    """The findings of a fitted model: fit, the top ``top_n`` drivers (and review sentiment
    wherever it ranks), driver groups, sentiment coverage, each segment's strongest driver and
    what sets each segment apart."""
    if report["model"]["rounded"]["r2_test"] is not None:
        m = "/model/rounded/"
        _add(report, "model", "model_fit",
             {"n_train": m + "n_train", "n_test": m + "n_test", "r2": m + "r2_test",
              "mae": m + "mae_test", "mae_baseline": m + "mae_baseline"})
    rows = report["global_importance"]
    top_k = min(top_n, len(rows))
    for i in range(len(rows)):
        if i < top_k or rows[i]["feature"] == "positive_prob":
            _driver(report, i)
    _groups(report)
    _sentiment_coverage(report)
    for k, seg in enumerate(report["segments"]):
        if seg["drivers"]:
            _add(report, f"segment_{seg['segment_id']}", "segment_driver",
                 {"mean_shap": f"/segments/{k}/drivers/0/rounded/mean_shap"}, {"segment": k})
    for k, mod in enumerate(report["membership"].get("models", [])):
        if mod.get("status") != "ok" or not mod.get("features"):
            continue
        p = f"/membership/models/{k}"
        src = {}
        for q in range(min(2, len(mod["features"]))):
            src[f"segment_{q}"] = f"{p}/features/{q}/rounded/segment_value"
            src[f"rest_{q}"] = f"{p}/features/{q}/rounded/rest_value"
        if mod.get("auc_test_rounded") is not None:
            src["auc"] = f"{p}/auc_test_rounded"
        _add(report, f"membership_{mod['segment_id']}", "membership", src, {"model": k})
