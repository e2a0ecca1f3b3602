"""The quality gates in words: one line per gate, and the reason a run was held back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: What each gate measures, and why it may not have been measured in a run.
_WHAT = {
    "min_customers": "customers in the window",
    "max_quarantined_share": "share of rows quarantined",
    "min_segment_stability": "segment stability (mean ARI of refits)",
    "min_value_model_r2": "value model held-out R²",
    "min_sentiment_macro_f1": "sentiment macro-F1 against star ratings",
}
_UNMEASURED = {
    "min_segment_stability": lambda c: " (too few customers or stability_runs: 0)",
    "min_value_model_r2": lambda c: f" (drivers stage: {c.get('drivers_status', 'not run')})",
    "min_sentiment_macro_f1": lambda c: f" (fewer than {c.get('min_rated_reviews')} rated reviews)",
}


def gate_message(gate: Mapping[str, Any]) -> str:
    """``customers in the window 4,768 (needs >= 50): ok`` for one gate of ``gates.json``."""
    what = _WHAT.get(gate["name"], gate["name"].replace("_", " "))
    value = gate["value"]
    if value is None:
        return f"{what}: not measured in this run" + _UNMEASURED.get(gate["name"], lambda c: "")(gate.get("context") or {})
    sign = ">=" if gate["higher_is_better"] else "<="
    # counts print whole ("4,768", not "4.77e+03"); ratios to three significant digits
    shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"
    return f"{what} {shown} (needs {sign} {gate['threshold']:g}): {'ok' if gate['passed'] else 'FAILED'}"


def gates_reason(gates: Mapping[str, Any]) -> str | None:
    """Why a run was held back: the failed gates' lines, or ``None`` when every gate passed."""
    failed = [gate_message(g) for g in gates.get("gates", []) if not g["passed"]]
    return "; ".join(failed) or None
