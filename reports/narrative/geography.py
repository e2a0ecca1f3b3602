"""Sentences from the geography findings (``states.json`` ``findings``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from segment_report.reports import formatting as fmt
from segment_report.reports.narrative.notes import FDR, SPATIAL_SKIPPED
from segment_report.reports.narrative.sentence import Sentence, sentence

# Fixed wording with digits in it, left out when the printed numbers are checked.
_FIXED = ("95%", "p < 0.001")


def _names(report: dict[str, Any], f: dict[str, Any]) -> tuple[str, list[str]]:
    """``Utah (0.81), Idaho (0.80) and Nevada (0.79)`` for the finding's region codes, and the
    names inserted."""
    by_code = {r["code"]: r["name"] for r in report["states"]}
    names = [by_code[c] for c in f["refs"]["codes"]]
    items = [f"{by_code[c]} ({fmt.number(f['numbers'][f'shrunk_{c}'], 2)})" for c in f["refs"]["codes"]]
    text = " and ".join(items) if len(items) <= 2 else ", ".join(items[:-1]) + " and " + items[-1]
    return text, names


def _coverage(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    n = f["numbers"]
    extra = []
    if n["non_us"]:
        extra.append(f"{fmt.number(n['non_us'])} are outside the US")
    if n["unknown_state"]:
        extra.append(f"{fmt.number(n['unknown_state'])} have no recognisable {unit}")
    return sentence(f, f"{fmt.number(n['customers_mapped'])} of {fmt.number(n['customers_total'])} "
                       f"customers are mapped to a {unit}"
                       + ("; " + " and ".join(extra) if extra else "") + ".")


def _no_scored(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    return sentence(f, f"No mapped customer has a scored review, so sentiment cannot be compared "
                       f"by {unit}.")


def _national(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    n = f["numbers"]
    ci = (f" (95% interval {fmt.number(n['ci_low'], 2)}-{fmt.number(n['ci_high'], 2)})"
          if "ci_low" in n else "")
    return sentence(f, f"Across {fmt.number(n['reviewers'])} customers with reviews, the mean "
                       f"positive-sentiment score is {fmt.number(n['mean'], 2)}{ci}.", _FIXED)


def _skipped(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    reason = SPATIAL_SKIPPED[report["spatial"]["skipped"]]
    return sentence(f, f"No spatial clustering test was run: {reason}.", [reason])


def _autocorrelation(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    n = f["numbers"]
    return sentence(f, f"Sentiment is spatially clustered: neighbouring {unit}s tend to be alike "
                       f"(Moran's I {fmt.number(n['moran_i'], 2)}, permutation "
                       f"{fmt.pvalue(n['moran_p'])}).", _FIXED)


def _no_pattern(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    n = f["numbers"]
    return sentence(f, f"There is no significant overall spatial pattern (Moran's I "
                       f"{fmt.number(n['moran_i'], 2)}, permutation {fmt.pvalue(n['moran_p'])}, "
                       f"threshold {fmt.rounded(n['alpha'])}).", _FIXED)


def _cluster(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    names, labels = _names(report, f)
    level = "High" if f["refs"]["direction"] == "high" else "Low"
    return sentence(f, f"{level}-sentiment cluster: {names}, significant after {FDR} "
                       f"correction across {fmt.rounded(f['numbers']['tested'])} tested {unit}s.", labels)


def _outlier(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    names, labels = _names(report, f)
    if f["refs"]["direction"] == "high_among_low":
        head = f"Above-average {unit}s surrounded by low-sentiment neighbours"
    else:
        head = f"Below-average {unit}s surrounded by high-sentiment neighbours"
    return sentence(f, f"{head}: {names}.", labels)


def _no_hotspot(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    return sentence(f, f"No {unit} is a significant local hotspot or coldspot after "
                       f"{FDR} correction across {fmt.rounded(f['numbers']['tested'])} tested "
                       f"{unit}s; differences between {unit}s may be noise.")


def _highest_lowest(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    n, by_code = f["numbers"], {r["code"]: r["name"] for r in report["states"]}
    top, bottom = by_code[f["refs"]["top"]], by_code[f["refs"]["bottom"]]
    return sentence(f, f"Among {fmt.rounded(n['n_ranked'])} {unit}s with enough data, the highest shrunk "
                       f"estimate is {top} ({fmt.number(n['top'], 2)}, "
                       f"{fmt.number(n['top_customers'])} customers) and the lowest {bottom} "
                       f"({fmt.number(n['bottom'], 2)}, {fmt.number(n['bottom_customers'])} "
                       "customers).", [top, bottom])


def _insufficient(report: dict[str, Any], f: dict[str, Any], unit: str) -> Sentence:
    n = f["numbers"]
    count = n["n_insufficient"]
    return sentence(f, f"{fmt.rounded(count)} {unit}{'s have' if count != 1 else ' has'} fewer than "
                       f"{fmt.rounded(n['min_customers'])} customers or no reviews: shown in grey and not "
                       "ranked.")


_WRITERS: dict[str, Callable[[dict[str, Any], dict[str, Any], str], Sentence]] = {
    "coverage": _coverage, "no_scored_reviews": _no_scored, "national_mean": _national,
    "spatial_test_skipped": _skipped, "spatial_autocorrelation": _autocorrelation,
    "no_spatial_pattern": _no_pattern, "spatial_cluster": _cluster, "spatial_outlier": _outlier,
    "no_hotspot": _no_hotspot, "highest_lowest": _highest_lowest,
    "insufficient_regions": _insufficient,
}


def geography_sentences(report: dict[str, Any] | None) -> list[Sentence]:
    """One sentence per finding of ``states.json``, in the findings' order.

    Args:
        report: the ``states.json`` document (``None`` or one without findings: no sentences).

    Returns:
        The sentences, about states with the built-in US map and regions otherwise.

    Raises:
        KeyError: a finding of a kind this version does not know.
    """
    if not report:
        return []
    unit = "state" if report["geometry"]["is_us"] else "region"
    return [_WRITERS[f["kind"]](report, f, unit) for f in report.get("findings", [])]
