"""Definitions that several stages share, kept in one place so that they cannot drift apart."""

from __future__ import annotations

#: Money and counts: ``log1p``-transformed before they are scaled (segments) or compared
#: (persona profiles), so one big spender cannot dominate.
LOG_FEATURES = frozenset({"recency_days", "frequency", "monetary", "avg_order_value",
                          "items_per_order", "tenure_days", "income", "review_count"})

#: Income bands, lowest first, as ingest writes them.
INCOME_BANDS = ("low", "medium", "high")
#: Numeric position of each band (segments' ordinal feature, persona profiles).
INCOME_BAND_VALUE = {"low": -1.0, "medium": 0.0, "high": 1.0}
#: Income (US$ per year) where the medium and the high band start (documented in the README):
#: ingest bands numeric income by these, and generated data draws each band's incomes inside them.
INCOME_BAND_EDGES = (40_000.0, 100_000.0)
