"""Quality gates: checks on a finished run's results that decide whether it may be sent.

A run that fails a gate is still published (analysts can see why) but its status is ``held``,
the exit code is 3 and nothing is e-mailed. Each gate reads one saved number; a gate whose
number was not measured in this run (e.g. no rated reviews) passes. The wording of each gate
is written by ``segment_report.reports.narrative.gates``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from segment_report.pipeline.config import GatesConfig


@dataclass(frozen=True)
class Gate:
    """One gate's outcome, as numbers: ``reports.narrative.gates`` puts it into words.

    Attributes:
        value: the measured number, ``None`` when this run did not measure it (the gate passes).
        higher_is_better: the value must reach the threshold (else stay at or below it).
        context: what explains a missing value (e.g. the drivers stage's status).
    """

    name: str
    passed: bool
    value: float | None
    threshold: float
    higher_is_better: bool
    context: dict[str, Any] = field(default_factory=dict)


def _gate(name: str, value: float | None, threshold: float | None, higher_is_better: bool,
          **context: Any) -> Gate | None:
    if threshold is None:
        return None
    ok = value is None or (value >= threshold if higher_is_better else value <= threshold)
    return Gate(name, ok, value, threshold, higher_is_better, context)


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
        _gate("min_customers", customers, cfg.min_customers, True),
        _gate("max_quarantined_share", quarantined, cfg.max_quarantined_share, False),
        _gate("min_segment_stability", stability, cfg.min_segment_stability, True),
        _gate("min_value_model_r2", r2, cfg.min_value_model_r2, True,
              drivers_status=drivers.get("status", "not run")),
        _gate("min_sentiment_macro_f1", f1, cfg.min_sentiment_macro_f1, True,
              min_rated_reviews=cfg.min_rated_reviews),
    ]
    return [g for g in gates if g is not None]


def gates_document(gates: list[Gate]) -> dict[str, Any]:
    """``results/gates.json``: passed overall, the failed gates, and every gate's numbers."""
    return {"passed": all(g.passed for g in gates), "failed": [g.name for g in gates if not g.passed],
            "gates": [asdict(g) for g in gates]}
