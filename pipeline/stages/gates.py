"""Quality gates: checks on a finished run's results that decide whether it may be sent.

A run that fails a gate is still published (analysts can see why) but its status is ``held``,
the exit code is 3 and nothing is e-mailed. Each gate reads one saved number; a gate whose
number was not measured in this run (e.g. no rated reviews) passes with a note.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from segment_report.pipeline.config import GatesConfig


@dataclass(frozen=True)
class Gate:
    """One gate's outcome."""

    name: str
    passed: bool
    value: float | None
    threshold: float | None
    message: str


def _gate(name: str, value: float | None, threshold: float | None, higher_is_better: bool,
          what: str, unmeasured: str = "") -> Gate | None:
    if threshold is None:
        return None
    if value is None:
        return Gate(name, True, None, threshold, f"{what}: not measured in this run{unmeasured}")
    ok = value >= threshold if higher_is_better else value <= threshold
    sign = ">=" if higher_is_better else "<="
    verdict = "ok" if ok else "FAILED"
    # counts print whole ("4,768", not "4.77e+03"); ratios to three significant digits
    shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"
    return Gate(name, ok, value, threshold, f"{what} {shown} (needs {sign} {threshold:g}): {verdict}")


def check_gates(cfg: GatesConfig, results: dict[str, Any]) -> list[Gate]:
    """Evaluate every configured gate against a run's results.

    Args:
        cfg: the ``gates`` config section.
        results: the run's result documents by name (``data_quality``, ``segments``,
            ``drivers``, ``sentiment``, ``changes``); missing ones count as not measured.
    """
    if not cfg.enabled:
        return []
    totals = (results.get("data_quality") or {}).get("totals", {})
    read = totals.get("rows_read") or 0
    quarantined = totals.get("rows_quarantined", 0) / read if read else None
    customers = ((results.get("changes") or {}).get("kpis", {}).get("customers") or {}).get("current")
    stability = ((results.get("segments") or {}).get("summary", {}).get("stability") or {}).get("ari_mean")
    drivers = results.get("drivers") or {}
    r2 = (drivers.get("model") or {}).get("r2_test") if drivers.get("status") == "ok" else None
    agreement = (results.get("sentiment") or {}).get("agreement_with_ratings") or {}
    f1 = agreement.get("macro_f1") if (agreement.get("n") or 0) >= cfg.min_rated_reviews else None
    gates = [
        _gate("min_customers", customers, cfg.min_customers, True, "customers in the window"),
        _gate("max_quarantined_share", quarantined, cfg.max_quarantined_share, False, "share of rows quarantined"),
        _gate("min_segment_stability", stability, cfg.min_segment_stability, True,
              "segment stability (mean ARI of refits)", " (too few customers or stability_runs: 0)"),
        _gate("min_value_model_r2", r2, cfg.min_value_model_r2, True, "value model held-out R²",
              f" (drivers stage: {drivers.get('status', 'not run')})"),
        _gate("min_sentiment_macro_f1", f1, cfg.min_sentiment_macro_f1, True,
              "sentiment macro-F1 against star ratings", f" (fewer than {cfg.min_rated_reviews} rated reviews)"),
    ]
    return [g for g in gates if g is not None]


def gates_document(gates: list[Gate]) -> dict[str, Any]:
    """``results/gates.json``: passed overall, and every gate's value, threshold and message."""
    failed = [g for g in gates if not g.passed]
    return {"passed": not failed, "failed": [g.name for g in failed],
            "reason": "; ".join(g.message for g in failed) or None,
            "gates": [asdict(g) for g in gates]}
