"""Reading input files (CSV or Parquet) as raw text, with clear errors for unusable files.

Every column is read as text so that the original value of a rejected row can be quoted in
``quarantine.csv``; parsing into numbers and dates happens in :mod:`segment_report.pipeline.stages.ingest.stage`.
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from segment_report.pipeline.errors import InputDataError, check_reachable, os_error_to_input_error

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
#: Default of ``input.max_field_bytes``: a larger value makes its row a quarantined row.
DEFAULT_MAX_FIELD_BYTES = 1 << 20
#: pyarrow parses a CSV in blocks and a row must fit in one: the first read uses pyarrow's
#: default (1 MiB), a row that straddles blocks is retried with blocks 8 times larger, up to
#: this (ReadOptions.block_size is a 32-bit int; a larger row makes the file unreadable).
_FIRST_BLOCK_BYTES = 1 << 20
MAX_BLOCK_BYTES = 1 << 30
#: The stdlib csv module (the header) holds fields up to a C long; its default is 128 KiB.
_CSV_FIELD_LIMIT = 2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1
#: A header row longer than this is an unclosed quote, not column names.
MAX_HEADER_CHARS = 16 << 20
PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
_FIX_FORMAT = "give a CSV file (UTF-8, header row) or a Parquet file"


@dataclass
class RawTable:
    """A file read as text: the rows, malformed lines skipped, and where it came from."""

    path: Path
    frame: pd.DataFrame
    malformed_lines: list[dict] = field(default_factory=list)
    file_format: str = "csv"
    #: rows with a field over the size limit: frame index -> {column: bytes}; the value in the
    #: frame is replaced by a short placeholder so it is never copied anywhere
    oversized: dict[int, dict[str, int]] = field(default_factory=dict)
    #: how the file is named in the quarantine and data-quality counts (default: its name;
    #: a part of a folder: its path inside the folder)
    label: str = ""
    #: where the file was read from, as the user gave it (a path, or a URL fetched to ``path``)
    source: str = ""
    sha256: str = ""
    size: int = 0

    @property
    def name(self) -> str:
        """The file's label, else its name."""
        return self.label or self.path.name

    @property
    def where(self) -> str:
        """The file as the user knows it: its URL, or its path."""
        return self.source or str(self.path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (for manifest.json)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_file(path: Path, what: str) -> None:
    check_reachable(path, f"{what} file")
    if not path.exists():
        raise InputDataError(f"{what} file not found", file=str(path),
                             expected="an existing CSV or Parquet file",
                             fix="check the path in the config (input.path / input.<table>.path) or --input")
    if path.is_dir():
        raise InputDataError(f"{what} path is a folder, not a file", file=str(path),
                             expected="a CSV or Parquet file", fix="point to the file inside the folder")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise os_error_to_input_error(exc, f"{what} file cannot be read", path=path) from None
    if path.stat().st_size == 0:
        raise InputDataError(f"{what} file is empty (0 bytes)", file=str(path),
                             expected="a header row and at least one data row",
                             fix="export the data again; the file was written empty")


def _sniff_format(path: Path) -> str:
    suffix = path.suffix.lower()
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head[:4] == b"PAR1":
        return "parquet"
    if suffix in PARQUET_SUFFIXES:
        raise InputDataError("file has a Parquet extension but is not a Parquet file", file=str(path),
                             expected="a Parquet file (starts with 'PAR1')", fix=_FIX_FORMAT)
    if b"\x00" in head:
        raise InputDataError("file is binary, not a CSV or Parquet file", file=str(path),
                             expected="a text CSV with a header row, or a Parquet file", fix=_FIX_FORMAT)
    if suffix in (".xlsx", ".xls", ".zip", ".gz", ".json"):
        raise InputDataError(f"'{suffix}' files are not supported", file=str(path),
                             expected="a CSV or Parquet file",
                             fix="export the sheet or table as CSV (UTF-8) or Parquet")
    return "csv"


def _header(path: Path, encoding: str, delimiter: str) -> tuple[list[str], int]:
    """The column names and how many physical lines the header row takes (a quoted name may
    hold a line break; found by tests/test_fuzz.py: reading one line cut it and made the rest of
    the header a malformed data row)."""
    lines_read = chars_read = 0

    def lines(handle):
        nonlocal lines_read, chars_read
        for line in handle:
            lines_read += 1
            chars_read += len(line)
            if chars_read > MAX_HEADER_CHARS:
                raise _HeaderTooLong()
            yield line

    csv.field_size_limit(_CSV_FIELD_LIMIT)  # a header name may be longer than the 128 KiB default
    try:
        with open(path, encoding=encoding, newline="") as handle:
            header = next(csv.reader(lines(handle), delimiter=delimiter), [])
    except UnicodeError:  # not only UnicodeDecodeError: the utf-16 codec raises UnicodeError for no BOM
        raise _encoding_error(path, encoding) from None
    except LookupError:
        raise InputDataError(f"unknown text encoding '{encoding}'", file=str(path),
                             expected="a Python codec name such as utf-8 or latin-1",
                             fix="set input.encoding to a valid encoding") from None
    except _HeaderTooLong:
        raise InputDataError(f"the header row is longer than {MAX_HEADER_CHARS:,} characters",
                             file=str(path), expected="a first line with column names",
                             fix="check the quoting of the header: an unclosed quote runs on to the "
                                 "end of the file") from None
    except csv.Error as exc:  # e.g. a NUL character past the first 4 KiB
        raise InputDataError(f"the header row cannot be read as CSV: {exc}", file=str(path),
                             expected="a first line with column names", fix=_FIX_FORMAT) from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    if not header or all(h == "" for h in header):
        raise InputDataError("file has no header row", file=str(path),
                             expected="a first line with column names",
                             fix="add the header row the config maps (see README, 'Input contract')")
    return header, lines_read


class _HeaderTooLong(Exception):
    """The header row runs on past MAX_HEADER_CHARS."""


def _encoding_error(path: Path, encoding: str) -> InputDataError:
    return InputDataError(f"file is not valid {encoding} text", file=str(path),
                          expected=f"a CSV encoded as {encoding}",
                          fix="re-save the file as UTF-8, or set input.encoding (e.g. latin-1, cp1252)")


def read_raw_table(path: Path, what: str = "input", encoding: str = "utf-8",
                   max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES) -> RawTable:
    """Read a CSV or Parquet file with every column as text.

    Malformed CSV lines (wrong number of fields) are skipped and reported in
    ``RawTable.malformed_lines`` (line number and field counts, never the text: it may
    hold personal data) so ingest can quarantine them. A field longer than
    ``max_field_bytes`` (UTF-8) is replaced by a placeholder and its row listed in
    ``RawTable.oversized``, for ingest to quarantine.

    Raises:
        InputDataError: missing, unreadable, empty, binary or wrongly encoded file; no header;
            no data rows; duplicate column names.
    """
    path = Path(path)
    try:
        return _read_raw_table(path, what, encoding, max_field_bytes)
    except OSError as exc:  # the file vanished or became unreadable while it was read
        raise os_error_to_input_error(exc, f"{what} file cannot be read", path=path) from None


def _read_raw_table(path: Path, what: str, encoding: str, max_field_bytes: int) -> RawTable:
    _check_file(path, what)
    fmt = _sniff_format(path)
    if fmt == "parquet":
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputDataError(f"Parquet file cannot be read: {exc}", file=str(path),
                                 expected="a valid Parquet file", fix=_FIX_FORMAT) from None
        frame = _parquet_as_text(table)
        malformed: list[dict] = []
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        header, header_lines = _header(path, encoding, delimiter)
        _reject_repeated_names(pd.Index(header), path)  # before reading: pyarrow needs unique names
        frame, malformed = _read_csv(path, header, header_lines, encoding, delimiter, use_threads=True)
        if malformed:  # line numbers are only known from a single-threaded read
            frame, malformed = _read_csv(path, header, header_lines, encoding, delimiter, use_threads=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    _reject_repeated_names(frame.columns, path)  # a Parquet file may repeat a name; " a" and "a" are one
    if len(frame) == 0 and not malformed:
        raise InputDataError(f"{what} file has a header but no data rows", file=str(path),
                             expected="at least one data row", fix="check the export; the table was empty")
    oversized = _blank_oversized(frame, max_field_bytes)
    return RawTable(path=path, frame=frame, malformed_lines=malformed, file_format=fmt,
                    oversized=oversized)


def _reject_repeated_names(names: pd.Index, path: Path) -> None:
    """Raise InputDataError when a column name (spaces around it stripped) repeats."""
    if names.has_duplicates:
        dupes = sorted(set(names[names.duplicated()]))
        raise InputDataError(f"duplicate column names {dupes}", file=str(path),
                             expected="unique column names (leading and trailing spaces do not count)",
                             fix="rename or remove the repeated columns")


def _parquet_as_text(table: pa.Table) -> pd.DataFrame:
    """Every column of a Parquet table as text, missing values staying missing.

    The whole table is converted at once when it can be (pandas metadata such as the index is
    honoured); a table with a column pandas cannot hold as text (bytes that are not UTF-8,
    timestamps beyond pandas' range, found by tests/test_fuzz.py) is converted column by column.
    """
    text = pd.StringDtype("pyarrow")
    try:
        return table.to_pandas().astype(text)
    except _CONVERSION_ERRORS:
        pass
    columns = {}
    for position, column in enumerate(table.columns):
        columns[position] = _column_as_text(column, text)
    frame = pd.DataFrame(columns)
    frame.columns = table.column_names
    return frame


def _column_as_text(column: pa.ChunkedArray, text: pd.StringDtype) -> pd.Series:
    """One Arrow column as text: bytes decoded as UTF-8 (bad bytes replaced), else cast or str()."""
    kind = column.type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return pd.Series([None if v is None else v.decode("utf-8", "replace") for v in column.to_pylist()],
                         dtype=text)
    attempts = [lambda: column.to_pandas().astype(text),
                lambda: pc.cast(column, pa.string()).to_pandas().astype(text)]
    if pa.types.is_temporal(kind):  # beyond every calendar (year 10000, year 0): the stored number
        attempts.append(lambda: pc.cast(column.cast(pa.int64()), pa.string()).to_pandas().astype(text))
    for attempt in attempts:
        try:
            return attempt()
        except _CONVERSION_ERRORS:
            continue
    return pd.Series([None if v is None else repr(v) for v in column.to_pylist()], dtype=text)


#: what pandas and pyarrow raise for a value they cannot show as text (e.g. a timestamp outside
#: Python's datetime range raises NotImplementedError when localised)
_CONVERSION_ERRORS = (pa.ArrowException, ValueError, TypeError, OverflowError, NotImplementedError,
                      UnicodeError)


def _blank_oversized(frame: pd.DataFrame, max_bytes: int) -> dict[int, dict[str, int]]:
    """Find fields longer than ``max_bytes`` and replace them (in place) by a placeholder."""
    found: dict[int, dict[str, int]] = {}
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if not isinstance(values.dtype, pd.StringDtype):  # e.g. an all-missing Parquet column
            continue
        sizes = pc.binary_length(pa.chunked_array(pa.array(values.array)))
        over = pc.greater(sizes, max_bytes)
        if not pc.any(over).as_py():
            continue
        mask = over.to_numpy(zero_copy_only=False).astype(bool)
        mask = mask & ~pd.isna(sizes.to_numpy(zero_copy_only=False))
        for i, n in zip(frame.index[mask], sizes.to_numpy(zero_copy_only=False)[mask]):
            found.setdefault(int(i), {})[str(column)] = int(n)
        placeholder = pd.Series([f"<{int(n):,} bytes, not copied>" for n in
                                 sizes.to_numpy(zero_copy_only=False)[mask]],
                                index=frame.index[mask], dtype=values.dtype)
        frame.iloc[mask.nonzero()[0], position] = placeholder.to_numpy()
    return dict(sorted(found.items()))


def _read_csv(path: Path, header: list[str], header_lines: int, encoding: str, delimiter: str,
              use_threads: bool) -> tuple[pd.DataFrame, list[dict]]:
    """Read the CSV with pyarrow; a row longer than a block is retried with larger blocks."""
    block = _FIRST_BLOCK_BYTES
    while True:
        try:
            return _read_csv_blocks(path, header, header_lines, encoding, delimiter, use_threads, block)
        except _RowTooLong:
            # pyarrow's blocks hold the text as UTF-8: up to 4 bytes per byte of another encoding
            if block >= MAX_BLOCK_BYTES or block > 4 * path.stat().st_size:
                raise InputDataError(
                    f"a row is longer than the reader's limit ({min(block, MAX_BLOCK_BYTES):,} bytes)",
                    file=str(path), expected=f"rows shorter than {MAX_BLOCK_BYTES:,} bytes",
                    fix="check the quoting: an unclosed quote makes the rest of the file one value; "
                        "or split the huge values out of the file") from None
            block = min(block * 8, MAX_BLOCK_BYTES)


class _RowTooLong(Exception):
    """pyarrow found a row that does not fit in one block."""


def _read_csv_blocks(path: Path, header: list[str], header_lines: int, encoding: str, delimiter: str,
                     use_threads: bool, block_size: int) -> tuple[pd.DataFrame, list[dict]]:
    malformed: list[dict] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed.append({"line": row.number, "expected_fields": row.expected_columns,
                          "actual_fields": row.actual_columns})
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=use_threads, encoding=encoding,
                                           column_names=header, skip_rows=header_lines,
                                           block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                             newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 null_values=[""], strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "straddling" in text or "block size" in text:
            raise _RowTooLong() from None
        if "UTF8" in text.upper() or "utf-8" in text.lower():
            raise _encoding_error(path, encoding) from None
        raise InputDataError(f"file cannot be parsed as CSV: {text.splitlines()[0]}", file=str(path),
                             expected="a comma-separated file with a header row",
                             fix=_FIX_FORMAT) from None
    return table.to_pandas(), malformed
