"""What ``states.json`` says, as findings (kinds, numbers and pointers) for the reports."""

from __future__ import annotations

from typing import Any

from segment_report.pipeline.stages.findings import add_finding

FINDING_KINDS = ("coverage", "no_scored_reviews", "national_mean", "spatial_test_skipped",
                 "spatial_autocorrelation", "no_spatial_pattern", "spatial_cluster",
                 "spatial_outlier", "no_hotspot", "highest_lowest", "insufficient_regions")


def build_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    """What the geography numbers show, and only that, as findings (see
    ``segment_report.pipeline.stages.findings``); ``segment_report.reports.narrative`` writes
    the sentences.

    Args:
        report: the ``states.json`` dict built by :func:`analyse_geography` (its ``findings``
            list is filled).

    Returns:
        The findings, in reading order: ``coverage``; then ``no_scored_reviews``, or
        ``national_mean``; ``spatial_test_skipped``, ``spatial_autocorrelation`` or
        ``no_spatial_pattern``; ``spatial_cluster`` (refs: direction high/low, region codes),
        ``spatial_outlier`` (refs: direction high_among_low/low_among_high, codes) or
        ``no_hotspot``; ``highest_lowest`` (refs: top, bottom) among regions with enough data;
        ``insufficient_regions``.
    """
    report["findings"] = []
    index = {r["code"]: i for i, r in enumerate(report["states"])}
    sp = report["spatial"]

    def shrunk(codes: list[str]) -> dict[str, str]:
        return {f"shrunk_{c}": f"/states/{index[c]}/shrunk_positive_prob" for c in codes}

    cov = {k: f"/coverage/{k}" for k in ("customers_mapped", "customers_total", "non_us",
                                         "unknown_state")}
    add_finding(report, "coverage", "coverage", cov)
    nat = report["national"]
    if nat["mean_positive_prob"] is None:
        add_finding(report, "no_scored_reviews", "no_scored_reviews")
        return report["findings"]
    src = {"reviewers": "/national/reviewers", "mean": "/national/mean_positive_prob"}
    if nat["ci_low"] is not None:
        src.update(ci_low="/national/ci_low", ci_high="/national/ci_high")
    add_finding(report, "national_mean", "national_mean", src)
    moran = {"moran_i": "/spatial/moran_i", "moran_p": "/spatial/moran_p"}
    if sp["skipped"]:
        add_finding(report, "spatial_test", "spatial_test_skipped")
    elif sp["moran_significant"]:
        add_finding(report, "spatial_test", "spatial_autocorrelation", moran)
    else:
        add_finding(report, "spatial_test", "no_spatial_pattern", {**moran, "alpha": "/spatial/alpha"})
    hs = report["hotspots"]
    if not sp["skipped"]:
        tested = {"tested": "/spatial/tested_regions"}
        for direction in ("high", "low"):
            if hs[direction]:
                add_finding(report, f"cluster_{direction}", "spatial_cluster",
                            {**shrunk(hs[direction]), **tested},
                            {"direction": direction, "codes": hs[direction]})
        for key, direction in (("outliers_high_among_low", "high_among_low"),
                               ("outliers_low_among_high", "low_among_high")):
            if hs[key]:
                add_finding(report, f"outliers_{direction}", "spatial_outlier", shrunk(hs[key]),
                            {"direction": direction, "codes": hs[key]})
        if not any(hs.values()):
            add_finding(report, "no_hotspot", "no_hotspot", tested)
    ranked = sorted((r for r in report["states"] if r["rank"] is not None), key=lambda r: r["rank"])
    if len(ranked) >= 2:
        top, bottom = index[ranked[0]["code"]], index[ranked[-1]["code"]]
        add_finding(report, "highest_lowest", "highest_lowest",
                    {"n_ranked": "/n_ranked",
                     "top": f"/states/{top}/shrunk_positive_prob",
                     "top_customers": f"/states/{top}/customers",
                     "bottom": f"/states/{bottom}/shrunk_positive_prob",
                     "bottom_customers": f"/states/{bottom}/customers"},
                    {"top": ranked[0]["code"], "bottom": ranked[-1]["code"]})
    if report["insufficient"]:
        add_finding(report, "insufficient", "insufficient_regions",
                    {"n_insufficient": "/n_insufficient", "min_customers": "/min_customers"})
    return report["findings"]

