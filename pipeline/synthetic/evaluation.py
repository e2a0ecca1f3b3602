"""Helpers that compare a run on generated data with the planted truth (used by tests and
benchmarks, not by the product)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def compare_planted_drivers(truth: dict, drivers: dict,
                            groups: list[str] | None = None) -> list[dict]:
    """Planted drivers of spend (``ground_truth.json``) next to what the value model found
    (``results/drivers.json``), one row per observed driver group (those in ``groups`` when
    given), strongest planted first.

    Each row has the planted rank and the recovered one (by the mean |SHAP| of the driver
    group, among the planted groups), ``rank_as_planted`` (every planted group that is not
    tied with this one and is planted stronger, or weaker, was found so too), the recovered
    share of importance, whether the model calls the group within noise, and whether the
    direction came out as planted: rising spend for frequency, basket size and satisfaction
    (``positive_prob``), and for the category mix a rising share of the priciest category with
    a falling share of the cheapest.
    """
    planted = truth["effects"]["spend_drivers"]["observed"]
    if groups is not None:
        planted = {g: v for g, v in planted.items() if g in groups}
    found_groups = {g["group"]: g for g in drivers.get("group_importance", [])}
    features = {g["feature"]: g for g in drivers.get("global_importance", [])}
    prices = truth["category_base_price"]
    slug = {c: "cat_share_" + c.lower().replace(" ", "_") for c in prices}

    def direction_ok(group: str) -> bool | None:
        if group == "category_mix":
            pricey, cheap = max(prices, key=prices.get), min(prices, key=prices.get)
            hi, lo = features.get(slug[pricey]), features.get(slug[cheap])
            return (hi is not None and lo is not None and hi["direction"] == "increasing"
                    and lo["direction"] == "decreasing")
        row = features.get({"review_sentiment": "positive_prob"}.get(group, group))
        return None if row is None else row["direction"] == "increasing"

    seen = [g for g in sorted(planted, key=lambda g: planted[g]["rank"]) if g in found_groups]
    found = sorted(seen, key=lambda g: found_groups[g]["rank"])

    def as_planted(g: str) -> bool:
        return all((seen.index(o) < seen.index(g)) == (found.index(o) < found.index(g))
                   for o in seen if o != g and o not in planted[g]["tied_with"])

    return [{"group": g, "factors": planted[g]["factors"],
             "planted_rank": seen.index(g) + 1,
             "tied_with": [o for o in planted[g]["tied_with"] if o in seen],
             "planted_mean_abs_effect": planted[g]["mean_abs_effect"],
             "recovered_rank": found.index(g) + 1,
             "rank_as_planted": as_planted(g),
             "group_rank": found_groups[g]["rank"],
             "mean_abs_shap": found_groups[g]["mean_abs_shap"],
             "share": found_groups[g]["share"],
             "within_noise": found_groups[g]["within_noise"],
             "direction_as_planted": direction_ok(g)} for g in seen]


def generated_customers(data_dir: Path, truth_columns: dict[str, str]
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """A generated dataset through ingest and customer features as a run does, with columns of
    ``truth_customers.csv`` joined per customer under new names (``truth_columns``: truth name
    -> customer-table name). Returns the customer table, the reviews of its customers and the
    end of the analysed window."""
    from segment_report.pipeline.config import load_config
    from segment_report.pipeline.stages.features import build_customer_features, resolve_window
    from segment_report.pipeline.stages.ingest.stage import ingest

    cfg = load_config(data_dir / "segment-report.yaml")
    ing = ingest(cfg.input, cfg.privacy)
    window = resolve_window(ing.transactions["date"], cfg.run.period, cfg.run.lookback_months)
    customers = build_customer_features(ing.transactions, ing.customers, ing.reviews, window)
    truth = pd.read_csv(data_dir / "truth_customers.csv", dtype={"customer_id": str})
    customers = customers.merge(truth[["customer_id", *truth_columns]].rename(columns=truth_columns),
                                on="customer_id", how="left")
    reviews = ing.reviews[ing.reviews["customer_id"].isin(customers["customer_id"])]
    return customers, reviews.reset_index(drop=True), window.end
