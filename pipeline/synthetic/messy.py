"""Injected mess: benign mess on valid rows (date formats, state spellings, case, money formats),
blank demographics, duplicate rows and invalid rows with their reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segment_report.pipeline.synthetic.arrays import _alloc, _obj

INVALID_REASONS = ("amount", "date", "customer_id", "negative_total")

# Never NA tokens ("N/A", "null"): a missing total next to a valid amount and quantity could
# legitimately be recomputed, so it would not be an invalid row.
BAD_NUMBERS = ("twelve", "12..5", "1O.99", "abc", "$--", "ten dollars", "#REF!", "1.2.3")
BAD_DATES = ("2026-13-45", "yesterday", "31/31/2026", "not a date", "2026-02-30", "00/00/0000",
             "last Tuesday", "2026/19/40")


def _date_strings(start: pd.Timestamp, n_days: int) -> dict[str, np.ndarray]:
    days = pd.date_range(start, periods=n_days, freq="D")
    return {
        "iso": _obj([d.strftime("%Y-%m-%d") for d in days]),
        "us": _obj([f"{d.month}/{d.day}/{d.year}" for d in days]),
        "short": _obj([d.strftime("%m-%d-%y") for d in days]),
    }


# Each kind of mess is drawn for all rows first (the draw, a small int or bool array) and then
# applied to any slice of rows (the apply), so a table can be built chunk by chunk with the same
# random stream, hence the same values, as in one go. ``_messy_x(rng, ...)`` is draw + apply.

def _draw_dates(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(3, size=n, p=(0.5, 0.3, 0.2)).astype(np.int8)


def _apply_dates(fmt: np.ndarray, day: np.ndarray, table: dict) -> np.ndarray:
    out = table["iso"][day].copy()
    out[fmt == 1] = table["us"][day[fmt == 1]]
    out[fmt == 2] = table["short"][day[fmt == 2]]
    return out


def _messy_dates(rng: np.random.Generator, day: np.ndarray, table: dict) -> np.ndarray:
    return _apply_dates(_draw_dates(rng, day.size), day, table)


def _draw_states(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(7, size=n, p=(0.45, 0.15, 0.1, 0.1, 0.08, 0.07, 0.05)).astype(np.int8)


def _apply_states(v: np.ndarray, names: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = names.copy()
    us = pd.notna(codes)
    for k, fn in ((1, lambda s, c: c), (2, lambda s, c: s.lower()),
                  (3, lambda s, c: f"  {s.upper()} "), (4, lambda s, c: f"{s} "),
                  (5, lambda s, c: c.lower()), (6, lambda s, c: s.upper())):
        idx = np.flatnonzero((v == k) & us)
        out[idx] = [fn(s, c) for s, c in zip(names[idx], codes[idx])]
    idx = np.flatnonzero((v >= 3) & ~us)
    out[idx] = [f" {s} " for s in names[idx]]
    return out


def _messy_states(rng: np.random.Generator, names: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """US states as names, codes, odd case and stray spaces; other regions get stray spaces."""
    return _apply_states(_draw_states(rng, names.size), names, codes)


def _draw_case(rng: np.random.Generator, n: int, share: float = 0.2) -> np.ndarray:
    return rng.choice(4, size=n, p=(1 - share, share / 3, share / 3, share / 3)).astype(np.int8)


def _apply_case(v: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = values.copy()
    for k, fn in ((1, str.lower), (2, str.upper), (3, lambda s: f" {s} ")):
        idx = np.flatnonzero((v == k) & pd.notna(values))
        out[idx] = [fn(s) for s in values[idx]]
    return out


def _messy_case(rng: np.random.Generator, values: np.ndarray, share: float = 0.2) -> np.ndarray:
    """Lower / upper case and stray whitespace on a share of the values (missing kept missing)."""
    return _apply_case(_draw_case(rng, values.size, share), values)


US_SPELLINGS = ("United States", "US", "usa")


def _draw_country(rng: np.random.Generator, is_usa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(case, spelling)``: the case draw and, per row, the index of another spelling of USA
    (-1: keep the value)."""
    case = _draw_case(rng, is_usa.size, 0.15)
    us = np.flatnonzero(is_usa & (rng.random(is_usa.size) < 0.1))
    spelling = np.full(is_usa.size, -1, dtype=np.int8)
    spelling[us] = rng.integers(0, 3, us.size)
    return case, spelling


def _apply_country(draw: tuple[np.ndarray, np.ndarray], country: np.ndarray) -> np.ndarray:
    case, spelling = draw
    out = _apply_case(case, country)
    us = np.flatnonzero(spelling >= 0)
    out[us] = _obj(US_SPELLINGS)[spelling[us]]
    return out


def _messy_country(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    return _apply_country(_draw_country(rng, country == "USA"), country)


def _draw_money(rng: np.random.Generator, n: int, share: float = 0.12) -> np.ndarray:
    return rng.random(n) < share


def _apply_money(fancy: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Numbers as text; where ``fancy``, with a currency symbol and thousands separators."""
    cents = np.rint(np.asarray(values) * 100).astype(np.int64)
    # Formatting in Arrow: a Python or numpy "%.2f" over millions of values takes seconds.
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    text = pc.binary_join_element_wise(pc.cast(pa.array(cents // 100), pa.string()), frac, ".")
    out = text.to_numpy(zero_copy_only=False).astype(object)
    idx = np.flatnonzero(fancy)
    out[idx] = [f"${v:,.2f}" for v in values[idx]]
    return out


def _money(rng: np.random.Generator, values: np.ndarray, share: float = 0.12) -> np.ndarray:
    """Numbers as text; a share with a currency symbol and thousands separators."""
    return _apply_money(_draw_money(rng, values.size, share), values)


def _blank_customers(rng: np.random.Generator, n_cust: int, share: float = 0.03) -> dict[str, np.ndarray]:
    """Customers whose age, gender or income is unknown (the same on all their rows)."""
    return {k: rng.random(n_cust) < share for k in ("age", "gender", "income")}


def _extra_rows(rng: np.random.Generator, rows, candidates: np.ndarray, n_dup: int,
                invalid: pd.DataFrame) -> pd.DataFrame:
    """Exact duplicates of candidate rows and the invalid rows, shuffled among themselves;
    ``rows(positions)`` builds the table's rows at those positions."""
    dup_src = np.sort(rng.choice(candidates, size=min(n_dup, candidates.size), replace=False))
    extra = pd.concat([rows(dup_src), invalid], ignore_index=True)
    return extra.iloc[rng.permutation(len(extra))]


def _inject(rng: np.random.Generator, df: pd.DataFrame, candidates: np.ndarray, n_dup: int,
            invalid: pd.DataFrame) -> pd.DataFrame:
    """Append exact duplicates of candidate rows and the invalid rows, shuffled among themselves."""
    extra = _extra_rows(rng, lambda pos: df.iloc[pos], candidates, n_dup, invalid)
    return pd.concat([df, extra], ignore_index=True)


def _invalid_rows(rng: np.random.Generator, rows, n_rows: int, n_invalid: int, id_col: str,
                  cust_col: str, date_col: str, total_col: str, amount_col: str,
                  next_id: int, retail: bool, blank_cols: tuple[str, ...]) -> tuple[pd.DataFrame, dict]:
    """Extra rows copied from valid ones with a new id and exactly one problem each; the valid
    table has ``n_rows`` rows and ``rows(positions)`` builds its rows at those positions."""
    per_reason = _alloc(n_invalid, np.ones(len(INVALID_REASONS)))
    reasons = np.repeat(np.array(INVALID_REASONS), per_reason)
    reasons = reasons[rng.permutation(reasons.size)]
    src = rng.choice(n_rows, size=n_invalid, replace=True)
    bad = rows(src).copy().reset_index(drop=True)
    bad[id_col] = [str(next_id + i) for i in range(n_invalid)]
    for col in blank_cols:
        bad[col] = None

    def numeric(col: str) -> np.ndarray:
        text = bad[col].astype(str).str.replace(r"[$,]", "", regex=True)
        return pd.to_numeric(text).to_numpy(dtype=float)

    amount_numeric, total_numeric = numeric(amount_col), numeric(total_col)
    on_amount = (reasons == "amount") & retail & (rng.random(n_invalid) < 0.5)
    on_total = (reasons == "amount") & ~on_amount
    bad_numbers = np.array(BAD_NUMBERS, dtype=object)[rng.integers(0, len(BAD_NUMBERS), n_invalid)]
    bad_dates = np.array(BAD_DATES, dtype=object)[rng.integers(0, len(BAD_DATES), n_invalid)]
    bad.loc[on_amount, amount_col] = bad_numbers[on_amount]
    bad.loc[on_total, total_col] = bad_numbers[on_total]
    m = reasons == "date"
    bad.loc[m, date_col] = bad_dates[m]
    bad.loc[reasons == "customer_id", cust_col] = None
    # A refund-like row: negative unit price and the matching negative total.
    m = reasons == "negative_total"
    bad.loc[m, amount_col] = [f"{-abs(v):.2f}" for v in amount_numeric[m]]
    bad.loc[m, total_col] = [f"{-abs(v):.2f}" for v in total_numeric[m]]
    ids = {r: bad.loc[reasons == r, id_col].astype(str).tolist() for r in INVALID_REASONS}
    detail = {f"amount:{amount_col}": int(on_amount.sum()), f"amount:{total_col}": int(on_total.sum())}
    return bad, {"ids": ids, "detail": {k: v for k, v in sorted(detail.items()) if v}}
