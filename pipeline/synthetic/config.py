"""Generator settings (:class:`GenerateConfig`) and what a generation wrote (:class:`GeneratedDataset`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.synthetic.catalogue import PERSONAS


@dataclass(frozen=True)
class GenerateConfig:
    """Parameters of one generated dataset (validated on creation).

    Attributes:
        mode: ``retail_table`` (one file, public Retail Transactional Dataset layout) or
            ``tables`` (customers.csv, transactions.csv, reviews.csv).
        n_transactions: valid, distinct transactions (1k to 10M); mess is added on top. The
            transaction-sized table (retail_data.csv, or transactions.csv) is built and
            written in chunks, so memory grows with the customers, transactions and reviews
            drawn, not with the text of the table (see ``benchmarks/RESULTS.md``).
        months, end_date: the window of history, ending on ``end_date`` (YYYY-MM-DD).
        n_personas: planted personas (4 to 7).
        seed: random seed; same config, same bytes.
        messy: inject benign mess, duplicates and invalid rows.
        review_share: share of transactions that carry a review.
        non_us_share: share of customers outside the USA.
        real_text_share: share of clothing reviews that use a real CC0 review text.
        pii_text_share: share of reviews whose text carries the customer's e-mail or phone.
        sentiment_spend_pct: planted spend effect, % order value per +0.1 satisfaction.
        satisfaction_sd: sd of each customer's satisfaction around their latent sentiment
            (at most 0.1875, where it would take all of the 0.75-star rating noise).
        state_sentiment_shift: planted sentiment shift of the high and low state groups.
        invalid_share, duplicate_share: invalid and duplicate rows (messy only), as shares of
            ``n_transactions`` (of each file's rows for duplicates in mode ``tables``).
        parts: ``none`` (default): each table is one CSV file. ``monthly``: the retail table
            (mode ``retail_table``), and the transactions and the reviews (mode ``tables``),
            are each written as a folder of CSV parts, one per calendar month of the row's
            date: ``retail_data/2026-05.csv``, ``retail_data/2026-06.csv``, ... (and
            ``transactions/<YYYY-MM>.csv``, ``reviews/<YYYY-MM>.csv``); customers.csv stays one
            file. Rows whose date is missing or not a real date (messy mode's invalid ``date``
            rows) go to ``undated.csv`` in the same folder. A part is written only for a
            month that has rows (``undated.csv`` only when some row is undated); every part
            has the table's header, and rows keep the order of the single file, so the parts
            together hold exactly the rows of the single file. Same seed, same rows: only
            the layout on disk differs. The written ``segment-report.yaml`` points the
            input's ``path`` at the folder (``retail_data/``), ``GeneratedDataset.data_files``
            names the folders and ``ground_truth.json`` lists the parts with their row counts
            (``parts``). Config and ground truth with ``parts: none`` are as before the field
            existed (it is left out of ``generator.config``).

    Raises:
        ConfigError: a value is out of range (the message names the key, the allowed range
            and the value received).
    """

    mode: Literal["retail_table", "tables"] = "retail_table"
    n_transactions: int = 20_000
    months: int = 6
    end_date: str = "2026-10-31"
    n_personas: int = 5
    seed: int = 42
    messy: bool = False
    review_share: float = 0.25
    non_us_share: float = 0.10
    real_text_share: float = 0.85
    pii_text_share: float = 0.01
    sentiment_spend_pct: float = 15.0
    satisfaction_sd: float = 0.15
    state_sentiment_shift: float = 0.15
    invalid_share: float = 0.015
    duplicate_share: float = 0.01
    parts: Literal["none", "monthly"] = "none"

    def __post_init__(self) -> None:
        def bad(key: str, allowed: str, value: object) -> ConfigError:
            return ConfigError(f"generate: '{key}' must be {allowed}; got {value!r}",
                               expected=allowed, fix=f"pass a valid {key}")

        if self.mode not in ("retail_table", "tables"):
            raise bad("mode", "'retail_table' or 'tables'", self.mode)
        if not 1_000 <= self.n_transactions <= MAX_TRANSACTIONS:
            raise bad("n_transactions", f"an int in [1000, {MAX_TRANSACTIONS}]", self.n_transactions)
        if self.parts not in ("none", "monthly"):
            raise bad("parts", "'none' or 'monthly'", self.parts)
        if not 1 <= self.months <= 60:
            raise bad("months", "an int in [1, 60]", self.months)
        if not 4 <= self.n_personas <= len(PERSONAS):
            raise bad("n_personas", f"an int in [4, {len(PERSONAS)}]", self.n_personas)
        try:
            datetime.strptime(self.end_date, "%Y-%m-%d")
        except (TypeError, ValueError):
            raise bad("end_date", "a date YYYY-MM-DD", self.end_date) from None
        for key, hi in (("review_share", 1.0), ("non_us_share", 0.5), ("real_text_share", 1.0),
                        ("pii_text_share", 0.2), ("invalid_share", 0.2),
                        ("duplicate_share", 0.2), ("state_sentiment_shift", 0.5)):
            value = getattr(self, key)
            if not 0.0 <= value <= hi:
                raise bad(key, f"a number in [0, {hi}]", value)
        if not 0.0 <= self.satisfaction_sd <= RATING_NOISE_SD / 4:
            raise bad("satisfaction_sd", f"a number in [0, {RATING_NOISE_SD / 4}]", self.satisfaction_sd)
        if not 0.0 <= self.sentiment_spend_pct <= 50.0:
            raise bad("sentiment_spend_pct", "a number in [0, 50]", self.sentiment_spend_pct)


@dataclass(frozen=True)
class GeneratedDataset:
    """What :func:`generate_dataset` wrote: ``data_files`` names each data table's file, or
    its folder of parts with ``parts="monthly"``."""

    out_dir: Path
    data_files: dict[str, Path]
    config_file: Path
    truth_file: Path
    rows: dict[str, int] = field(default_factory=dict)
    n_customers: int = 0
    n_reviews: int = 0
    part_files: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    """With ``parts="monthly"``: the part files of each table written as a folder, in
    file-name order (``undated.csv`` last)."""

    def summary(self) -> str:
        """One line for the CLI: files (a folder of parts with its part count), rows, customers."""
        files = ", ".join(
            f"{p.name}/ ({len(self.part_files[k])} parts, {self.rows.get(k, 0):,} rows)"
            if k in self.part_files else f"{p.name} ({self.rows.get(k, 0):,} rows)"
            for k, p in self.data_files.items())
        return (f"{files}; {self.n_customers:,} customers, {self.n_reviews:,} reviews; "
                f"config {self.config_file.name}, truth {self.truth_file.name} in {self.out_dir}")


RATING_NOISE_SD = 0.75
MAX_TRANSACTIONS = 10_000_000
