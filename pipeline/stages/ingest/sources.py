"""Input sources: one file, a glob, or a folder of parts, and what is checked across parts.

A table may come as one file or as parts (one export per month, a Parquet dataset). Each part
is read and normalised on its own (by the engine's executor, possibly on another machine);
what needs every part is decided here from small keys: exact duplicate rows across parts (a
row hash) and, in the customers table, a customer id repeated in a later part.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segment_report.pipeline.errors import InputDataError
from segment_report.pipeline.stages.ingest.readers import CSV_SUFFIXES, PARQUET_SUFFIXES

_GLOB_CHARS = frozenset("*?[")


def is_url(location: str | Path) -> bool:
    """Whether an input is an fsspec URL (``s3://``, ``gs://``, ``file://``...) and not a path."""
    return isinstance(location, str) and "://" in location


def _is_part(relative: str) -> bool:
    """A data file of a folder: CSV or Parquet, not hidden, not ``_SUCCESS`` / ``_metadata``."""
    parts = relative.split("/")
    return (Path(parts[-1]).suffix.lower() in CSV_SUFFIXES | PARQUET_SUFFIXES
            and not any(part.startswith((".", "_")) for part in parts))


def input_parts(path: str | Path, what: str) -> list[tuple[str | Path, str]]:
    """The files of one input: ``(path or URL, label)`` in name order. ``label`` names the
    part in the quarantine and data-quality counts (the file name, or its path inside the
    folder).

    A folder contributes every CSV / Parquet file below it (hidden files and names starting
    with ``_``, such as ``_SUCCESS``, are skipped); a glob every file it matches; anything
    else is one file, checked when it is read. The same holds for a URL, through fsspec.

    Raises:
        InputDataError: a glob or folder with no CSV or Parquet file in it; a URL whose
            filesystem is not installed or cannot be listed.
    """
    if is_url(path):
        return _url_parts(str(path), what)
    text = str(path)
    if any(c in _GLOB_CHARS for c in text):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise InputDataError(f"no {what} file matches the pattern", file=text,
                                 expected="a pattern matching CSV or Parquet files, e.g. exports/*.csv",
                                 fix="check the pattern; quote it in the shell so that the shell does "
                                     "not expand it")
        root = Path(os.path.commonpath(files)) if len(files) > 1 else files[0].parent
        return [(f, f.relative_to(root).as_posix()) for f in files]
    path = Path(path)
    if not path.is_dir():
        return [(path, path.name)]
    files = sorted(p for p in path.rglob("*") if p.is_file() and _is_part(p.relative_to(path).as_posix()))
    if not files:
        raise InputDataError(f"the {what} folder holds no CSV or Parquet file", file=str(path),
                             expected="a folder of parts such as 2026-01.csv, 2026-02.csv or *.parquet",
                             fix="point input.path at a file, a glob or a folder of CSV / Parquet parts")
    return [(f, f.relative_to(path).as_posix()) for f in files]


def filesystem(url: str, what: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` and the path inside it.

    Raises:
        InputDataError: the protocol is unknown, or its package (s3fs, gcsfs, adlfs) is missing.
    """
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise InputDataError(f"the {what} URL needs a filesystem package that is not installed: {exc}",
                             file=url, expected="the fsspec filesystem of the URL's protocol",
                             fix="install it on this machine and every worker, e.g. pip install s3fs "
                                 "(s3://), gcsfs (gs://) or adlfs (abfs://)") from None
    except ValueError as exc:
        raise InputDataError(f"the {what} URL cannot be read: {exc}", file=url,
                             expected="a path, or a URL such as s3://bucket/exports/",
                             fix="check the protocol and the address") from None


def _url_parts(url: str, what: str) -> list[tuple[str | Path, str]]:
    fs, root = filesystem(url, what)
    try:
        if any(c in _GLOB_CHARS for c in root):
            files = sorted(f for f in fs.glob(root) if fs.isfile(f))
            base = os.path.commonpath(files) if len(files) > 1 else (files[0].rsplit("/", 1)[0] if files else "")
        elif fs.isdir(root):
            base = root.rstrip("/")
            files = sorted(f for f in fs.find(root) if _is_part(f[len(base):].lstrip("/")))
        else:
            return [(url, root.rsplit("/", 1)[-1])]
    except OSError as exc:
        raise InputDataError(f"cannot list the {what} URL: {exc}", file=url,
                             expected="a readable file, folder or pattern", fix="check the address and the "
                             "credentials of its filesystem (e.g. AWS_PROFILE for s3://)") from None
    if not files:
        raise InputDataError(f"no {what} CSV or Parquet file at the URL", file=url,
                             expected="a file, a pattern or a folder of CSV / Parquet parts",
                             fix="check the address")
    return [(fs.unstrip_protocol(f), f[len(base):].lstrip("/") or f.rsplit("/", 1)[-1]) for f in files]


def row_hashes(frame: pd.DataFrame) -> pd.DataFrame:
    """A 128-bit hash of each row's text (two 64-bit hashes with different keys), over the
    columns in name order so that parts whose columns are ordered differently still match.
    Two rows with equal hashes are taken as equal: a false match needs a 128-bit collision."""
    columns = sorted(frame.columns)
    # rows of other columns never match; hashlib, not hash(): the same in every worker process
    names = hashlib.sha256("\x1f".join(columns).encode("utf-8")).digest()
    signature = np.uint64(int.from_bytes(names[:8], "little"))
    ordered = frame[columns]
    first = pd.util.hash_pandas_object(ordered, index=False, hash_key="segment-report-a").to_numpy()
    second = pd.util.hash_pandas_object(ordered, index=False, hash_key="segment-report-b").to_numpy()
    return pd.DataFrame({"h1": first ^ signature, "h2": second}, index=frame.index)


def duplicates_across(keys: list[pd.DataFrame]) -> list[pd.Index]:
    """For each part's row hashes, the rows that repeat a row earlier in the same part or in an
    earlier part (the first copy is kept, as in one concatenated file)."""
    if not keys:
        return []
    every = pd.concat(keys, keys=range(len(keys)), names=["part", "row"])
    repeated = every.duplicated(subset=["h1", "h2"], keep="first")
    flagged = repeated[repeated.to_numpy()].index
    return [flagged[flagged.get_level_values("part") == i].get_level_values("row") for i in range(len(keys))]


def repeated_ids_across(ids: list[pd.Series]) -> list[pd.Index]:
    """For each part's (normalised, non-missing) customer ids, the rows whose id appeared
    before: earlier in the part or in an earlier part."""
    if not ids:
        return []
    every = pd.concat(ids, keys=range(len(ids)), names=["part", "row"])
    every = every[every.notna()]
    repeated = every.duplicated(keep="first")
    flagged = repeated[repeated.to_numpy()].index
    return [flagged[flagged.get_level_values("part") == i].get_level_values("row") for i in range(len(ids))]
