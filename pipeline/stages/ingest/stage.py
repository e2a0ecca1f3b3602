"""Ingest: read the inputs, normalise the mess, validate, quarantine bad rows, strip personal data.

Two input modes (DESIGN.md): one retail table in the layout of the public Retail
Transactional Dataset, or separate customers / transactions / reviews files with any column
names. Both end in the same canonical tables:

- transactions: transaction_id, customer_id, date, quantity, amount, total, category, ...
- customers: customer_id, age, gender, income, income_band, region, state, country, is_us
- reviews: review_id, customer_id, date, text (personal data scrubbed), rating

Real-world mess is repaired, not rejected: mixed date formats, stray whitespace, odd case,
state names / codes / FIPS, currency symbols and thousands separators, exact duplicate rows
(dropped and counted), missing optional values. Rows that cannot be used go to the quarantine
with a reason; a valid row is never dropped. Validation of the parsed tables uses pandera.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from segment_report.pipeline.config import InputConfig, PrivacyConfig
from segment_report.pipeline.constants import INCOME_BAND_EDGES, INCOME_BANDS
from segment_report.pipeline.errors import InputDataError
from segment_report.pipeline.stages.ingest.privacy import (PII_FIELDS, hash_ids, resolve_salt, scrub_text,
                                                           scrub_texts)
from segment_report.pipeline.engine import Executor, LocalExecutor
from segment_report.pipeline.stages.ingest.readers import RawTable, file_sha256, read_raw_table
from segment_report.pipeline.stages.ingest.sources import (duplicates_across, filesystem, input_parts, is_url,
                                                           repeated_ids_across, row_hashes)
from segment_report.pipeline.states import CODE_TO_NAME, normalise_states

# --------------------------------------------------------------------------- reasons

REASONS: dict[str, str] = {
    "customer_id_missing": "customer id is empty",
    "date_missing": "date is empty",
    "date_unparseable": "date is not a date",
    "amount_missing": "amount is empty and cannot be derived from unit price x quantity",
    "amount_not_a_number": "amount is not a number",
    "negative_amount": "amount is negative",
    "quantity_invalid": "quantity is not a positive number",
    "malformed_line": "line has the wrong number of fields",
    "duplicate_customer_id": "customer id appears more than once in the customers file",
    "field_too_large": "a value is longer than input.max_field_bytes (it is not copied)",
}

TRANSACTION_FIELDS = ("transaction_id", "customer_id", "date", "quantity", "amount", "total",
                      "category", "brand", "product_type", "shipping_method", "payment_method",
                      "order_status")
CUSTOMER_FIELDS = ("customer_id", "age", "gender", "income", "income_band", "region", "state",
                   "country", "is_us")
REVIEW_FIELDS = ("review_id", "customer_id", "transaction_id", "date", "text", "rating")

DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%m-%d-%y", "%Y/%m/%d", "%d.%m.%Y",
                "%b %d, %Y", "%d %b %Y", "%B %d, %Y", "%d %B %Y")
_COUNTRY_ALIASES = {
    "uk": "UK", "u.k.": "UK", "united kingdom": "UK", "great britain": "UK", "britain": "UK",
    "england": "UK", "germany": "Germany", "deutschland": "Germany", "canada": "Canada",
    "australia": "Australia", "france": "France", "mexico": "Mexico", "india": "India",
}
_GENDERS = {"f": "female", "female": "female", "woman": "female", "w": "female",
            "m": "male", "male": "male", "man": "male"}
_INCOME_BANDS = {"low": "low", "l": "low", "medium": "medium", "mid": "medium", "middle": "medium",
                 "m": "medium", "high": "high", "h": "high"}


@dataclass
class IngestResult:
    """Canonical, validated tables plus everything rejected and counted on the way."""

    transactions: pd.DataFrame
    customers: pd.DataFrame
    reviews: pd.DataFrame
    quarantine: pd.DataFrame
    quality: dict[str, Any]
    #: every file read (every part): file, sha256, bytes
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        """One-line human summary."""
        q = self.quality["totals"]
        return (f"{q['rows_read']:,} rows read, {q['rows_kept']:,} kept, "
                f"{q['duplicates_dropped']:,} duplicates dropped, "
                f"{q['rows_quarantined']:,} quarantined; {len(self.customers):,} customers, "
                f"{len(self.reviews):,} reviews")


# --------------------------------------------------------------------------- parsing helpers

# Arrow-backed strings: pandas then runs string methods as vectorised pyarrow kernels (RE2),
# where the default Python-backed "string" dtype loops in Python (10x slower on 1M rows).
STR = pd.StringDtype("pyarrow")


def per_unique(values: pd.Series, func) -> pd.Series:
    """Apply a vectorised ``func`` to the distinct values only, then broadcast back.

    Dates, states, countries and even amounts repeat a lot; parsing each distinct string
    once is what keeps ingest above 100k rows/s.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == len(values):
        return func(values)
    result = func(pd.Series(uniques, dtype=values.dtype if len(uniques) else STR))
    taken = result.take(np.where(codes < 0, 0, codes)) if len(result) else result.reindex(range(len(codes)))
    out = pd.Series(taken.to_numpy() if not isinstance(taken.dtype, pd.StringDtype) else taken.array,
                    index=values.index, dtype=result.dtype)
    return out.mask(codes < 0)


def clean_text(values: pd.Series) -> pd.Series:
    """Strip whitespace and collapse inner runs; empty strings become missing."""
    out = values.astype(STR).str.strip()
    out = out.str.replace(r"[ \t\r\n]{2,}", " ", regex=True)
    return out.mask(out == "")


def parse_number(values: pd.Series) -> pd.Series:
    """Parse numbers written with currency symbols, codes, spaces or thousands separators.

    ``$1,234.50`` -> 1234.5, ``USD 12`` -> 12, ``(12.50)`` -> -12.5. Anything else that is not a
    number becomes NaN (the caller decides whether that is an error).
    """
    return per_unique(values.astype(STR), _parse_number)


def _parse_number(values: pd.Series) -> pd.Series:
    text = values.str.replace(r"(?i)usd|eur|gbp|cad|aud|[$€£¥ \t]", "", regex=True)
    negative = text.str.startswith("(").fillna(False) & text.str.endswith(")").fillna(False)
    text = text.where(~negative, "-" + text.str.slice(1, -1))
    thousands = text.str.fullmatch(r"-?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?").fillna(False)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    return pd.to_numeric(text, errors="coerce").astype("float64")


def parse_dates(values: pd.Series, date_format: str = "auto", dayfirst: bool = False
                ) -> tuple[pd.Series, dict[str, int]]:
    """Parse a date column that may mix formats (``2026-09-18``, ``9/18/2026``, ``09-18-26``).

    Each value is tried against ISO 8601 first, then US-style month-first formats (day-first
    when ``dayfirst``), then a few written-out forms. Returns the dates (NaT where nothing fits,
    or before 1900) and how many values each format read.
    """
    text = values.astype(STR)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    parsed_uniques, used_uniques = _parse_date_strings(pd.Series(uniques, dtype=STR), date_format,
                                                       dayfirst, counts)
    result = pd.Series(parsed_uniques.to_numpy()[np.where(codes < 0, 0, codes)] if len(uniques)
                       else np.full(len(codes), np.datetime64("NaT"), "datetime64[ns]"),
                       index=values.index, dtype="datetime64[ns]").mask(codes < 0)
    return result, used_uniques


def _parse_date_strings(text: pd.Series, date_format: str, dayfirst: bool,
                        weights: np.ndarray) -> tuple[pd.Series, dict[str, int]]:
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    used: dict[str, int] = {}
    if date_format != "auto":
        formats: tuple[str, ...] = (date_format,)
    else:
        formats = ("ISO8601",) + tuple(
            f.replace("%m", "%D").replace("%d", "%m").replace("%D", "%d") if dayfirst else f
            for f in DATE_FORMATS)
    todo = text.notna()
    for fmt in formats:
        if not todo.any():
            break
        # utc=True: one column may mix offsets and naive times (found by tests/test_fuzz.py)
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce", utc=True).dt.tz_convert(None)
        # a year such as -1 or 99999 parses at a coarser unit but does not fit nanoseconds
        parsed = parsed.where((parsed >= pd.Timestamp.min) & (parsed <= pd.Timestamp.max))
        parsed = parsed.astype("datetime64[ns]")
        ok = parsed.notna()
        if ok.any():
            result.loc[parsed.index[ok]] = parsed[ok]
            used[fmt] = int(weights[parsed.index[ok]].sum())
            todo.loc[parsed.index[ok]] = False
    return result.mask(result.dt.year < 1900), used


def normalise_customer_id(values: pd.Series) -> pd.Series:
    """Strip ids and undo float formatting from spreadsheets (``1042.0`` -> ``1042``)."""
    out = clean_text(values)
    return out.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def normalise_country(values: pd.Series, us_names: tuple[str, ...]) -> pd.Series:
    """Map country spellings to one name each: every US variant to ``USA``."""
    mapping = {name: "USA" for name in us_names} | _COUNTRY_ALIASES

    def _one(uniques: pd.Series) -> pd.Series:
        out = clean_text(uniques)
        return out.str.lower().map(mapping).fillna(out).astype(STR)

    return per_unique(values.astype(STR), _one)


def normalise_gender(values: pd.Series) -> pd.Series:
    """female / male / other; missing stays missing."""
    def _one(uniques: pd.Series) -> pd.Series:
        lower = clean_text(uniques).str.lower()
        mapped = lower.map(_GENDERS)
        return mapped.where(lower.isna() | mapped.notna(), "other").astype(STR)

    return per_unique(values.astype(STR), _one)


def normalise_income(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers -> (income, band by INCOME_BAND_EDGES); band words -> (NaN, band)."""
    text = clean_text(values)
    numbers = parse_number(text)
    present = text.notna().sum()
    if present and numbers.notna().sum() >= 0.5 * present:
        bands = pd.cut(numbers, [-np.inf, *INCOME_BAND_EDGES, np.inf], right=False,
                       labels=list(INCOME_BANDS)).astype(STR)
        return numbers, bands
    bands = per_unique(text, lambda u: u.str.lower().map(_INCOME_BANDS).astype(STR))
    return pd.Series(np.nan, index=values.index, dtype="float64"), bands


def normalise_category(values: pd.Series) -> pd.Series:
    """Title case with single spaces: ``  home   DECOR`` -> ``Home Decor``."""
    return per_unique(values.astype(STR), lambda u: clean_text(u).str.title())


# --------------------------------------------------------------------------- validation schema

def _schema(name: str, columns: dict[str, pa.Column]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(columns, name=name, strict=False, coerce=False)


TRANSACTION_SCHEMA = _schema("transactions", {
    "customer_id": pa.Column(None, nullable=False),
    "date": pa.Column("datetime64[ns]", nullable=False),
    "total": pa.Column("float64", pa.Check.ge(0, error="negative_amount"), nullable=False),
    "amount": pa.Column("float64", pa.Check.ge(0, error="negative_amount"), nullable=True,
                        required=False),
    "quantity": pa.Column("float64", pa.Check.gt(0, error="quantity_invalid"), nullable=True,
                          required=False),
})
CUSTOMER_SCHEMA = _schema("customers", {
    "customer_id": pa.Column(None, nullable=False),
    "age": pa.Column("float64", pa.Check.in_range(10, 110), nullable=True),
})
REVIEW_SCHEMA = _schema("reviews", {
    "customer_id": pa.Column(None, nullable=False),
    "rating": pa.Column("float64", pa.Check.in_range(1, 5), nullable=True),
})


def _schema_failures(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Row-level failures of a pandera schema: columns index, column, check."""
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        return cases[["index", "column", "check"]].astype({"check": "string"})
    return pd.DataFrame(columns=["index", "column", "check"])


# --------------------------------------------------------------------------- table helpers

def _map_columns(raw: RawTable, mapping: Any, required: tuple[str, ...],
                 what: str) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """Rename mapped source columns to canonical names; check required ones exist.

    Returns the canonical frame, canonical -> source names actually present, and the canonical
    fields whose default column is absent from the file (optional, so just noted).
    """
    frame = raw.frame
    available = set(frame.columns)
    wanted = {canon: src for canon, src in mapping.model_dump().items() if src is not None}
    explicit = mapping.model_fields_set
    present: dict[str, str] = {}
    absent: list[str] = []
    for canon, src in wanted.items():
        if src in available:
            present[canon] = src
        elif canon in required or canon in explicit:
            close = _closest(src, available)
            hint = f" (did you mean '{close}'?)" if close else ""
            raise InputDataError(
                f"required column '{src}' ({canon.replace('_', ' ')}) is missing{hint}",
                file=raw.where,
                expected=f"columns including {sorted(set(wanted[c] for c in required if c in wanted))}; "
                         f"found {sorted(available)[:40]}",
                fix=f"rename the column in the file, or map it in the config "
                    f"({what}.columns.{canon}: <your column name>)")
        else:
            absent.append(canon)
    out = frame[list(present.values())].copy()
    out.columns = list(present.keys())
    return out, present, absent


def _closest(name: str, options: set[str]) -> str | None:
    import difflib

    lowered = {o.lower(): o for o in options}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return match[0] if match else None


#: Fields copied into the quarantine as they are (never scrubbed): the row's ids.
_ID_FIELDS = ("customer_id", "transaction_id", "review_id")


@dataclass
class _Rejects:
    """Collects quarantined rows with reasons for one source file."""

    raw: RawTable
    source_cols: dict[str, str]
    pii_sources: set[str]
    privacy: PrivacyConfig
    rows: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, mask: pd.Series, code: str, field_name: str | None, values: pd.Series | None = None) -> None:
        idx = mask[mask].index
        src = self.source_cols.get(field_name or "", field_name or "")
        for i in idx:
            detail = REASONS[code]
            if values is not None:
                val = values.get(i)
                if val is not None and not (isinstance(val, float) and np.isnan(val)) and val is not pd.NA:
                    # a raw value may be a phone number or e-mail typed in the wrong column
                    shown = str(val) if field_name in _ID_FIELDS else scrub_text(str(val), privacy=self.privacy)
                    detail = f"{detail}: {shown[:60]!r}"
            self.rows.setdefault(int(i), []).append((code, f"{src}: {detail}" if src else detail))

    def add_oversized(self, rows: dict[int, dict[str, int]], limit: int) -> None:
        """Quarantine the rows with a value over ``input.max_field_bytes`` (``RawTable.oversized``)."""
        for i, columns in rows.items():
            for column, size in columns.items():
                self.rows.setdefault(int(i), []).append(
                    ("field_too_large", f"{column}: value of {size:,} bytes, more than "
                                        f"input.max_field_bytes ({limit:,}); not copied"))

    @property
    def index(self) -> pd.Index:
        return pd.Index(sorted(self.rows))

    def _scrub_free_text(self, base: pd.DataFrame) -> None:
        """Scrub the raw cells of quarantined rows in place: review text and title as kept
        reviews are (with the writer's own name and address); every other text cell except
        the ids of e-mails and phone numbers (a raw value may sit in the wrong column)."""
        frame = self.raw.frame
        name_col, addr_col = self.source_cols.get("name"), self.source_cols.get("address")
        names = frame.loc[base.index, name_col] if name_col in frame.columns else None
        addresses = frame.loc[base.index, addr_col] if addr_col in frame.columns else None
        texts = {self.source_cols.get(f) for f in ("review_text", "text", "title")}
        ids = {self.source_cols.get(f) for f in _ID_FIELDS}
        for col in base.columns:
            if col in ids or not (pd.api.types.is_object_dtype(base[col])
                                  or pd.api.types.is_string_dtype(base[col])):
                continue
            own = (names, addresses) if col in texts else (None, None)
            scrubbed = scrub_texts(base[col], *own, self.privacy)
            base[col] = scrubbed.astype(object).where(base[col].notna(), base[col])

    def frame(self, salt: bytes | None, id_source: str | None) -> pd.DataFrame:
        keep_cols = [c for c in self.raw.frame.columns if c not in self.pii_sources]
        idx = self.index
        base = self.raw.frame.loc[idx, keep_cols].copy()
        if salt is not None and id_source in base.columns:
            base[id_source] = hash_ids(normalise_customer_id(base[id_source]), salt)
        self._scrub_free_text(base)
        codes = [";".join(dict.fromkeys(c for c, _ in self.rows[i])) for i in idx]
        texts = ["; ".join(t for _, t in self.rows[i]) for i in idx]
        meta = pd.DataFrame({"source_file": self.raw.name, "row": idx + 1,
                             "reason_code": codes, "reason": texts}, index=idx)
        malformed = pd.DataFrame([{
            "source_file": self.raw.name, "row": pd.NA, "reason_code": "malformed_line",
            "reason": f"line {line['line'] or '?'}: {line['actual_fields']} fields, expected "
                      f"{line['expected_fields']} (text not copied: it may hold personal data)"}
            for line in self.raw.malformed_lines], columns=list(meta.columns))
        parts = [p for p in (pd.concat([meta, base], axis=1), malformed) if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else pd.concat([meta, base], axis=1)


def _reason_counts(frames: list[pd.DataFrame]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for frame in frames:
        for codes in frame.get("reason_code", pd.Series(dtype=str)):
            for code in str(codes).split(";"):
                counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))


def _missing(frame: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, int]:
    return {c: int(frame[c].isna().sum()) for c in columns if c in frame.columns}


# --------------------------------------------------------------------------- transactions

def _parse_transactions(frame: pd.DataFrame, cfg: InputConfig, rejects: _Rejects,
                        stats: dict[str, Any], id_prefix: str = "row-") -> pd.DataFrame:
    """Parse and validate transaction fields in place; flag unusable rows in ``rejects``."""
    out = pd.DataFrame(index=frame.index)
    out["customer_id"] = normalise_customer_id(frame["customer_id"])
    raw_date = clean_text(frame["date"])
    out["date"], stats["date_formats"] = parse_dates(raw_date, cfg.date_format, cfg.dayfirst)
    for name in ("quantity", "amount", "total"):
        if name in frame.columns:
            raw = clean_text(frame[name])
            out[name] = parse_number(raw)
            bad = raw.notna() & out[name].isna()
            if name == "quantity":
                rejects.add(bad, "quantity_invalid", name, raw)
            else:
                rejects.add(bad, "amount_not_a_number", name, raw)
    if "total" not in out.columns:
        out["total"] = np.nan
        total_raw = pd.Series(pd.NA, index=frame.index, dtype=STR)
    else:
        total_raw = clean_text(frame["total"])
    if "amount" in out.columns and "quantity" in out.columns:
        derivable = total_raw.isna() & out["amount"].notna() & out["quantity"].notna()
        out.loc[derivable, "total"] = (out.loc[derivable, "amount"]
                                       * out.loc[derivable, "quantity"]).round(2)
        stats["totals_derived"] = int(derivable.sum())
    rejects.add(out["customer_id"].isna(), "customer_id_missing", "customer_id")
    rejects.add(raw_date.isna(), "date_missing", "date")
    rejects.add(raw_date.notna() & out["date"].isna(), "date_unparseable", "date", raw_date)
    rejects.add(total_raw.isna() & out["total"].isna(), "amount_missing", "total")
    # pandera checks the parsed values (sign, quantity > 0) on rows still standing.
    standing = out.drop(index=rejects.index, errors="ignore")
    failures = _schema_failures(standing, TRANSACTION_SCHEMA)
    for (column, code), cases in failures.groupby(["column", "check"]):
        if code in REASONS:
            mask = pd.Series(True, index=pd.Index(cases["index"].astype(int).unique()))
            rejects.add(mask, code, column, clean_text(frame[column]))
    for name in ("category", "brand", "product_type", "shipping_method", "payment_method",
                 "order_status"):
        if name in frame.columns:
            out[name] = normalise_category(frame[name]) if name == "category" else clean_text(frame[name])
    if "transaction_id" in frame.columns:
        out["transaction_id"] = clean_text(frame["transaction_id"])
    else:
        out["transaction_id"] = pd.Series(pd.NA, index=frame.index, dtype=STR)
    missing_id = out["transaction_id"].isna()
    out.loc[missing_id, "transaction_id"] = id_prefix + (out.index[missing_id] + 1).astype(str)
    return out


def _parse_customer_attributes(frame: pd.DataFrame, cfg: InputConfig, privacy: PrivacyConfig,
                               stats: dict[str, Any]) -> pd.DataFrame:
    """Demographics and location of each row, normalised (never a reason to reject a row)."""
    out = pd.DataFrame(index=frame.index)
    if "age" in frame.columns:
        age = parse_number(clean_text(frame["age"]))
        out_of_range = age.notna() & ~age.between(10, 110)
        stats["age_out_of_range_set_missing"] = int(out_of_range.sum())
        out["age"] = age.mask(out_of_range)
    else:
        out["age"] = np.nan
    out["gender"] = normalise_gender(frame["gender"]) if "gender" in frame.columns else pd.NA
    if "income" in frame.columns:
        out["income"], out["income_band"] = normalise_income(frame["income"])
    else:
        out["income"], out["income_band"] = np.nan, pd.NA
    country = (normalise_country(frame["country"], cfg.us_country_names)
               if "country" in frame.columns else pd.Series(pd.NA, index=frame.index, dtype=STR))
    region = clean_text(frame["state"]) if "state" in frame.columns else pd.Series(
        pd.NA, index=frame.index, dtype=STR)
    codes = normalise_states(region)
    is_us = (country == "USA").fillna(False) | (country.isna() & codes.notna())
    # US regions read as the state's proper name; other countries keep their own spelling.
    out["region"] = codes.map(CODE_TO_NAME).astype(STR).where(is_us & codes.notna(), region)
    out["state"] = codes.where(is_us)
    out["country"] = country.where(country.notna(), pd.Series("USA", index=frame.index).where(is_us))
    out["is_us"] = is_us.astype(bool)
    unknown = is_us & region.notna() & codes.isna()
    stats["unknown_states"] = int(unknown.sum())
    stats["unknown_state_values"] = {  # raw values quoted in data_quality.json: scrubbed
        scrub_text(str(k), privacy=privacy): int(v) for k, v in region[unknown].value_counts().head(10).items()}
    stats["state_spellings_normalised"] = int((is_us & codes.notna() & (region != codes)).sum())
    return out


def _customers_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: each attribute's most recent known value."""
    cols = [c for c in CUSTOMER_FIELDS if c != "customer_id"]
    ordered = rows.sort_values("date", kind="stable")
    customers = ordered.groupby("customer_id", sort=True)[cols].last()
    customers["is_us"] = customers["is_us"].fillna(False).astype(bool)
    return customers.reset_index()


# --------------------------------------------------------------------------- reviews

def _reviews_from_rows(rows: pd.DataFrame, text_col: str, rating_col: str | None,
                       stats: dict[str, Any]) -> pd.DataFrame:
    text = clean_text(rows[text_col]) if text_col in rows.columns else pd.Series(
        pd.NA, index=rows.index, dtype=STR)
    if "title" in rows.columns:  # a review title is scored (and quoted) with its text
        from segment_report.pipeline.stages.sentiment.text import review_texts

        both = pd.DataFrame({"title": clean_text(rows["title"]), "text": text})
        text = pd.Series(review_texts(both, "text", "title"), index=rows.index, dtype=STR)
    rating = (parse_number(clean_text(rows[rating_col])) if rating_col and rating_col in rows.columns
              else pd.Series(np.nan, index=rows.index))
    bad_rating = rating.notna() & ~rating.between(1, 5)
    stats["ratings_out_of_range_set_missing"] = int(bad_rating.sum())
    rating = rating.mask(bad_rating)
    has = text.notna() | rating.notna()
    return pd.DataFrame({"text": text[has], "rating": rating[has]})


def _scrub_reviews(reviews: pd.DataFrame, pii: pd.DataFrame, privacy: PrivacyConfig) -> pd.DataFrame:
    names = pii["name"] if "name" in pii.columns else None
    addresses = pii["address"] if "address" in pii.columns else None
    reviews = reviews.copy()
    reviews["text"] = scrub_texts(reviews["text"],
                                  names.reindex(reviews.index) if names is not None else None,
                                  addresses.reindex(reviews.index) if addresses is not None else None,
                                  privacy)
    return reviews


# --------------------------------------------------------------------------- parts

def _read_part(location: str | Path, label: str, what: str, cfg: InputConfig) -> RawTable:
    """Read one part (on a worker with the Dask engine), with its SHA-256 for manifest.json."""
    if is_url(location):
        raw = _read_url(str(location), label, what, cfg)
    else:
        raw = read_raw_table(Path(location), what, cfg.encoding, cfg.max_field_bytes)
        raw.sha256, raw.size = file_sha256(raw.path), raw.path.stat().st_size
    raw.label = label
    return raw


def _read_url(url: str, label: str, what: str, cfg: InputConfig) -> RawTable:
    """Fetch a part from its filesystem (fsspec) to a temporary file, read that, drop it."""
    fs, inner = filesystem(url, what)
    with tempfile.TemporaryDirectory(prefix="segment-report-") as tmp:
        local = Path(tmp) / Path(label).name  # the suffix is kept: CSV or Parquet is told by it
        try:
            fs.get_file(inner, str(local))
        except FileNotFoundError:
            raise InputDataError(f"{what} file not found", file=url, expected="an existing CSV or Parquet file",
                                 fix="check the URL (input.path / input.<table>.path or --input)") from None
        except OSError as exc:
            raise InputDataError(f"{what} file cannot be fetched: {exc}", file=url,
                                 expected="a file this machine can read",
                                 fix="check the URL and the credentials of its filesystem") from None
        try:
            raw = read_raw_table(local, what, cfg.encoding, cfg.max_field_bytes)
        except InputDataError as exc:
            exc.file = url  # the user knows the URL, not the temporary copy
            raise
        raw.sha256, raw.size = file_sha256(local), local.stat().st_size
    raw.source = url
    return raw


def _part_record(raw: RawTable) -> dict[str, Any]:
    """What manifest.json says of one input file."""
    return {"file": raw.where, "sha256": raw.sha256, "bytes": raw.size}


def _part_hashes(raw: RawTable) -> pd.DataFrame:
    return row_hashes(raw.frame)


def _duplicate_rows(raw: RawTable, key: str | None = None) -> pd.Index:
    """The exact duplicate rows of one file (the first copy is kept). Exact duplicates share
    their id column, so only rows with a repeated id (when there is one) are compared in full,
    which is much cheaper on wide files."""
    frame = raw.frame
    if key is not None and key in frame.columns:
        candidates = frame[key].duplicated(keep=False).to_numpy()
        dup = np.zeros(len(frame), dtype=bool)
        if candidates.any():
            dup[candidates] = frame[candidates].duplicated(keep="first").to_numpy()
    else:
        dup = frame.duplicated(keep="first").to_numpy()
    return frame.index[dup]


@dataclass
class _Source:
    """One input table, read: a handle per part (the executor's: the RawTable itself, or a
    future on a worker), and per part the duplicate rows to drop (``None``: one part, found
    while opening it)."""

    raws: list[Any]
    drops: list[pd.Index | None]
    files: list[dict[str, Any]]
    label: str

    @property
    def multi(self) -> bool:
        return len(self.raws) > 1


def _read_source(ex: Executor, path: Path | None, what: str, cfg: InputConfig) -> _Source:
    """Read every part of one input on the executor; with several parts, find the exact
    duplicate rows across them from row hashes."""
    if path is None:
        raise InputDataError(f"no {what} file given",
                             expected="input.path in the config or --input FILE",
                             fix="segment-report run --input retail_data.csv (or set input.path)")
    parts = input_parts(path, what)
    locations, labels = [p for p, _ in parts], [label for _, label in parts]
    raws = ex.map(_read_part, locations, labels, what=what, cfg=cfg)
    files = ex.gather(ex.map(_part_record, raws))
    if len(parts) == 1:
        return _Source(raws, [None], files, labels[0])
    drops = duplicates_across(ex.gather(ex.map(_part_hashes, raws)))
    name = str(path).rstrip("/").rsplit("/", 1)[-1]
    return _Source(raws, drops, files, f"{name} ({len(parts)} parts)")


def _merge_counts(values: list[Any]) -> Any:
    """One part's counts merged into all parts': numbers added, dicts merged key by key, lists
    joined without repeats; anything else is the first part's."""
    first = values[0]
    if isinstance(first, bool) or not isinstance(first, (int, float, dict, list)):
        return first
    if isinstance(first, (int, float)):
        return sum(values)
    if isinstance(first, list):
        return list(dict.fromkeys(v for value in values for v in value))
    keys = list(dict.fromkeys(k for value in values for k in value))
    return {k: _merge_counts([v[k] for v in values if k in v]) for k in keys}


def _merge_stats(source: _Source, stats: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts of a source: its one file's, or every part's added up, with a line per part."""
    if not source.multi:
        return stats[0]
    merged = _merge_counts(stats)
    if "unknown_state_values" in merged:  # the ten most frequent, as for one file
        top = sorted(merged["unknown_state_values"].items(), key=lambda kv: -kv[1])[:10]
        merged["unknown_state_values"] = dict(top)
    merged["file"] = source.label
    merged["parts"] = [{k: s[k] for k in ("file", "rows_read", "rows_kept", "rows_quarantined",
                                          "duplicates_dropped")} for s in stats]
    return merged


def _pii_sources(present: dict[str, str], extra: tuple[str, ...], frame: pd.DataFrame) -> set[str]:
    return {present[f] for f in PII_FIELDS if f in present} | {c for c in extra if c in frame.columns}


@dataclass
class _Table:
    """One input file, opened: raw text, canonical columns (deduplicated), stats and rejects."""

    raw: RawTable
    canon: pd.DataFrame
    present: dict[str, str]
    stats: dict[str, Any]
    rejects: _Rejects


def _open_table(raw: RawTable, drop: pd.Index | None, cfg: InputConfig, privacy: PrivacyConfig,
                mapping: Any, required: tuple[str, ...], config_key: str, id_field: str | None) -> _Table:
    """Map one file's columns, drop its exact duplicates (``drop``, else found here) and start
    its reject list."""
    canon, present, absent = _map_columns(raw, mapping, required, config_key)
    stats: dict[str, Any] = {"file": raw.name, "rows_read": len(raw.frame) + len(raw.malformed_lines),
                             "malformed_lines": len(raw.malformed_lines), "columns_absent": absent}
    if drop is None:
        drop = _duplicate_rows(raw, present.get(id_field) if id_field else None)
    stats["duplicates_dropped"] = len(drop)
    if len(drop):
        canon = canon.drop(index=drop)
    rejects = _Rejects(raw, present, _pii_sources(present, cfg.extra_pii_columns, raw.frame), privacy)
    if raw.oversized:
        oversized = {i: cols for i, cols in raw.oversized.items() if i in canon.index}
        rejects.add_oversized(oversized, cfg.max_field_bytes)
        stats["fields_too_large"] = sum(len(cols) for cols in oversized.values())
    return _Table(raw, canon, present, stats, rejects)


def _require_amount(table: _Table, fix: str) -> None:
    if "total" not in table.present and not {"amount", "quantity"} <= set(table.present):
        raise InputDataError("no usable amount column", file=table.raw.where,
                             expected="an order total column, or unit amount and quantity columns",
                             fix=fix)


def _finish_stats(table: _Table, kept: int) -> dict[str, Any]:
    table.stats["rows_quarantined"] = len(table.rejects.rows) + len(table.raw.malformed_lines)
    table.stats["rows_kept"] = kept
    return table.stats


@dataclass
class _Part:
    """What one part of a table gave: its kept rows (canonical tables), its quarantined rows
    and its counts."""

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    stats: dict[str, Any]


def _id_prefix(raw: RawTable, multi: bool, default: str) -> str:
    """Ids made up for rows without one: ``row-12``, or ``2026-05.csv:row-12`` among parts."""
    return f"{raw.name}:{default}" if multi else default


# --------------------------------------------------------------------------- mode retail_table

def _retail_part(raw: RawTable, drop: pd.Index | None, multi: bool, cfg: InputConfig,
                 privacy: PrivacyConfig, salt: bytes | None) -> _Part:
    """One part of the retail table: its transactions with each row's customer attributes,
    its reviews, its quarantine."""
    table = _open_table(raw, drop, cfg, privacy, cfg.columns, ("customer_id", "date"), "input",
                        "transaction_id")
    _require_amount(table, "map input.columns.total to the column holding the order amount")
    canon, stats, rejects = table.canon, table.stats, table.rejects
    tx = _parse_transactions(canon, cfg, rejects, stats, _id_prefix(raw, multi, "row-"))
    attrs = _parse_customer_attributes(canon, cfg, privacy, stats)
    kept_idx = tx.index.difference(rejects.index)
    rows = pd.concat([tx, attrs], axis=1).loc[kept_idx]
    review_cols = [c for c in ("review_text", "rating") if c in canon.columns]
    reviews = _reviews_from_rows(canon.loc[kept_idx, review_cols], "review_text", "rating", stats)
    pii = canon.loc[reviews.index, [c for c in PII_FIELDS if c in canon.columns]]
    reviews = _scrub_reviews(reviews, pii, privacy)
    reviews.insert(0, "review_id", rows.loc[reviews.index, "transaction_id"])
    reviews.insert(1, "customer_id", rows.loc[reviews.index, "customer_id"])
    reviews.insert(2, "transaction_id", rows.loc[reviews.index, "transaction_id"])
    reviews.insert(3, "date", rows.loc[reviews.index, "date"])
    return _Part({"rows": rows, "reviews": reviews}, rejects.frame(salt, cfg.columns.customer_id),
                 _finish_stats(table, len(kept_idx)))


def _ingest_retail(ex: Executor, cfg: InputConfig, privacy: PrivacyConfig, salt: bytes | None
                   ) -> tuple[dict[str, pd.DataFrame], list[pd.DataFrame], dict, list[dict[str, Any]]]:
    source = _read_source(ex, cfg.path, "retail table", cfg)
    parts = ex.gather(ex.map(_retail_part, source.raws, source.drops, multi=source.multi, cfg=cfg,
                             privacy=privacy, salt=salt))
    rows = _concat([p.tables["rows"] for p in parts])
    tables = {
        "transactions": rows[[c for c in TRANSACTION_FIELDS if c in rows.columns]],
        # every part's rows at once: a customer's latest attributes may be in any part
        "customers": _customers_from_rows(rows),
        "reviews": _concat([p.tables["reviews"] for p in parts]),
    }
    stats = _merge_stats(source, [p.stats for p in parts])
    return tables, [p.quarantine for p in parts], {"retail_table": stats}, source.files


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Parts' rows in part order (one part: its frame as it is)."""
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- mode tables

def _customer_ids(raw: RawTable, drop: pd.Index | None, cfg: InputConfig) -> pd.Series:
    """One customers part's normalised ids, its duplicate rows left out."""
    canon, _, _ = _map_columns(raw, cfg.table_columns("customers"), ("customer_id",), "input.customers")
    if drop is None:
        drop = _duplicate_rows(raw)
    return normalise_customer_id(canon["customer_id"].drop(index=drop))


def _customers_part(raw: RawTable, drop: pd.Index | None, repeated: pd.Index, cfg: InputConfig,
                    privacy: PrivacyConfig, salt: bytes | None) -> _Part:
    """One part of the customers table; ``repeated``: its rows whose id came before."""
    table = _open_table(raw, drop, cfg, privacy, cfg.table_columns("customers"), ("customer_id",),
                        "input.customers", None)
    canon, stats, rejects = table.canon, table.stats, table.rejects
    ids = normalise_customer_id(canon["customer_id"])
    rejects.add(ids.isna(), "customer_id_missing", "customer_id")
    rejects.add(pd.Series(ids.index.isin(repeated), index=ids.index), "duplicate_customer_id", "customer_id", ids)
    attrs = _parse_customer_attributes(canon, cfg, privacy, stats)
    attrs.insert(0, "customer_id", ids)
    kept = attrs.index.difference(rejects.index)
    pii = canon.loc[kept, [c for c in PII_FIELDS if c in canon.columns]]
    pii.index = attrs.loc[kept, "customer_id"].to_numpy()
    return _Part({"customers": attrs.loc[kept], "pii": pii},
                 rejects.frame(salt, cfg.table_columns("customers").customer_id), _finish_stats(table, len(kept)))


def _transactions_part(raw: RawTable, drop: pd.Index | None, multi: bool, cfg: InputConfig,
                       privacy: PrivacyConfig, salt: bytes | None) -> _Part:
    """One part of the transactions table."""
    table = _open_table(raw, drop, cfg, privacy, cfg.table_columns("transactions"), ("customer_id", "date"),
                        "input.transactions", "transaction_id")
    _require_amount(table, "map input.transactions.columns.total to the order amount column")
    tx = _parse_transactions(table.canon, cfg, table.rejects, table.stats, _id_prefix(raw, multi, "row-"))
    kept = tx.index.difference(table.rejects.index)
    transactions = tx.loc[kept, [c for c in TRANSACTION_FIELDS if c in tx.columns]]
    return _Part({"transactions": transactions},
                 table.rejects.frame(salt, cfg.table_columns("transactions").customer_id),
                 _finish_stats(table, len(kept)))


def _reviews_part(raw: RawTable, drop: pd.Index | None, multi: bool, pii_c: pd.DataFrame, cfg: InputConfig,
                  privacy: PrivacyConfig, salt: bytes | None) -> _Part:
    """One part of the reviews table; ``pii_c``: every customer's name and address (by id),
    to scrub them from their own reviews."""
    table = _open_table(raw, drop, cfg, privacy, cfg.table_columns("reviews"), ("customer_id", "text"),
                        "input.reviews", "review_id")
    canon_r, stats_r, rej_r = table.canon, table.stats, table.rejects
    rid = normalise_customer_id(canon_r["customer_id"])
    rej_r.add(rid.isna(), "customer_id_missing", "customer_id")
    kept_r = canon_r.index.difference(rej_r.index)
    body = _reviews_from_rows(canon_r.loc[kept_r], "text", "rating", stats_r)
    owner = rid.loc[body.index]
    pii_rows = pii_c.reindex(owner.to_numpy())
    pii_rows.index = body.index
    body = _scrub_reviews(body, pii_rows, privacy)
    if "date" in canon_r.columns:
        dates, _ = parse_dates(clean_text(canon_r.loc[body.index, "date"]), cfg.date_format, cfg.dayfirst)
        stats_r["review_dates_unparseable"] = int(
            (clean_text(canon_r.loc[body.index, "date"]).notna() & dates.isna()).sum())
    else:
        dates = pd.Series(pd.NaT, index=body.index, dtype="datetime64[ns]")
    review_ids = (clean_text(canon_r.loc[body.index, "review_id"]) if "review_id" in canon_r.columns
                  else pd.Series(pd.NA, index=body.index, dtype=STR))
    review_ids = review_ids.fillna(_id_prefix(raw, multi, "review-") + (body.index.to_series() + 1).astype(str))
    reviews = pd.DataFrame({"review_id": review_ids, "customer_id": owner,
                            "transaction_id": pd.Series(pd.NA, index=body.index, dtype=STR),
                            "date": dates, "text": body["text"], "rating": body["rating"]})
    return _Part({"reviews": reviews}, rej_r.frame(salt, cfg.table_columns("reviews").customer_id),
                 _finish_stats(table, len(kept_r)))


def _ingest_tables(ex: Executor, cfg: InputConfig, privacy: PrivacyConfig, salt: bytes | None
                   ) -> tuple[dict[str, pd.DataFrame], list[pd.DataFrame], dict, list[dict[str, Any]]]:
    quarantine: list[pd.DataFrame] = []
    files: dict[str, Any] = {}
    paths: list[dict[str, Any]] = []

    src_c = _read_source(ex, cfg.customers.path, "customers", cfg)
    repeated = repeated_ids_across(ex.gather(ex.map(_customer_ids, src_c.raws, src_c.drops, cfg=cfg)))
    parts_c = ex.gather(ex.map(_customers_part, src_c.raws, src_c.drops, repeated, cfg=cfg, privacy=privacy,
                               salt=salt))
    customers = _concat([p.tables["customers"] for p in parts_c])
    pii_c = pd.concat([p.tables["pii"] for p in parts_c]) if src_c.multi else parts_c[0].tables["pii"]
    quarantine += [p.quarantine for p in parts_c]
    files["customers"] = _merge_stats(src_c, [p.stats for p in parts_c])
    paths += src_c.files

    src_t = _read_source(ex, cfg.transactions.path, "transactions", cfg)
    parts_t = ex.gather(ex.map(_transactions_part, src_t.raws, src_t.drops, multi=src_t.multi, cfg=cfg,
                               privacy=privacy, salt=salt))
    transactions = _concat([p.tables["transactions"] for p in parts_t])
    stats_t = _merge_stats(src_t, [p.stats for p in parts_t])
    stats_t["transactions_without_customer_record"] = int(
        (~transactions["customer_id"].isin(customers["customer_id"])).sum())
    quarantine += [p.quarantine for p in parts_t]
    files["transactions"] = stats_t
    paths += src_t.files

    # customers known only from transactions still count (with unknown demographics)
    extra_ids = pd.Index(transactions["customer_id"].unique()).difference(pd.Index(customers["customer_id"]))
    if len(extra_ids):
        filler = pd.DataFrame({"customer_id": pd.array(extra_ids, dtype=STR), "is_us": False})
        customers = pd.concat([customers, filler], ignore_index=True)
    customers = customers.sort_values("customer_id", kind="stable").reset_index(drop=True)

    reviews = pd.DataFrame(columns=list(REVIEW_FIELDS))
    if cfg.reviews is not None:
        src_r = _read_source(ex, cfg.reviews.path, "reviews", cfg)
        parts_r = ex.gather(ex.map(_reviews_part, src_r.raws, src_r.drops, multi=src_r.multi,
                                   pii_c=ex.share(pii_c), cfg=cfg, privacy=privacy, salt=salt))
        reviews = _concat([p.tables["reviews"] for p in parts_r])
        quarantine += [p.quarantine for p in parts_r]
        files["reviews"] = _merge_stats(src_r, [p.stats for p in parts_r])
        paths += src_r.files
    return {"transactions": transactions, "customers": customers, "reviews": reviews}, quarantine, files, paths


# --------------------------------------------------------------------------- entry point

def ingest(cfg: InputConfig, privacy: PrivacyConfig, executor: Executor | None = None) -> IngestResult:
    """Read, normalise and validate the inputs of either mode.

    Each input may be one file, a glob or a folder of parts (``sources.input_parts``); every
    part is read and normalised by ``executor`` (default: in this process), and the result is
    the same as for the parts concatenated into one file, except that made-up ids of rows
    without one name their part.

    Returns:
        The canonical tables (personal data removed, review text scrubbed, ids hashed when
        configured), the quarantined rows with reasons, and data-quality counts.

    Raises:
        InputDataError: a file is missing, unreadable, empty, of the wrong format or encoding,
            lacks a required column, or every row was rejected.
        ConfigError: id hashing is on without a salt.
    """
    salt = resolve_salt(privacy)
    ex = executor or LocalExecutor()
    ingest_mode = _ingest_retail if cfg.mode == "retail_table" else _ingest_tables
    tables, quarantines, files, paths = ingest_mode(ex, cfg, privacy, salt)

    for name, stats in files.items():
        if stats["rows_kept"] == 0:
            raise InputDataError(
                f"every row was rejected ({stats['rows_read']:,} read, "
                f"{stats['rows_quarantined']:,} quarantined, {stats['duplicates_dropped']:,} duplicates)",
                file=stats["file"],
                expected="rows with a customer id, a date and a non-negative amount",
                fix="check the column mapping and the date/number formats; "
                    "the reasons are listed in quarantine.csv of the run folder")

    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else pd.DataFrame()
    if salt is not None:
        for table in tables.values():
            if "customer_id" in table.columns:
                table["customer_id"] = hash_ids(table["customer_id"], salt)

    transactions = tables["transactions"].reset_index(drop=True)
    customers = tables["customers"].reset_index(drop=True)
    reviews = tables["reviews"].reset_index(drop=True)
    for frame in (transactions, customers, reviews):
        for col in ("customer_id", "transaction_id", "review_id"):
            if col in frame.columns:
                frame[col] = frame[col].astype(STR)

    totals = {key: sum(int(s.get(key, 0)) for s in files.values())
              for key in ("rows_read", "rows_kept", "duplicates_dropped", "rows_quarantined")}
    quality = {
        "mode": cfg.mode,
        "totals": totals,
        "files": files,
        "quarantined_by_reason": _reason_counts([quarantine]),
        "reason_descriptions": REASONS,
        "missing_values": {
            "transactions": _missing(transactions, TRANSACTION_FIELDS),
            # state only exists for US customers: count it among them
            "customers": {**_missing(customers, CUSTOMER_FIELDS),
                          "state": int((customers["is_us"] & customers["state"].isna()).sum())},
            "reviews": _missing(reviews, ("text", "rating", "date")),
        },
        "customers": int(len(customers)),
        "reviews": int(len(reviews)),
        "non_us_customers_by_country": customers.loc[~customers["is_us"], "country"]
        .fillna("unknown").value_counts().sort_index().astype(int).to_dict(),
        "us_customers": int(customers["is_us"].sum()),
        "us_customers_unknown_state": int((customers["is_us"] & customers["state"].isna()).sum()),
        "personal_data_dropped": sorted({f for f in PII_FIELDS}),
        "customer_ids_hashed": salt is not None,
    }
    return IngestResult(transactions, customers, reviews, quarantine, quality, paths)
