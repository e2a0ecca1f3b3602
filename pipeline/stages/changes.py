"""Headline KPIs and month-over-month change: KPI deltas and the segment migration matrix.

Computed from this run's customer table and, when the store found one, last month's published
customers (``PreviousRun``). Saved as ``results/changes.json``; the reports only format it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from segment_report.pipeline.stages.findings import note

if TYPE_CHECKING:
    from segment_report.pipeline.io.store import PreviousRun

NEW, LAPSED = "new", "lapsed"
NOTE_CODES = ("no_previous_run",)


def headline_kpis(customers: pd.DataFrame, n_reviews: int) -> dict[str, float | None]:
    """Customers, revenue, orders, average order value, reviews and mean sentiment of one run."""
    revenue = float(customers["monetary"].sum()) if len(customers) else 0.0
    orders = int(customers["frequency"].sum()) if len(customers) else 0
    reviewed = customers[customers["review_count"] > 0] if "review_count" in customers else customers.iloc[:0]
    sentiment = (float(reviewed["positive_prob"].mean())
                 if "positive_prob" in reviewed and reviewed["positive_prob"].notna().any() else None)
    return {
        "customers": int(len(customers)),
        "revenue": revenue,
        "orders": orders,
        "avg_order_value": revenue / orders if orders else None,
        "reviews": int(n_reviews),
        "reviewer_share": float(len(reviewed) / len(customers)) if len(customers) else None,
        "mean_positive_prob": sentiment,
    }


def _delta(current: float | None, previous: float | None) -> dict[str, float | None]:
    if current is None or previous is None:
        return {"current": current, "previous": previous, "delta": None, "relative": None}
    return {"current": current, "previous": previous, "delta": current - previous,
            "relative": (current - previous) / previous if previous else None}


def migration(previous: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """Customers from segment A last period to segment B this period, with new and lapsed rows.

    Rows are last period's segments plus ``new`` (customers not in last period's run); columns
    are this period's segments plus ``lapsed`` (customers without an order in this window). Row
    sums over the segment rows equal last period's customer count; column sums over the segment
    columns equal this period's.
    """
    prev = previous[["customer_id", "segment_id", "segment_name"]]
    cur = current[["customer_id", "segment_id", "segment_name"]]
    merged = prev.merge(cur, on="customer_id", how="outer", suffixes=("_from", "_to"))
    src = merged["segment_id_from"].map(lambda v: NEW if pd.isna(v) else f"s{int(v)}")
    dst = merged["segment_id_to"].map(lambda v: LAPSED if pd.isna(v) else f"s{int(v)}")

    def nodes(frame: pd.DataFrame, extra: str, label: str) -> list[dict[str, Any]]:
        names = frame.drop_duplicates("segment_id").sort_values("segment_id")
        out = [{"key": f"s{int(r.segment_id)}", "segment_id": int(r.segment_id), "name": str(r.segment_name)}
               for r in names.itertuples()]
        return out + [{"key": extra, "segment_id": None, "name": label}]

    rows = nodes(prev, NEW, "New customers")
    cols = nodes(cur, LAPSED, "Lapsed (no order this window)")
    table = pd.crosstab(src, dst).reindex(index=[r["key"] for r in rows], columns=[c["key"] for c in cols],
                                          fill_value=0)
    counts = table.to_numpy(dtype=int)
    for node, total in zip(rows, counts.sum(axis=1)):
        node["customers"] = int(total)
    for node, total in zip(cols, counts.sum(axis=0)):
        node["customers"] = int(total)
    same = sum(int(table.loc[k, k]) for k in table.index if k in table.columns)
    flows = [{"from": r, "to": c, "customers": int(table.loc[r, c])}
             for r in table.index for c in table.columns if table.loc[r, c] > 0]
    return {
        "from": rows, "to": cols, "counts": counts.tolist(),
        "flows": sorted(flows, key=lambda f: (-f["customers"], f["from"], f["to"])),
        "totals": {"previous_customers": int(len(prev)), "current_customers": int(len(cur)),
                   "new": int((src == NEW).sum()), "lapsed": int((dst == LAPSED).sum()),
                   "stayed": same, "moved": int(len(prev)) - same - int((dst == LAPSED).sum())},
    }


def segment_sizes(previous: pd.DataFrame | None, current: pd.DataFrame) -> list[dict[str, Any]]:
    """Per segment of this period: size now and last period (same segment id), and the change."""
    now = current.groupby("segment_id").agg(name=("segment_name", "first"), customers=("customer_id", "size"),
                                            spend=("monetary", "sum"))
    before = (previous.groupby("segment_id").agg(customers=("customer_id", "size"), spend=("monetary", "sum"))
              if previous is not None else None)
    out = []
    for seg_id, row in now.iterrows():
        prev_n = int(before.loc[seg_id, "customers"]) if before is not None and seg_id in before.index else None
        prev_s = float(before.loc[seg_id, "spend"]) if before is not None and seg_id in before.index else None
        out.append({"segment_id": int(seg_id), "name": str(row["name"]),
                    "customers": _delta(int(row["customers"]), prev_n),
                    "spend": _delta(float(row["spend"]), prev_s)})
    return out


def compare_periods(customers: pd.DataFrame, n_reviews: int, label: str,
                    previous: PreviousRun | None) -> dict[str, Any]:
    """The ``results/changes.json`` document: KPIs (with deltas when last month's run is handed
    in), per segment size changes and the migration matrix."""
    current = headline_kpis(customers, n_reviews)
    doc: dict[str, Any] = {"period": label, "previous_period": None, "previous_run": None,
                           "kpis": {k: _delta(v, None) for k, v in current.items()},
                           "segments": [], "migration": None, "notes": []}
    has_segments = "segment_id" in customers.columns
    if previous is None:
        doc["notes"].append(note("no_previous_run"))
        doc["segments"] = segment_sizes(None, customers) if has_segments else []
        return doc
    before = headline_kpis(previous.customers, previous.n_reviews)
    doc.update({
        "previous_period": previous.period,
        "previous_run": {"folder": previous.period, "started_at": previous.started_at},
        "kpis": {k: _delta(current[k], before.get(k)) for k in current},
    })
    if has_segments and "segment_id" in previous.customers.columns:
        doc["segments"] = segment_sizes(previous.customers, customers)
        doc["migration"] = migration(previous.customers, customers)
    return doc
