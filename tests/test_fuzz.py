"""Property-based fuzzing of everything a user hands in: CSV and Parquet inputs, YAML configs.

The properties are the CLI's contract (pipeline/errors.py): bad input is an InputDataError or
ConfigError (exit code 2), never any other exception (exit code 1 means a bug), and every row
read is either kept or quarantined with a reason (or dropped as an exact duplicate), the counts
adding up exactly. The fuzzing runs at the library level (the reader, ingest, the config
loader, in-process) so that thousands of cases fit in the fast suite; a few cases go through
the CLI to show its exit codes are only 0 or 2. Every run is reproducible (derandomize, no
example database): a failure here fails the same way in CI and on a laptop.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segment_report.pipeline.config import Config, load_config
from segment_report.pipeline.errors import ConfigError, InputDataError
from segment_report.pipeline.stages.ingest.readers import RawTable, read_raw_table
from segment_report.pipeline.stages.ingest.stage import REASONS, ingest, parse_dates, parse_number
from tests.conftest import RETAIL_HEADER, invoke

#: examples per test (2,252 in all); ingest costs ~0.15 s a case, so most cases fuzz the reader,
#: the config loader and the value parsers, which cost milliseconds
N_INGEST, N_TABLES, N_READER, N_BYTES, N_PARQUET, N_CONFIG, N_YAML, N_PARSERS, N_CLI = (
    100, 20, 250, 800, 150, 300, 500, 120, 12)

_BASE = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


def fuzz(max_examples: int) -> settings:
    """The reproducible settings of every fuzz test, with its number of examples."""
    return settings(_BASE, max_examples=max_examples)


#: a small limit, so that "huge" values (quarantined as field_too_large) stay cheap to generate
MAX_FIELD = 1024

# --------------------------------------------------------------------------- value strategies

_text = st.text(st.characters(codec="utf-8"), max_size=40)
_dates = st.one_of(
    st.dates(min_value=pd.Timestamp("1800-01-01").date(), max_value=pd.Timestamp("2262-01-01").date())
    .flatmap(lambda d: st.sampled_from([d.isoformat(), d.strftime("%m/%d/%Y"), d.strftime("%m-%d-%y"),
                                        d.strftime("%d.%m.%Y"), d.strftime("%b %d, %Y"),
                                        d.strftime("%Y/%m/%d"), f"{d.isoformat()}T10:00:00+05:00",
                                        f"{d.isoformat()} 25:61:00"])),
    st.sampled_from(["2026-13-45", "0000-00-00", "9999-12-31", "99999-01-01", "1/1/1", "31/12/2026",
                     "yesterday", "2026-09-18Z", "NaT", "", " ", "2026-W38-5", "1e10", "-2026-01-01"]),
)
_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(["$1,234.50", "(12.50)", "USD 12", "1e308", "1e400", "-0", "inf", "-inf", "nan",
                     "NaN", "0x10", "١٢٣", "1,2,3", "1.2.3", "€ 5", "£", "()", "(", "12)", "", " ",
                     "1_000", "+5", "5-", "0", "0.0001", "9" * 400]),
)
_ids = st.one_of(st.integers(0, 50).map(str), st.sampled_from(["", " ", "1042.0", " 7 ", "007", "id-1",
                                                              "NA", "null", "None", "nan"]), _text)
_misc = st.one_of(_text, st.sampled_from(["Ohio", "  OHIO ", "oh", "39", "new york", "Ontario", "USA",
                                          "united states", "Canada", "F", "male", "x", "Low", "High",
                                          "$35,000", "5", "0", "6", "-1", "150"]))
_huge = st.integers(MAX_FIELD - 8, MAX_FIELD * 3).map(lambda n: "h" * n)

_FIELD_VALUES = {"Customer_ID": _ids, "Transaction_ID": _ids, "Date": _dates, "Total_Amount": _numbers,
                 "Amount": _numbers, "Total_Purchases": _numbers, "Ratings": _numbers, "Age": _numbers,
                 "Income": st.one_of(_numbers, _misc)}


def _value(column: str) -> st.SearchStrategy[str]:
    """A value for ``column``: usually one of its own kind, sometimes anything, rarely huge."""
    own = _FIELD_VALUES.get(column, _misc)
    return st.one_of(own, own, own, _text, st.just(""), _huge)


_names = st.one_of(st.sampled_from(RETAIL_HEADER),
                   st.sampled_from(RETAIL_HEADER).map(lambda n: f" {n} "),
                   st.sampled_from(RETAIL_HEADER).map(str.lower),
                   st.text(st.characters(codec="utf-8"), max_size=12))


@st.composite
def retail_csv(draw) -> tuple[bytes, str, str, int]:
    """A retail table as CSV bytes: (content, file suffix, config encoding, number of records).

    Mostly the real columns, sometimes renamed or extra ones; RFC 4180 quoting in every style,
    any line ending, several encodings (with or without a matching ``input.encoding``).
    """
    required = ["Customer_ID", "Date", "Total_Amount"]
    optional = draw(st.lists(st.sampled_from(RETAIL_HEADER), max_size=8, unique=True))
    extra = draw(st.lists(_names, max_size=2))
    header = list(dict.fromkeys(required + optional)) + extra
    header = draw(st.permutations(header))
    n = draw(st.integers(1, 12))
    rows = [[draw(_value(col)) for col in header] for _ in range(n)]
    if n > 1 and draw(st.booleans()):
        rows.append(list(rows[0]))  # an exact duplicate
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    # QUOTE_MINIMAL quotes only the characters of the line terminator: with "\n" a bare "\r"
    # would be written unquoted, which is a line break to every CSV reader
    terminator = "\r\n" if quoting == csv.QUOTE_MINIMAL else draw(st.sampled_from(["\n", "\r\n"]))
    suffix = draw(st.sampled_from([".csv", ".csv", ".txt", ".tsv"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting, lineterminator=terminator,
                        delimiter="\t" if suffix == ".tsv" else ",")
    writer.writerow(header)
    writer.writerows(rows)
    file_encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]))
    config_encoding = draw(st.sampled_from([file_encoding, "utf-8"]))
    data = buffer.getvalue().encode(file_encoding, errors="replace")
    return data, suffix, config_encoding, len(rows)


def _check_result(result, expected_rows: int | None = None) -> None:
    """The row accounting of one ingest: every row read is kept, quarantined or a duplicate."""
    totals = result.quality["totals"]
    assert totals["rows_read"] == totals["rows_kept"] + totals["rows_quarantined"] + totals["duplicates_dropped"]
    for stats in result.quality["files"].values():
        assert stats["rows_read"] == stats["rows_kept"] + stats["rows_quarantined"] + stats["duplicates_dropped"]
    if expected_rows is not None:
        assert totals["rows_read"] == expected_rows
    assert len(result.quarantine) == totals["rows_quarantined"]
    if len(result.quarantine):
        assert result.quarantine["reason"].notna().all()
        assert (result.quarantine["reason"].astype(str).str.len() > 0).all()
        codes = {c for codes in result.quarantine["reason_code"] for c in str(codes).split(";")}
        assert codes <= set(REASONS), codes - set(REASONS)
        for column in result.quarantine.columns:  # a huge value is never copied
            assert all(len(str(v)) <= MAX_FIELD + 100 for v in result.quarantine[column])
    assert sum(result.quality["quarantined_by_reason"].values()) >= totals["rows_quarantined"]


def _ingest_or_exit_2(overrides: dict, expected_rows: int | None = None):
    """Ingest with ``overrides``; an InputDataError / ConfigError is the exit-2 outcome."""
    try:
        cfg = load_config(None, {"input.max_field_bytes": MAX_FIELD, **overrides})
        result = ingest(cfg.input, cfg.privacy)
    except (InputDataError, ConfigError) as exc:
        assert exc.exit_code == 2 and exc.message
        return None
    _check_result(result, expected_rows)
    return result


# --------------------------------------------------------------------------- ingest

@fuzz(N_INGEST)
@given(case=retail_csv())
def test_ingest_of_any_retail_csv_is_kept_quarantined_or_exit_2(tmp_path_factory, case):
    data, suffix, encoding, n_records = case
    path = tmp_path_factory.mktemp("fuzz") / f"retail{suffix}"
    path.write_bytes(data)
    result = _ingest_or_exit_2({"input.path": str(path), "input.encoding": encoding}, None)
    if result is not None and encoding.startswith("utf-8"):  # other codecs may misread the bytes
        assert result.quality["totals"]["rows_read"] == n_records


@st.composite
def table_files(draw) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Customers, transactions and (sometimes) reviews files of mode ``tables``."""
    specs = {"customers": ["customer_id", "state", "country", "age", "gender", "income"],
             "transactions": ["transaction_id", "customer_id", "date", "quantity", "total", "category"],
             "reviews": ["review_id", "customer_id", "date", "text", "rating"]}
    kinds = {"customer_id": _ids, "transaction_id": _ids, "review_id": _ids, "date": _dates,
             "quantity": _numbers, "total": _numbers, "age": _numbers, "rating": _numbers}
    files = {}
    for name, columns in specs.items():
        if name == "reviews" and draw(st.booleans()):
            continue
        n = draw(st.integers(1, 8))
        rows = [[draw(st.one_of(kinds.get(c, _misc), st.just(""), _huge)) for c in columns] for _ in range(n)]
        files[name] = (columns, rows)
    return files


@fuzz(N_TABLES)
@given(files=table_files())
def test_ingest_of_any_tables_mode_files_is_kept_quarantined_or_exit_2(tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("fuzz")
    overrides = {"input.mode": "tables"}
    for name, (columns, rows) in files.items():
        path = folder / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
        overrides[f"input.{name}"] = {"path": str(path)}
    result = _ingest_or_exit_2(overrides)
    if result is not None:
        for name, (_, rows) in files.items():
            assert result.quality["files"][name]["rows_read"] == len(rows)


# --------------------------------------------------------------------------- the reader

def _check_raw(raw: RawTable, n_records: int | None = None) -> None:
    assert isinstance(raw, RawTable)
    assert all(isinstance(c, str) for c in raw.frame.columns)
    assert len(set(raw.frame.columns)) == len(raw.frame.columns)
    for i, columns in raw.oversized.items():
        assert i in raw.frame.index and all(size > MAX_FIELD for size in columns.values())
    if n_records is not None:
        assert len(raw.frame) + len(raw.malformed_lines) == n_records


def _read_or_exit_2(path: Path, encoding: str = "utf-8", n_records: int | None = None) -> RawTable | None:
    try:
        raw = read_raw_table(path, "input", encoding, MAX_FIELD)
    except InputDataError as exc:
        assert exc.exit_code == 2 and exc.file and exc.message
        return None
    _check_raw(raw, n_records)
    return raw


@fuzz(N_READER)
@given(case=retail_csv())
def test_reader_reads_any_csv_or_says_why(tmp_path_factory, case):
    data, suffix, encoding, n_records = case
    path = tmp_path_factory.mktemp("fuzz") / f"retail{suffix}"
    path.write_bytes(data)
    _read_or_exit_2(path, encoding, n_records if encoding.startswith("utf-8") else None)


_prefixes = st.sampled_from([b"", b"Customer_ID,Date,Total_Amount\n", b"PAR1", b"\xef\xbb\xbf",
                             b"Customer_ID,Date,Total_Amount\n1,", b'"', b"\xff\xfe", b"a,a\n"])


@fuzz(N_BYTES)
@given(prefix=_prefixes, body=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".tsv", ".txt",
                                                                               ".parquet", ".dat", ""]),
       encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "ascii"]))
def test_reader_survives_random_bytes(tmp_path_factory, prefix, body, suffix, encoding):
    path = tmp_path_factory.mktemp("fuzz") / f"input{suffix}"
    path.write_bytes(prefix + body)
    _read_or_exit_2(path, encoding)


_arrow_columns = st.sampled_from(["int", "float", "bool", "string", "timestamp", "timestamp_tz", "date",
                                  "null", "binary", "list", "dictionary", "decimal", "large_string",
                                  "duration"])


def _arrow_array(kind: str, n: int, draw) -> pa.Array:
    """A column of ``kind`` with ``n`` values (some missing)."""
    missing = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if kind == "int":
        values = draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n))
        return pa.array([None if m else v for v, m in zip(values, missing)], pa.int64())
    if kind == "float":
        values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
        return pa.array([None if m else v for v, m in zip(values, missing)], pa.float64())
    if kind == "bool":
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        return pa.array([None if m else v for v, m in zip(values, missing)], pa.bool_())
    if kind in ("string", "large_string", "dictionary"):
        values = draw(st.lists(st.one_of(_text, _dates, _numbers, _huge), min_size=n, max_size=n))
        array = pa.array([None if m else v for v, m in zip(values, missing)],
                         pa.large_string() if kind == "large_string" else pa.string())
        return array.dictionary_encode() if kind == "dictionary" else array
    if kind in ("timestamp", "timestamp_tz"):
        # at most 2**53: Parquet stores seconds as milliseconds, which must fit an int64
        values = draw(st.lists(st.integers(-2**53, 2**53), min_size=n, max_size=n))
        unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
        return pa.array([None if m else v for v, m in zip(values, missing)],
                        pa.timestamp(unit, tz="America/New_York" if kind == "timestamp_tz" else None))
    if kind == "date":
        values = draw(st.lists(st.integers(-10**6, 10**6), min_size=n, max_size=n))
        return pa.array([None if m else v for v, m in zip(values, missing)], pa.date32())
    if kind == "binary":
        values = draw(st.lists(st.binary(max_size=20), min_size=n, max_size=n))
        return pa.array([None if m else v for v, m in zip(values, missing)], pa.binary())
    if kind == "list":
        values = draw(st.lists(st.lists(st.integers(0, 9), max_size=3), min_size=n, max_size=n))
        return pa.array([None if m else v for v, m in zip(values, missing)], pa.list_(pa.int64()))
    if kind == "decimal":
        values = draw(st.lists(st.decimals(allow_nan=False, allow_infinity=False, places=2,
                                           min_value=-10**9, max_value=10**9), min_size=n, max_size=n))
        return pa.array([None if m else v for v, m in zip(values, missing)], pa.decimal128(14, 2))
    if kind == "duration":
        values = draw(st.lists(st.integers(-2**40, 2**40), min_size=n, max_size=n))
        return pa.array([None if m else v for v, m in zip(values, missing)], pa.duration("s"))
    return pa.nulls(n)


@st.composite
def parquet_tables(draw) -> pa.Table:
    """A Parquet table with the retail columns (or near misses) in any Arrow type, any names."""
    n = draw(st.integers(1, 10))
    names = draw(st.lists(st.one_of(st.sampled_from(["Customer_ID", "Date", "Total_Amount"]), _names),
                          min_size=1, max_size=7))
    names = list(dict.fromkeys(["Customer_ID", "Date", "Total_Amount"][:draw(st.integers(0, 3))])) + names
    arrays = []
    for name in names:
        preferred = {"Customer_ID": "string", "Date": "string", "Total_Amount": "string"}.get(name)
        kind = draw(st.one_of(st.just(preferred), _arrow_columns) if preferred else _arrow_columns)
        arrays.append(_arrow_array(kind, n, draw))
    return pa.Table.from_arrays(arrays, names=names)


@fuzz(N_PARQUET)
@given(table=parquet_tables())
def test_ingest_of_any_parquet_is_kept_quarantined_or_exit_2(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("fuzz") / "retail.parquet"
    pq.write_table(table, path)
    _ingest_or_exit_2({"input.path": str(path)}, table.num_rows)


# --------------------------------------------------------------------------- configuration

def _config_paths(model=Config, prefix: str = "") -> list[tuple[str, object]]:
    """Every dotted config key with its annotation (the fuzzer's vocabulary of real keys)."""
    out = []
    for name, info in model.model_fields.items():
        sub = info.annotation
        inner = [a for a in getattr(sub, "__args__", ()) or () if isinstance(a, type)]
        nested = sub if isinstance(sub, type) and hasattr(sub, "model_fields") else next(
            (a for a in inner if hasattr(a, "model_fields")), None)
        if nested is not None:
            out.append((prefix + name, nested))
            out.extend(_config_paths(nested, prefix + name + "."))
        else:
            out.append((prefix + name, sub))
    return out


CONFIG_KEYS = [key for key, _ in _config_paths()]
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=True, allow_infinity=True), _text,
                     st.sampled_from(["auto", "default", "vader", "tables", "retail_table", "last", "all",
                                      "2026-10", "2026-13", "utf-8", "klingon", "%d/%m/%Y", "%Q", "",
                                      "exclude", "nearest", "html", "fp32", "starttls", "../x"]))
_yaml_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(_text, st.sampled_from(CONFIG_KEYS)), inner,
                                                 max_size=4)), max_leaves=12)


@st.composite
def config_trees(draw) -> dict:
    """A config tree made of real keys (dotted keys placed in their sections) and random ones."""
    tree: dict = {}
    for key in draw(st.lists(st.sampled_from(CONFIG_KEYS), max_size=8)):
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = draw(_yaml_values)
    for _ in range(draw(st.integers(0, 2))):
        tree[draw(st.one_of(_text, st.integers(), st.booleans()))] = draw(_yaml_values)
    return tree


def _load_or_exit_2(path: Path | None, overrides: dict | None = None) -> Config | None:
    try:
        return load_config(path, overrides)
    except ConfigError as exc:
        assert exc.exit_code == 2 and exc.message
        return None


@fuzz(N_CONFIG)
@given(tree=config_trees(), overrides=st.dictionaries(st.sampled_from(CONFIG_KEYS), _scalars, max_size=3))
def test_any_config_tree_is_valid_or_a_config_error(tmp_path_factory, tree, overrides):
    path = tmp_path_factory.mktemp("fuzz") / "config.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    cfg = _load_or_exit_2(path, overrides)
    if cfg is not None:
        assert cfg == load_config(path, overrides)  # loading is deterministic


_yaml_texts = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.sampled_from(["seed: [", "a: &x [*x]", "!!python/object:os.system {}", "- - - - -", "{", "? a\n: b",
                     "seed: !!binary aGk=", "input: {path: !!timestamp 2026-01-01}", "\t- a", "%YAML 9.9\n---",
                     "---\n...\n---", "seed: 1\n" * 3, "[" * 600 + "]" * 600, "a: " + "{b: " * 300 + "1" + "}" * 300,
                     "x: &a [1]\ny: &b [*a, *a, *a, *a]\nz: [*b, *b, *b, *b]"]),
)


@fuzz(N_YAML)
@given(text=_yaml_texts, encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_any_yaml_text_is_valid_or_a_config_error(tmp_path_factory, text, encoding):
    path = tmp_path_factory.mktemp("fuzz") / "config.yaml"
    path.write_bytes(text.encode(encoding, errors="replace"))
    _load_or_exit_2(path)


# --------------------------------------------------------------------------- value parsers

@fuzz(N_PARSERS)
@given(values=st.lists(st.one_of(_dates, _numbers, _text, st.none()), max_size=20),
       date_format=st.sampled_from(["auto", "auto", "%d/%m/%Y", "%Y", "%m/%d/%Y %H", "%Y-%m-%dT%H:%M:%S%z"]),
       dayfirst=st.booleans())
def test_date_and_number_parsers_never_raise(values, date_format, dayfirst):
    series = pd.Series(values, dtype=pd.StringDtype("pyarrow"))
    dates, used = parse_dates(series, date_format, dayfirst)
    assert len(dates) == len(series) and dates.index.equals(series.index)
    assert (dates.dropna().dt.year >= 1900).all()
    assert sum(used.values()) <= len(series)
    numbers = parse_number(series)
    assert len(numbers) == len(series) and numbers.dtype == np.float64


# --------------------------------------------------------------------------- through the CLI

@fuzz(N_CLI)
@given(case=retail_csv(), config=st.one_of(st.just({}), st.just({"input": {"max_field_bytes": MAX_FIELD}}),
                                           config_trees()))
def test_cli_exit_codes_are_only_0_or_2(tmp_path_factory, case, config):
    from click.testing import CliRunner

    data, suffix, _, _ = case
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / f"retail{suffix}").write_bytes(data)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    result = invoke(CliRunner(), "validate", "--config", folder / "config.yaml",
                    "--input", folder / f"retail{suffix}", "--out", folder / "out")
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


# --------------------------------------------------------------------------- found by the fuzzer

def _text_series(values: list) -> pd.Series:
    return pd.Series(values, dtype=pd.StringDtype("pyarrow"))


def test_found_dates_mixing_offsets_and_naive_times():
    dates, _ = parse_dates(_text_series(["2000-01-01", "2000-01-01T10:00:00+05:00"]))
    assert dates.tolist() == [pd.Timestamp("2000-01-01"), pd.Timestamp("2000-01-01 05:00")]


def test_found_a_year_outside_the_nanosecond_range():
    dates, _ = parse_dates(_text_series(["-1", "99999-01-01", "2026-09-18"]))
    assert dates.isna().tolist() == [True, True, False]


def test_found_an_unknown_strptime_directive_is_a_config_error():
    with pytest.raises(ConfigError, match="input.date_format"):
        load_config(None, {"input.date_format": "%Q"})


def test_found_utf16_without_a_byte_order_mark(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"\x01\x01")
    with pytest.raises(InputDataError, match="not valid utf-16 text"):
        read_raw_table(path, "input", "utf-16")


def test_found_parquet_bytes_that_are_not_utf8(tmp_path):
    table = pa.table({"Customer_ID": ["1", "2"], "Date": ["2026-09-01", "2026-09-02"],
                      "Total_Amount": ["5", "6"], "Transaction_ID": pa.array([None, b"\x80"], pa.binary())})
    pq.write_table(table, tmp_path / "r.parquet")
    raw = read_raw_table(tmp_path / "r.parquet")
    assert raw.frame["Transaction_ID"].tolist() == [pd.NA, "\ufffd"]
    assert raw.frame["Customer_ID"].tolist() == ["1", "2"]


def test_parquet_names_repeated_up_to_spaces_are_exit_2(tmp_path):
    """Found while writing the Parquet strategy: pyarrow allows repeated names, and names are
    stripped after reading; the CSV reader's duplicate check never saw them (a ValueError)."""
    table = pa.Table.from_arrays([pa.array(["1"]), pa.array(["2026-09-01"]), pa.array(["5"]), pa.array(["7"])],
                                 names=["Customer_ID", "Date", "Total_Amount", "Customer_ID "])
    pq.write_table(table, tmp_path / "r.parquet")
    with pytest.raises(InputDataError, match=r"duplicate column names \['Customer_ID'\]"):
        read_raw_table(tmp_path / "r.parquet")


@pytest.mark.parametrize("seconds", [253402300800, -62135596800 - 86400 * 366],
                         ids=["year-10000", "year-0"])
def test_found_parquet_timestamps_beyond_python_datetimes(tmp_path, seconds):
    table = pa.table({"Customer_ID": ["1", "2"], "Date": ["2026-09-01", "2026-09-02"], "Total_Amount": ["5", "6"],
                      "Transaction_ID": pa.array([0, seconds], pa.timestamp("s", tz="America/New_York"))})
    pq.write_table(table, tmp_path / "r.parquet")
    raw = read_raw_table(tmp_path / "r.parquet")
    assert raw.frame["Transaction_ID"].notna().all()
    assert raw.frame["Customer_ID"].tolist() == ["1", "2"]


def test_found_a_line_break_in_a_quoted_header_name(tmp_path):
    """The header was read as one physical line: the name was cut and the rest of it became a
    malformed data row, so the file seemed to have a row more than it had."""
    path = tmp_path / "r.csv"
    path.write_text('Customer_ID,Date,Total_Amount,"a\nb"\n1,2026-09-01,5,x\n2,2026-09-02,6,y\n')
    raw = read_raw_table(path)
    assert list(raw.frame.columns) == ["Customer_ID", "Date", "Total_Amount", "a\nb"]
    assert len(raw.frame) == 2 and raw.malformed_lines == []


def test_an_unclosed_quote_in_the_header_is_exit_2(tmp_path, monkeypatch):
    from segment_report.pipeline.stages.ingest import readers

    monkeypatch.setattr(readers, "MAX_HEADER_CHARS", 1000)
    path = tmp_path / "r.csv"
    path.write_text('Customer_ID,"Date,Total_Amount\n' + "1,2026-09-01,5\n" * 200)
    with pytest.raises(InputDataError, match="header row is longer than 1,000 characters"):
        read_raw_table(path)
