"""The analysis window and the customer feature table (one row per customer).

Columns (documented in the README as well):

- recency_days: days from the customer's last order to the last day of the window
- frequency: orders in the window; monetary: spend in the window
- avg_order_value: monetary / frequency; items_per_order: mean items per order (basket size)
- tenure_days: days from the customer's first order (any time up to the window end) to the window end
- cat_share_<category>: share of the customer's window spend per product category (sums to 1);
  top_category: the category with the largest share
- age, gender, income, income_band, region, state, country, is_us: from ingest
- review_count: the customer's reviews dated in the window (or undated)

Only customers with at least one order in the window are included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segment_report.pipeline.errors import InputDataError


@dataclass(frozen=True)
class Window:
    """The analysed period: ``label`` (run-folder name) and the window ``start < date <= end``."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp  # last day of the period, inclusive
    data_first: pd.Timestamp
    data_last: pd.Timestamp

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly copy for manifest.json and results."""
        return {"period": self.label, "window_start_exclusive": self.start.date().isoformat(),
                "window_end": self.end.date().isoformat(),
                "data_first_date": self.data_first.date().isoformat(),
                "data_last_date": self.data_last.date().isoformat()}


def resolve_window(dates: pd.Series, period: str, lookback_months: int) -> Window:
    """Turn ``last`` / ``all`` / ``YYYY-MM`` into a concrete window over the data's dates.

    ``last`` is the last complete month in the data: the month of the latest date if that date
    falls in the month's last three days (an export taken at month end rarely has orders on
    the very last day), else the month before.

    Raises:
        InputDataError: the requested month has no transactions.
    """
    first, last = dates.min().normalize(), dates.max().normalize()
    if period == "all":
        return Window("all", first - pd.Timedelta(days=1), last, first, last)
    if period == "last":
        month = last.to_period("M")
        if last < month.end_time.normalize() - pd.Timedelta(days=2):
            month -= 1
    else:
        month = pd.Period(period, freq="M")
    end = month.end_time.normalize()
    start = (month - lookback_months).end_time.normalize()
    in_window = (dates > start) & (dates <= end + pd.Timedelta(hours=23, minutes=59, seconds=59))
    if not in_window.any():
        raise InputDataError(
            f"no transactions in the window for period {month} "
            f"({start.date()} exclusive to {end.date()})",
            expected=f"a period inside the data, which runs from {first.date()} to {last.date()}",
            fix="pass --period YYYY-MM for a month in that range, or --period all")
    return Window(str(month), start, end, first, last)


def category_slug(name: str) -> str:
    """``Home Decor`` -> ``home_decor`` (for ``cat_share_<slug>`` column names)."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_") or "unknown"


def build_customer_features(transactions: pd.DataFrame, customers: pd.DataFrame,
                            reviews: pd.DataFrame, window: Window,
                            categories: list[str] | None = None) -> pd.DataFrame:
    """One row per customer with an order in the window: RFM, basket, tenure, category mix,
    demographics and review count (see the module docstring for every column).

    ``categories``: the category columns to give (a share of 0 for those a customer never
    bought); default, the categories bought in the window. A slice of the customers gets the
    columns of all of them this way.
    """
    end_of_day = window.end + pd.Timedelta(days=1)
    history = transactions[transactions["date"] < end_of_day]
    tx = history[history["date"] > window.start]
    grouped = tx.groupby("customer_id", sort=True)
    feats = pd.DataFrame({
        "recency_days": (window.end - grouped["date"].max()).dt.days.astype("float64"),
        "frequency": grouped["transaction_id"].nunique().astype("int64"),
        "monetary": grouped["total"].sum().astype("float64"),
    })
    feats["avg_order_value"] = feats["monetary"] / feats["frequency"]
    if "quantity" in tx.columns:
        feats["items_per_order"] = grouped["quantity"].mean().astype("float64")
    else:
        feats["items_per_order"] = np.nan
    first_order = history.groupby("customer_id")["date"].min()
    feats["tenure_days"] = (window.end - first_order.reindex(feats.index)).dt.days.astype("float64")

    if "category" in tx.columns:
        cats = tx.assign(category=tx["category"].fillna("Unknown"))
        spend = cats.pivot_table(index="customer_id", columns="category", values="total",
                                 aggfunc="sum", fill_value=0.0, observed=True)
        counts = cats.pivot_table(index="customer_id", columns="category", values="total",
                                  aggfunc="size", fill_value=0, observed=True)
        total = spend.sum(axis=1)
        # Customers whose window spend is 0 get their mix from order counts instead.
        shares = spend.div(total.where(total > 0), axis=0)
        zero = total <= 0
        shares.loc[zero] = counts.loc[zero].div(counts.loc[zero].sum(axis=1), axis=0)
        shares = shares.reindex(feats.index).fillna(0.0)
        shares = shares.reindex(columns=sorted(shares.columns) if categories is None else categories,
                                fill_value=0.0)
        top = shares.idxmax(axis=1).astype("string")
        shares.columns = [f"cat_share_{category_slug(c)}" for c in shares.columns]
        feats = feats.join(shares)
        feats["top_category"] = top

    attrs = customers.set_index("customer_id")
    feats = feats.join(attrs, how="left")
    feats["is_us"] = feats["is_us"].fillna(False).astype(bool)

    if len(reviews):
        in_window = reviews["date"].isna() | ((reviews["date"] > window.start) & (reviews["date"] < end_of_day))
        counts = reviews[in_window].groupby("customer_id").size()
        feats["review_count"] = counts.reindex(feats.index).fillna(0).astype("int64")
    else:
        feats["review_count"] = 0
    feats.index.name = "customer_id"
    return feats.reset_index()


def window_categories(transactions: pd.DataFrame, window: Window) -> list[str] | None:
    """The categories bought in the window, sorted (``None`` without a category column)."""
    if "category" not in transactions.columns:
        return None
    dates = transactions["date"]
    in_window = (dates > window.start) & (dates < window.end + pd.Timedelta(days=1))
    return sorted(transactions.loc[in_window, "category"].fillna("Unknown").unique())


def customer_slices(ids: pd.Series, n: int) -> np.ndarray:
    """Which of ``n`` slices each customer id falls in: a hash of the id, so that every row of
    one customer, in any table, lands in the same slice."""
    return (pd.util.hash_pandas_object(ids.astype("string"), index=False).to_numpy() % np.uint64(n)).astype(int)


def build_features_partitioned(executor, transactions: pd.DataFrame, customers: pd.DataFrame,
                               reviews: pd.DataFrame, window: Window, n_slices: int) -> pd.DataFrame:
    """:func:`build_customer_features` on ``n_slices`` slices of the customers, each a task of
    ``executor``; the same table as one call (every feature is one customer's)."""
    dates = transactions["date"]
    active = transactions.loc[(dates > window.start) & (dates < window.end + pd.Timedelta(days=1)),
                              "customer_id"].unique()
    transactions = transactions[transactions["customer_id"].isin(active)]
    tx_slice = customer_slices(transactions["customer_id"], n_slices)
    c_slice = customer_slices(customers["customer_id"], n_slices)
    r_slice = customer_slices(reviews["customer_id"], n_slices)
    used = sorted(set(tx_slice))
    futures = executor.map(build_customer_features,
                           [transactions[tx_slice == i] for i in used], [customers[c_slice == i] for i in used],
                           [reviews[r_slice == i] for i in used],
                           window=window, categories=window_categories(transactions, window))
    parts = executor.gather(futures)
    return pd.concat(parts, ignore_index=True).sort_values("customer_id", kind="stable").reset_index(drop=True)
