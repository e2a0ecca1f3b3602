"""Writing a generated dataset: the data files, their truth, and a config that reads them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.log import logger, progress_bar
from segment_report.pipeline.synthetic.catalogue import CUSTOMER_COLUMNS, REVIEW_COLUMNS
from segment_report.pipeline.synthetic.config import GenerateConfig, GeneratedDataset
from segment_report.pipeline.synthetic.frames import RowSource, _window, generate_tables
from segment_report.pipeline.synthetic.messy import _date_strings
from segment_report.pipeline.synthetic.truth import PARTED_TABLES, data_file_names

CHUNK_ROWS = 200_000
"""Rows of a transaction-sized table built and written at a time: its CSV text is never held
whole, so memory does not grow with it."""

UNDATED = "undated"
"""The part (``undated.csv``) of the rows whose date is missing or not a real date."""

_PART_NAME = re.compile(r"(\d{4}-\d{2}|" + UNDATED + r")\.csv")
_WRITE_OPTIONS = pacsv.WriteOptions(quoting_style="needed")
_BODY_OPTIONS = pacsv.WriteOptions(quoting_style="needed", include_header=False)
_DATE_COLUMN = {"retail_table": "Date", "transactions": "date", "reviews": "date"}


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pacsv.write_csv(table, path, write_options=_WRITE_OPTIONS)


def _chunks(table: pd.DataFrame | RowSource) -> Iterable[pd.DataFrame]:
    return table.chunks(CHUNK_ROWS) if isinstance(table, RowSource) else [table]


def _schema(table: pd.DataFrame | RowSource) -> pa.Schema:
    """The Arrow schema every chunk is cast to: the valid rows' types, widened where the extra
    (duplicate and invalid) rows need it, e.g. a column that is all missing there."""
    if not isinstance(table, RowSource):
        return pa.Schema.from_pandas(table, preserve_index=False)
    schema = pa.Schema.from_pandas(table.rows(np.arange(min(1, table.n_valid))), preserve_index=False)
    if table.extra is not None and len(table.extra):
        extra = pa.Schema.from_pandas(table.extra.reset_index(drop=True), preserve_index=False)
        schema = pa.unify_schemas([schema, extra], promote_options="permissive")
    return schema.remove_metadata()


class _CsvSink:
    """One CSV file written chunk by chunk: the header on creation, then each chunk appended.

    Not one pyarrow CSVWriter held open per file: with a dozen open at once (monthly parts),
    their memory grew with the rows written (1M messy retail rows, 12 parts: peak RSS 1.42 GB
    against 1.12 GB with the file reopened for every chunk, the same bytes).
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.schema, self.rows = path, schema, 0
        pacsv.write_csv(schema.empty_table(), path, write_options=_WRITE_OPTIONS)

    def write(self, df: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
        with open(self.path, "ab") as sink:
            pacsv.write_csv(table.cast(self.schema), sink, write_options=_BODY_OPTIONS)
        self.rows += len(df)


def _write_table(table: pd.DataFrame | RowSource, path: Path) -> None:
    """One table as one CSV file, chunk by chunk (the same bytes as writing it whole)."""
    sink = _CsvSink(path, _schema(table))
    for chunk in _chunks(table):
        sink.write(chunk)


def _month_of(cfg: GenerateConfig) -> Callable[[pd.Series], np.ndarray]:
    """A function from a column of date strings to part names (``YYYY-MM``, or ``undated``):
    the calendar month of every date the generator writes for a day of the window, in any of
    its three formats; anything else (missing, or messy mode's invalid dates) is undated."""
    start, _, n_days = _window(cfg)
    strings = _date_strings(start, n_days)
    months = pd.date_range(start, periods=n_days, freq="D").strftime("%Y-%m").to_numpy(dtype=object)
    known = pd.Index(np.concatenate([strings[k] for k in ("iso", "us", "short")]))
    labels = np.append(np.tile(months, 3), UNDATED).astype(object)

    def month_of(dates: pd.Series) -> np.ndarray:
        return labels[known.get_indexer(dates.to_numpy(dtype=object, na_value=None))]

    return month_of


def _write_parts(table: pd.DataFrame | RowSource, folder: Path, date_column: str,
                 month_of: Callable[[pd.Series], np.ndarray]) -> dict[Path, int]:
    """One table as a folder of monthly CSV parts; returns the rows of every part, in file-name
    order (``undated.csv`` last)."""
    try:
        folder.mkdir(exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        raise ConfigError(f"cannot create the folder of parts: {exc.strerror or exc}",
                          file=str(folder), expected="a writable folder",
                          fix="remove the file in the way or pass another --out") from None
    for stale in folder.iterdir():  # parts of an earlier generation would mix in
        if _PART_NAME.fullmatch(stale.name) and stale.is_file():
            stale.unlink()
    schema = _schema(table)
    sinks: dict[str, _CsvSink] = {}
    for chunk in _chunks(table):
        month = month_of(chunk[date_column])
        for name in pd.unique(month):
            if name not in sinks:
                sinks[name] = _CsvSink(folder / f"{name}.csv", schema)
            sinks[name].write(chunk[month == name])
    return {sinks[name].path: sinks[name].rows for name in sorted(sinks)}


def _config_yaml(cfg: GenerateConfig) -> str:
    names = data_file_names(cfg)
    if cfg.mode == "retail_table":
        tree: dict = {"seed": cfg.seed,
                      "input": {"mode": "retail_table", "path": names["retail_table"]}}
    else:
        tree = {"seed": cfg.seed, "input": {
            "mode": "tables",
            "customers": {"path": names["customers"],
                          "columns": {c: c for c in CUSTOMER_COLUMNS}},
            "transactions": {"path": names["transactions"],
                             "columns": {"transaction_id": "transaction_id",
                                         "customer_id": "customer_id", "date": "date",
                                         "quantity": "quantity", "amount": "amount",
                                         "total": "total", "category": "category"}},
            "reviews": {"path": names["reviews"], "columns": {c: c for c in REVIEW_COLUMNS}},
        }}
    header = ("# segment-report configuration for data written by 'segment-report generate'\n"
              f"# (mode {cfg.mode}, {cfg.n_transactions} transactions, seed {cfg.seed}"
              f"{', messy' if cfg.messy else ''}"
              f"{', one CSV part per month in each folder' if cfg.parts == 'monthly' else ''}).\n"
              "# Paths are relative to this file. Ground truth: ground_truth.json.\n")
    return header + yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def generate_dataset(cfg: GenerateConfig, out_dir: Path) -> GeneratedDataset:
    """Generate a dataset and write it with its config and ground truth.

    Writes into ``out_dir`` (created if needed): the data CSV(s) (with ``cfg.parts ==
    "monthly"``, folders of monthly parts instead, see :class:`GenerateConfig`),
    ``segment-report.yaml``, ``ground_truth.json``, ``truth_customers.csv`` and
    ``truth_reviews.csv``. The transaction-sized table is built and written
    :data:`CHUNK_ROWS` rows at a time.

    Args:
        cfg: generator parameters.
        out_dir: destination folder.

    Returns:
        A :class:`GeneratedDataset` naming the files written.

    Raises:
        ConfigError: ``out_dir`` (or a folder of parts) exists and is not a folder, or cannot
            be created.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        raise ConfigError(f"cannot create the output folder: {exc.strerror or exc}",
                          file=str(out_dir), expected="a writable folder",
                          fix="pass another --out") from None
    with progress_bar("generating", total=3, unit="steps") as advance:
        logger.info("generating %s transactions (%s, seed %s%s)", f"{cfg.n_transactions:,}",
                    cfg.mode, cfg.seed, ", messy" if cfg.messy else "")
        frames, truth = generate_tables(cfg)
        advance(1)
        data_files: dict[str, Path] = {}
        part_rows: dict[str, dict[Path, int]] = {}
        month_of = _month_of(cfg) if cfg.parts == "monthly" else None
        for key, fname in truth["files"].items():
            data_files[key] = out_dir / fname.rstrip("/")
            if month_of is not None and key in PARTED_TABLES:
                part_rows[key] = _write_parts(frames[key], data_files[key], _DATE_COLUMN[key],
                                               month_of)
            else:
                _write_table(frames[key], data_files[key])
            frames[key] = None  # a written table's memory goes back before the next one
        if part_rows:
            truth["parts"] = {key: {p.name: n for p, n in rows.items()}
                              for key, rows in part_rows.items()}
        advance(1)
        _write_csv(frames["truth_customers"], out_dir / "truth_customers.csv")
        _write_csv(frames["truth_reviews"], out_dir / "truth_reviews.csv")
        truth_file = out_dir / "ground_truth.json"
        truth_file.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")
        config_file = out_dir / "segment-report.yaml"
        config_file.write_text(_config_yaml(cfg), encoding="utf-8")
        advance(1)
    return GeneratedDataset(out_dir=out_dir, data_files=data_files, config_file=config_file,
                            truth_file=truth_file,
                            rows={k: int(v) for k, v in truth["counts"]["rows_written"].items()},
                            n_customers=int(truth["counts"]["customers"]),
                            n_reviews=int(truth["counts"]["reviews"]),
                            part_files={k: tuple(rows) for k, rows in part_rows.items()})
