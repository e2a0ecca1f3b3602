"""Review files for the ``sentiment`` commands: read and write CSV / Parquet, check columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from segment_report.pipeline.errors import InputDataError


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (by extension) for the sentiment commands.

    Raises:
        InputDataError: missing file or unsupported extension.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError("file not found", file=str(path), expected="a CSV or Parquet file",
                             fix="check the path")
    ext = path.suffix.lower()
    if ext == ".parquet":
        return pd.read_parquet(path)
    if ext in (".csv", ".txt", ".tsv"):
        return pd.read_csv(path, sep="\t" if ext == ".tsv" else ",")
    raise InputDataError(f"unsupported file type {ext!r}", file=str(path),
                         expected=".csv, .tsv or .parquet", fix="convert the file to CSV or Parquet")


def write_table(df: pd.DataFrame, path: Path, spreadsheet_safe_csv: bool = True) -> None:
    """Write CSV or Parquet by extension (anything but .parquet is written as CSV, through
    :func:`~segment_report.pipeline.io.store.write_csv`: spreadsheet-safe unless
    ``spreadsheet_safe_csv`` is false)."""
    from segment_report.pipeline.io.store import write_csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        df.to_parquet(path, index=False)
    else:
        write_csv(path, df, spreadsheet_safe_csv)


def require_column(df: pd.DataFrame, col: str, option: str, path: Path) -> None:
    """Raise :class:`InputDataError` naming the columns when ``col`` is absent."""
    if col not in df.columns:
        raise InputDataError(f"column {col!r} not found", file=str(path),
                             expected=f"one of {list(map(str, df.columns))[:30]}",
                             fix=f"pass the right {option}")
