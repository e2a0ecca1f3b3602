"""Carry-over: this run's segments matched to the previous run's by customer overlap, so ids and
names continue from month to month.

A saved segment model holds the fit run's assignments (customer_id -> segment_id). When
refitting with a previous model, new segments are matched to previous ones by Jaccard overlap on
the customers present in both runs (Hungarian matching, ``scipy.optimize.linear_sum_assignment``);
a pair with Jaccard >= :data:`MATCH_MIN_JACCARD` keeps the previous id and name. A previous
segment that sends >= :data:`SPLIT_MERGE_SHARE` of its customers to two or more new segments has
split (those segments get ``split_from``); a new segment that takes >= that share of its
customers from two or more previous segments is a merge (``merged_from``); unmatched new
segments are ``new``; unmatched previous ones are listed as vanished. With reuse nothing is
refitted: customers are assigned to the saved segments, whose ids and names are kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.stages.segments.model import NOISE_ID, SegmentModel

MATCH_MIN_JACCARD = 0.2
SPLIT_MERGE_SHARE = 0.25


def match_previous(current: pd.DataFrame, previous: pd.DataFrame) -> dict[str, Any]:
    """Match this run's segments to the previous run's by customer overlap.

    Args:
        current: ``customer_id`` and provisional ``segment_id`` of this run.
        previous: ``customer_id`` and ``segment_id`` of the previous run.

    Returns:
        ``{"matches": {cur: (prev, jaccard)}, "split_from": {cur: prev},
        "merged_from": {cur: [prev, ...]}, "vanished": [prev, ...], "common_customers": n,
        "overlap": {cur: {prev: n}}}``.
    """
    from scipy.optimize import linear_sum_assignment

    cur = current[current["segment_id"] != NOISE_ID][["customer_id", "segment_id"]]
    prev = previous[previous["segment_id"] != NOISE_ID][["customer_id", "segment_id"]]
    cur = cur.assign(customer_id=cur["customer_id"].astype("string"))
    prev = prev.assign(customer_id=prev["customer_id"].astype("string"))
    both = cur.merge(prev, on="customer_id", suffixes=("_cur", "_prev"))
    cur_ids = sorted(cur["segment_id"].unique().tolist())
    prev_ids = sorted(prev["segment_id"].unique().tolist())
    out: dict[str, Any] = {"matches": {}, "split_from": {}, "merged_from": {}, "vanished": [],
                           "common_customers": int(len(both)), "overlap": {}}
    if both.empty or not cur_ids or not prev_ids:
        out["vanished"] = prev_ids
        return out
    table = pd.crosstab(both["segment_id_cur"], both["segment_id_prev"]).reindex(
        index=cur_ids, columns=prev_ids, fill_value=0)
    inter = table.to_numpy(float)
    cur_sizes = both["segment_id_cur"].value_counts().reindex(cur_ids, fill_value=0).to_numpy(float)
    prev_sizes = both["segment_id_prev"].value_counts().reindex(prev_ids, fill_value=0).to_numpy(float)
    union = cur_sizes[:, None] + prev_sizes[None, :] - inter
    jacc = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    rows, cols = linear_sum_assignment(-jacc)
    matched_prev = set()
    for r, c in zip(rows, cols):
        if jacc[r, c] >= MATCH_MIN_JACCARD:
            out["matches"][cur_ids[r]] = (prev_ids[c], float(jacc[r, c]))
            matched_prev.add(prev_ids[c])
    out["vanished"] = [p for p in prev_ids if p not in matched_prev]
    # split: a previous segment sending >= 25% of its customers to two or more new segments
    for j, p in enumerate(prev_ids):
        if prev_sizes[j] == 0:
            continue
        receivers = [cur_ids[i] for i in range(len(cur_ids)) if inter[i, j] / prev_sizes[j] >= SPLIT_MERGE_SHARE]
        if len(receivers) >= 2:
            for r in receivers:
                out["split_from"][r] = p
    for i, c in enumerate(cur_ids):
        if cur_sizes[i] == 0:
            continue
        givers = [prev_ids[j] for j in range(len(prev_ids)) if inter[i, j] / cur_sizes[i] >= SPLIT_MERGE_SHARE]
        if len(givers) >= 2:
            out["merged_from"][c] = givers
    out["overlap"] = {c: {p: int(v) for p, v in row.items() if v} for c, row in table.iterrows()}
    return out



def _remap(carry: dict[str, Any], m: dict[int, int]) -> dict[str, Any]:
    return {**carry,
            "matches": {m[c]: v for c, v in carry["matches"].items()},
            "split_from": {m[c]: v for c, v in carry["split_from"].items()},
            "merged_from": {m[c]: v for c, v in carry["merged_from"].items()},
            "overlap": {m[c]: v for c, v in carry["overlap"].items() if c in m}}


def carry_ids(customer_id: pd.Series, labels: np.ndarray, label_to_id: dict[int, int],
              previous: SegmentModel) -> tuple[dict[int, int], dict[str, Any]]:
    """Final segment ids: a segment matched to a previous one keeps its id, the others get new
    ids after the previous run's highest.

    Args:
        customer_id: this run's customers, aligned with ``labels``.
        labels: cluster label per customer (-1 noise).
        label_to_id: provisional ids (1..k by size).
        previous: the previous run's model, with its ``assignments``.

    Returns:
        ``(label_to_id, carry)``: final ids, and :func:`match_previous`'s result keyed by them.
    """
    provisional = pd.DataFrame({"customer_id": customer_id.astype("string"),
                                "segment_id": [label_to_id.get(int(lab), NOISE_ID) for lab in labels]})
    carry = match_previous(provisional, previous.assignments)
    prov_to_final: dict[int, int] = {}
    next_id = max([*previous.names.keys(), 0]) + 1
    for prov in sorted(label_to_id.values()):
        if prov in carry["matches"]:
            prov_to_final[prov] = carry["matches"][prov][0]
    for prov in sorted(label_to_id.values()):
        if prov not in prov_to_final:
            prov_to_final[prov] = next_id
            next_id += 1
    return {lab: prov_to_final[p] for lab, p in label_to_id.items()}, _remap(carry, prov_to_final)


def carried_names(carry: dict[str, Any] | None, previous: SegmentModel | None) -> dict[int, str]:
    """The previous run's names of the segments that continue, by this run's segment id."""
    if carry is None or previous is None:
        return {}
    return {cur: previous.names[prev_id] for cur, (prev_id, _j) in carry["matches"].items()
            if prev_id in previous.names}


def segment_carry_over(sid: int, mode: str, carry: dict[str, Any] | None, names: dict[int, str],
                       previous: SegmentModel | None) -> dict[str, Any]:
    """The ``carry_over`` entry of one segment in segments.json: its previous id and name, the
    overlap, and its status (reused, continued, split, merge or new; ``None`` on a first fit)."""
    co: dict[str, Any] = {"matched_previous_id": None, "previous_name": None, "overlap_jaccard": None,
                          "status": "new" if carry is not None else None,
                          "split_from": None, "merged_from": []}
    if mode == "reuse":
        co.update(matched_previous_id=sid, previous_name=names[sid], status="reused")
    elif carry is not None:
        if sid in carry["matches"]:
            prev_id, j = carry["matches"][sid]
            co.update(matched_previous_id=prev_id, previous_name=previous.names.get(prev_id) if previous else None,
                      overlap_jaccard=j, status="continued")
        co["split_from"] = carry["split_from"].get(sid)
        co["merged_from"] = carry["merged_from"].get(sid, [])
        if co["merged_from"]:
            co["status"] = "merge"
        elif co["split_from"] is not None:
            co["status"] = "split"
    return co


def carry_over_summary(carry: dict[str, Any] | None, previous: SegmentModel | None) -> dict[str, Any] | None:
    """The run-level ``carry_over`` of segments.json: previous segments, common customers and the
    vanished segments (``None`` without a previous run to match)."""
    if carry is None:
        return None
    return {"previous_segments": sorted(previous.names) if previous else [],
            "common_customers": carry["common_customers"],
            "vanished": [{"id": v, "name": previous.names.get(v) if previous else None}
                         for v in carry["vanished"]]}
