"""The generated tables in memory: customers, transactions and reviews laid out as the retail table
or as three tables, with the mess injected."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from segment_report.pipeline.synthetic.arrays import _col, _obj
from segment_report.pipeline.synthetic.catalogue import CATEGORIES, MONTH_NAMES, PERSONAS, RETAIL_COLUMNS
from segment_report.pipeline.synthetic.config import GenerateConfig
from segment_report.pipeline.synthetic.customers import _make_customers, plant_lapses
from segment_report.pipeline.synthetic.messy import (_apply_case, _apply_country, _apply_dates, _apply_money,
                                                     _apply_states, _blank_customers, _date_strings,
                                                     _draw_case, _draw_country, _draw_dates, _draw_money,
                                                     _draw_states, _extra_rows, _inject, _invalid_rows,
                                                     _messy_case, _messy_country, _messy_states)
from segment_report.pipeline.synthetic.reviews import _make_reviews
from segment_report.pipeline.synthetic.transactions import _make_transactions
from segment_report.pipeline.synthetic.truth import _truth


class RowSource:
    """A table built on demand, so that it can be written chunk by chunk.

    Its rows are the ``n_valid`` rows that ``rows(positions)`` builds (any positions, in any
    order, always the same values), then ``extra`` (duplicates and invalid rows, if any).
    ``len()`` counts both; :meth:`frame` is the whole table in memory.
    """

    def __init__(self, n_valid: int, rows: Callable[[np.ndarray], pd.DataFrame],
                 extra: pd.DataFrame | None = None) -> None:
        self.n_valid, self.rows, self.extra = n_valid, rows, extra

    def __len__(self) -> int:
        return self.n_valid + (0 if self.extra is None else len(self.extra))

    def chunks(self, size: int) -> Iterator[pd.DataFrame]:
        """The table in order, as frames of at most ``size`` valid rows, then the extra rows."""
        for lo in range(0, self.n_valid, size):
            yield self.rows(np.arange(lo, min(lo + size, self.n_valid)))
        if self.extra is not None and len(self.extra):
            yield self.extra.reset_index(drop=True)

    def frame(self) -> pd.DataFrame:
        df = self.rows(np.arange(self.n_valid))
        return df if self.extra is None else pd.concat([df, self.extra], ignore_index=True)


def _window(cfg: GenerateConfig) -> tuple[pd.Timestamp, pd.Timestamp, int]:
    end = pd.Timestamp(cfg.end_date)
    start = end + pd.Timedelta(days=1) - pd.DateOffset(months=cfg.months)
    return start, end, int((end - start).days) + 1


def generate_frames(cfg: GenerateConfig) -> tuple[dict[str, pd.DataFrame], dict]:
    """Generate the data and its ground truth in memory (no I/O).

    Args:
        cfg: generator parameters.

    Returns:
        ``(frames, truth)``. ``frames`` holds the data tables (``"retail_table"`` in mode
        ``retail_table``; ``"customers"``, ``"transactions"``, ``"reviews"`` in mode
        ``tables``), all columns as written to CSV, plus ``"truth_customers"`` and
        ``"truth_reviews"``. ``truth`` is the JSON-serialisable content of
        ``ground_truth.json`` (less its ``parts`` row counts with ``parts="monthly"``, known
        once the parts are written). The tables are whole in memory: for millions of
        transactions :func:`generate_dataset` builds and writes them in chunks instead.
    """
    tables, truth = generate_tables(cfg)
    return {k: v.frame() if isinstance(v, RowSource) else v for k, v in tables.items()}, truth


def generate_tables(cfg: GenerateConfig) -> tuple[dict[str, pd.DataFrame | RowSource], dict]:
    """:func:`generate_frames` with the transaction-sized tables left as :class:`RowSource`
    (``"retail_table"``, or ``"transactions"`` and ``"reviews"``), so that a writer can build and write them chunk
    by chunk instead of holding them whole; the other tables are frames."""
    personas = PERSONAS[: cfg.n_personas]
    root = np.random.SeedSequence(cfg.seed)
    # spawn(6) keeps the first streams of spawn(4) and spawn(5): adding the satisfaction and
    # lapse streams left the values drawn from the others unchanged
    rngs = dict(zip(("customers", "transactions", "reviews", "mess", "satisfaction", "lapses"),
                    (np.random.default_rng(s) for s in root.spawn(6))))
    start, end, n_days = _window(cfg)
    mean_orders = float(np.dot([p.weight for p in personas], [p.orders_mean for p in personas])
                        / sum(p.weight for p in personas))
    n_cust = max(50, int(round(cfg.n_transactions / mean_orders)))

    cust = _make_customers(cfg, rngs["customers"], n_cust, personas)
    plant_lapses(rngs["lapses"], cust, personas)
    cust["satisfaction"] = np.clip(
        cust["sentiment"] + rngs["satisfaction"].normal(0.0, cfg.satisfaction_sd, n_cust), 0.02, 0.98)
    tx = _make_transactions(cfg, rngs["transactions"], cust, personas, n_days)
    rev = _make_reviews(cfg, rngs["reviews"], cust, tx, n_days)
    dates = _date_strings(start, n_days)
    mess_rng = rngs["mess"]
    cidx = tx["cidx"]

    blank = _blank_customers(mess_rng, n_cust) if cfg.messy else {
        k: np.zeros(n_cust, dtype=bool) for k in ("age", "gender", "income")}
    age = pd.array(cust["age"], dtype="Int64")
    age[blank["age"]] = pd.NA
    gender = cust["gender"].copy()
    gender[blank["gender"]] = None
    income_band = cust["income_band"].copy()
    income_band[blank["income"]] = None
    income_num = cust["income"].copy()
    income_num[blank["income"]] = np.nan

    tenure = n_days - 1 - np.floor(cust["first"] * (n_days - 1))
    segment = np.where(tenure < 60, "New",
                       np.where((cust["income_band"] == "High") & (cust["price_level"] >= 1.4),
                                "Premium", "Regular"))
    segment = _obj(list(segment))
    shown = {"age": age, "gender": gender, "income_band": income_band, "income": income_num,
             "segment": segment}

    frames: dict[str, pd.DataFrame | RowSource] = {}
    if cfg.mode == "retail_table":
        frames["retail_table"], mess_truth, review_ids = _retail_table(cfg, cust, tx, rev, start, dates,
                                                                       mess_rng, shown)
    else:
        tables, mess_truth, review_ids = _tables(cfg, cust, tx, rev, dates, mess_rng, shown)
        frames.update(zip(("customers", "transactions", "reviews"), tables))

    if cfg.messy:
        mess_truth["unknown"] = {k: int(v.sum()) for k, v in blank.items()}
    frames["truth_customers"] = pd.DataFrame({
        "customer_id": cust["customer_id"], "persona_id": cust["persona_id"],
        "persona": _obj([p.name for p in personas])[cust["persona_id"]],
        "sentiment": np.round(cust["sentiment"], 6),
        "satisfaction": np.round(cust["satisfaction"], 6), "state": cust["state_code"],
        "country": cust["country"], "n_orders": tx["counts"],
        "active_at_end": cust["active"], "monthly_order_rate": np.round(tx["monthly_rate"], 6),
    })
    frames["truth_reviews"] = pd.DataFrame({
        "review_id": review_ids, "customer_id": cust["customer_id"][cidx[rev["tx_pos"]]],
        "true_label": rev["label"], "rating": rev["rating"], "text_source": rev["source"],
        "has_pii": rev["has_pii"],
    })
    truth = _truth(cfg, personas, cust, tx, rev, start, end, frames, mess_truth, review_ids)
    return frames, truth


def _retail_table(cfg: GenerateConfig, cust: dict, tx: dict, rev: dict, start: pd.Timestamp, dates: dict,
                  mess_rng: np.random.Generator, shown: dict) -> tuple[RowSource, dict, np.ndarray]:
    """Mode ``retail_table``: one row per transaction in the public dataset's layout, mess injected
    when ``cfg.messy``; ``shown`` holds the customer columns with the blanked values. Returns the
    table, its mess truth and the review id (a transaction id) of every review."""
    age, gender, income_band, segment = (shown[k] for k in ("age", "gender", "income_band", "segment"))
    n_tx, cidx = tx["day"].size, tx["cidx"]
    mess_truth: dict = {}
    feedback = np.full(n_tx, None, dtype=object)
    feedback[rev["tx_pos"]] = rev["text"]
    ratings = pd.array(np.full(n_tx, pd.NA), dtype="Int64")
    ratings[rev["tx_pos"]] = rev["rating"]
    time_table = _obj([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)])
    categories = _obj(CATEGORIES)
    # All the random mess is drawn here, for all rows and in a fixed order; rows() only applies it.
    draw: dict = {}
    if cfg.messy:
        draw["date"] = _draw_dates(mess_rng, n_tx)
        draw["state"] = _draw_states(mess_rng, n_tx)
        draw["gender"] = _draw_case(mess_rng, n_tx)
        draw["country"] = _draw_country(mess_rng, (cust["country"] == "USA")[cidx])
        draw["category"] = _draw_case(mess_rng, n_tx, 0.1)
        draw["city"] = _draw_case(mess_rng, n_tx, 0.1)
        draw["amount"] = _draw_money(mess_rng, n_tx)
        draw["total"] = _draw_money(mess_rng, n_tx)

    def text(values: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
        return _col(values) if values.dtype == object else values

    def rows(pos: np.ndarray) -> pd.DataFrame:
        c, day = cidx[pos], tx["day"][pos]
        d = pd.DatetimeIndex(start + pd.to_timedelta(day, unit="D"))
        if cfg.messy:
            date_col = _apply_dates(draw["date"][pos], day, dates)
            state_col = _apply_states(draw["state"][pos], cust["region"][c], cust["state_code"][c])
            gender_col = _apply_case(draw["gender"][pos], gender[c])
            country_col = _apply_country(tuple(a[pos] for a in draw["country"]), cust["country"][c])
            category_col = _apply_case(draw["category"][pos], categories[tx["cat"][pos]])
            city_col = _apply_case(draw["city"][pos], cust["city"][c])
            amount_col = _apply_money(draw["amount"][pos], tx["amount"][pos])
            total_col = _apply_money(draw["total"][pos], tx["total"][pos])
        else:
            date_col = dates["iso"][day]
            state_col = cust["region"][c]
            gender_col = gender[c]
            country_col = cust["country"][c]
            category_col = categories[tx["cat"][pos]]
            city_col = cust["city"][c]
            amount_col = tx["amount"][pos]
            total_col = tx["total"][pos]
        df = pd.DataFrame({
            "Transaction_ID": _col(_tx_ids(pos, "")), "Customer_ID": _col(cust["customer_id"], c),
            "Name": _col(cust["name"], c), "Email": _col(cust["email"], c),
            "Phone": _col(cust["phone"], c), "Address": _col(cust["address"], c),
            "City": text(city_col), "State": text(state_col),
            "Zipcode": _col(cust["zipcode"], c), "Country": text(country_col),
            "Age": age[c], "Gender": text(gender_col), "Income": _col(income_band, c),
            "Customer_Segment": _col(segment, c), "Date": _col(date_col),
            "Year": d.year.to_numpy().astype("int64"),
            "Month": _col(_obj(MONTH_NAMES), d.month.to_numpy() - 1),
            "Time": _col(time_table, tx["secs"][pos]), "Total_Purchases": tx["qty"][pos],
            "Amount": text(amount_col), "Total_Amount": text(total_col),
            "Product_Category": text(category_col), "Product_Brand": _col(tx["brand"][pos]),
            "Product_Type": _col(tx["ptype"][pos]), "Feedback": _col(feedback[pos]),
            "Shipping_Method": _col(tx["shipping"][pos]), "Payment_Method": _col(tx["payment"][pos]),
            "Order_Status": _col(tx["status"][pos]), "Ratings": ratings[pos],
            "products": _col(tx["product"][pos]),
        })
        assert tuple(df.columns) == RETAIL_COLUMNS
        return df

    extra = None
    if cfg.messy:
        n_invalid = int(round(cfg.invalid_share * n_tx))
        bad, inv = _invalid_rows(mess_rng, rows, n_tx, n_invalid, "Transaction_ID", "Customer_ID",
                                 "Date", "Total_Amount", "Amount", 1_000_001 + n_tx, True,
                                 ("Feedback", "Ratings"))
        candidates = np.setdiff1d(np.arange(n_tx), rev["tx_pos"][rev["has_pii"]])
        n_dup = int(round(cfg.duplicate_share * n_tx))
        extra = _extra_rows(mess_rng, rows, candidates, n_dup, bad)
        mess_truth = {"retail_table": {"duplicates": n_dup, "invalid": inv}}
    return RowSource(n_tx, rows, extra), mess_truth, _tx_ids(rev["tx_pos"], "")


def _tx_ids(pos: np.ndarray, prefix: str) -> np.ndarray:
    """Transaction ids of the transactions at ``pos`` (1,000,001 for the first)."""
    return _obj([f"{prefix}{1_000_001 + i}" for i in pos.tolist()])


def _tables(cfg: GenerateConfig, cust: dict, tx: dict, rev: dict, dates: dict, mess_rng: np.random.Generator,
            shown: dict) -> tuple[tuple[pd.DataFrame, RowSource, RowSource], dict, np.ndarray]:
    """Mode ``tables``: customers, transactions and reviews tables, mess injected when
    ``cfg.messy``; ``shown`` holds the customer columns with the blanked values. Returns the three
    tables (transactions and reviews as :class:`RowSource`), their mess truth and the id of every
    review."""
    age, gender, income_num = shown["age"], shown["gender"], shown["income"]
    n_tx, cidx = tx["day"].size, tx["cidx"]
    mess_truth: dict = {}
    cust_df = pd.DataFrame({
        "customer_id": cust["customer_id"], "name": cust["name"], "email": cust["email"],
        "phone": cust["phone"], "address": cust["address"], "city": cust["city"],
        "zipcode": cust["zipcode"], "state": cust["region"], "country": cust["country"],
        "age": age, "gender": gender, "income": income_num,
    })
    categories = _obj(CATEGORIES)
    draw: dict = {}

    def tx_rows(pos: np.ndarray) -> pd.DataFrame:
        day, cat = tx["day"][pos], categories[tx["cat"][pos]]
        if cfg.messy:
            date = _apply_dates(draw["date"][pos], day, dates)
            amount = _col(_apply_money(draw["amount"][pos], tx["amount"][pos]))
            total = _col(_apply_money(draw["total"][pos], tx["total"][pos]))
            cat = _apply_case(draw["category"][pos], cat)
        else:
            date, amount, total = dates["iso"][day], tx["amount"][pos], tx["total"][pos]
        return pd.DataFrame({
            "transaction_id": _col(_tx_ids(pos, "T")), "customer_id": _col(cust["customer_id"], cidx[pos]),
            "date": _col(date), "quantity": tx["qty"][pos], "amount": amount, "total": total,
            "category": _col(cat),
        })

    tx_extra = None
    rorder = np.lexsort((rev["tx_pos"], rev["day"]))
    n_rev = rorder.size
    review_ids = _obj([f"R{500_001 + i}" for i in range(n_rev)])
    inv_order = np.empty(n_rev, dtype=np.int64)
    inv_order[rorder] = np.arange(n_rev)
    review_ids = review_ids[inv_order]  # id by review position in rev arrays
    rev_customer = cust["customer_id"][cidx[rev["tx_pos"]]]

    def rev_rows(pos: np.ndarray) -> pd.DataFrame:
        """Reviews in date order (positions into ``rorder``); the texts are not copied whole."""
        o = rorder[pos]
        day = rev["day"][o]
        date = _apply_dates(draw["rev_date"][pos], day, dates) if cfg.messy else dates["iso"][day]
        return pd.DataFrame({"review_id": review_ids[o], "customer_id": rev_customer[o],
                             "date": date, "text": rev["text"][o], "rating": rev["rating"][o]})

    rev_extra = None
    if cfg.messy:
        cust_df["state"] = _messy_states(mess_rng, cust["region"], cust["state_code"])
        cust_df["gender"] = _messy_case(mess_rng, gender)
        cust_df["country"] = _messy_country(mess_rng, cust["country"])
        cust_df["city"] = _messy_case(mess_rng, cust["city"], 0.1)
        # the transactions' mess is drawn here, in a fixed order; tx_rows() only applies it
        draw["date"] = _draw_dates(mess_rng, n_tx)
        draw["amount"] = _draw_money(mess_rng, n_tx)
        draw["total"] = _draw_money(mess_rng, n_tx)
        draw["category"] = _draw_case(mess_rng, n_tx, 0.1)
        draw["rev_date"] = _draw_dates(mess_rng, n_rev)
        n_invalid = int(round(cfg.invalid_share * n_tx))
        bad, inv = _invalid_rows(mess_rng, tx_rows, n_tx, n_invalid, "transaction_id", "customer_id",
                                 "date", "total", "amount", 1_000_001 + n_tx, False, ())
        bad["transaction_id"] = "T" + bad["transaction_id"]
        inv["ids"] = {k: [f"T{v}" for v in ids] for k, ids in inv["ids"].items()}
        dup = {k: int(round(cfg.duplicate_share * n)) for k, n in
               (("customers", len(cust_df)), ("transactions", n_tx), ("reviews", n_rev))}
        cust_df = _inject(mess_rng, cust_df, np.arange(len(cust_df)), dup["customers"],
                          cust_df.iloc[:0])
        tx_extra = _extra_rows(mess_rng, tx_rows, np.arange(n_tx), dup["transactions"], bad)
        rev_no_pii = np.flatnonzero(~rev["has_pii"][rorder])
        rev_extra = _extra_rows(mess_rng, rev_rows, rev_no_pii, dup["reviews"],
                                rev_rows(np.arange(min(1, n_rev))).iloc[:0])
        mess_truth = {"customers": {"duplicates": dup["customers"]},
                      "transactions": {"duplicates": dup["transactions"], "invalid": inv},
                      "reviews": {"duplicates": dup["reviews"]}}
    return ((cust_df, RowSource(n_tx, tx_rows, tx_extra), RowSource(n_rev, rev_rows, rev_extra)),
            mess_truth, review_ids)
