"""The run-folder store: the one place that reads and writes a run folder (DESIGN.md).

```
<out>/<period>/
  manifest.json  status.json  quarantine.csv  run.log
  results/ customers.parquet reviews.parquet customer_sentiment.parquet shap_values.parquet
           data_quality.json sentiment.json segments.json drivers.json states.json
           changes.json gates.json
  model/segments/  data/segments.csv  figures/  site/  quarto/  pdf/
```
Every JSON document is validated against its model in :mod:`segment_report.pipeline.io.schema`
and written with its ``schema_version``; :func:`load_results` reads a finished run back into
typed documents without recomputing anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from segment_report.pipeline.errors import InputDataError, os_errors_as
from segment_report.pipeline.io.schema import (DOCUMENTS, ChangesDoc, ClvDoc, DataQuality, Document, DriversDoc,
                                               GatesDoc, Manifest, Record, SegmentsDoc, SentimentDoc,
                                               StatesDoc)

TRACKED_PACKAGES = ("segment-report", "pandas", "numpy", "pyarrow", "pandera", "pydantic",
                    "scikit-learn", "umap-learn", "hdbscan", "shap", "torch", "transformers",
                    "peft", "geopandas", "libpysal", "esda", "jinja2", "weasyprint", "plotly",
                    "matplotlib", "click")


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays, timestamps, paths, NaN and pandas' NA turned into
    plain JSON values (NaN and NA become null): the one conversion every JSON output uses."""
    if isinstance(value, Record):
        return jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        # keys as JSON writes them (json turns an int key into its string anyway)
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    if isinstance(value, (pd.Timestamp, dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


@contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write; renamed onto ``path`` when the
    block succeeds, removed when it fails, so readers never see a half-written file.

    Raises:
        OutputError: the file cannot be written (full or read-only disk, no permission, a file
            where a folder should be); a previous version of the file is left as it was.
    """
    with os_errors_as(f"cannot write {path.name}", role="output", path=path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            yield Path(tmp)
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(Path(tmp))
            raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers never see it half-written (temp file + rename).

    Raises:
        OutputError: see :func:`_atomic_target`.
    """
    with _atomic_target(path) as tmp:
        tmp.write_bytes(data)


def _unlink_quietly(path: Path) -> None:
    """Remove a temporary file; a failure here must not hide the error being raised."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


@contextmanager
def built_aside(out_dir: Path) -> Iterator[Path]:
    """Build a folder next to ``out_dir`` and swap it in only when the block finishes, so a
    failure leaves the previous ``out_dir`` untouched (the half-built copy is removed)."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)


def write_json(path: Path, obj: Any) -> Path:
    """Write JSON (UTF-8, indented, NaN as null) atomically."""
    text = json.dumps(jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False)
    atomic_write_bytes(Path(path), (text + "\n").encode("utf-8"))
    return Path(path)


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_result_json(path: Path) -> Any:
    """Read one JSON file of a run folder, with a clear error when it is missing or broken.

    Raises:
        InputDataError: the file is missing or not valid JSON.
    """
    path = Path(path)
    try:
        return read_json(path)
    except FileNotFoundError:
        raise InputDataError(f"{path.name} not found", file=str(path),
                             expected="a run folder written by 'segment-report run'",
                             fix="run the pipeline for this period first, or point --run at a run folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{path.name} is not valid JSON ({exc})", file=str(path),
                             expected="a run folder written by 'segment-report run'",
                             fix="re-run the pipeline for this period") from None


def validate_document(name: str, obj: Any, path: Path | str | None = None) -> Document:
    """``obj`` checked against the model of document ``name`` (see ``schema.DOCUMENTS``).

    Raises:
        InputDataError: the document is of another schema version or does not fit the model.
    """
    model = DOCUMENTS[name]
    where = str(path or model.FILE)
    version_found = obj.get("schema_version") if isinstance(obj, Mapping) else None
    if version_found != model.SCHEMA_VERSION:
        older = version_found is None or (isinstance(version_found, int) and version_found < model.SCHEMA_VERSION)
        raise InputDataError(
            f"{Path(where).name} has schema version {version_found if version_found is not None else '(none)'}, "
            f"this segment-report reads version {model.SCHEMA_VERSION}", file=where,
            expected=f"a run folder written by segment-report {_own_version()}",
            fix=("re-run the period with 'segment-report run ... --force' to rebuild its results"
                 if older else "use the segment-report version that wrote this run (see its manifest.json)"))
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = "/".join(str(p) for p in first["loc"])
        raise InputDataError(f"{Path(where).name} does not fit its schema: '{key}': {first['msg']}",
                             file=where, expected=f"{model.FILE} as written by 'segment-report run'",
                             fix="re-run the period to rebuild its results") from None


def _own_version() -> str:
    from segment_report.pipeline import __version__

    return __version__


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as Parquet atomically (no index).

    Raises:
        OutputError: the file cannot be written (full or read-only disk, no permission).
    """
    path = Path(path)
    with _atomic_target(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_START = "=+-@\t\r"
# A plain number is never a formula, so "-12.50" quoted from a raw input stays readable.
_PLAIN_NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a single quote prepended to every text cell that a spreadsheet would run
    as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return), as
    OWASP advises against CSV injection. Numeric, boolean and date columns are untouched, and
    so is a text cell that is a plain number (``-12.50``)."""
    out = frame
    for col in frame.columns:
        values = frame[col]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values.where(values.map(lambda v: isinstance(v, str))).astype("string[pyarrow]")
        risky = (text.str.slice(0, 1).isin(list(FORMULA_START))
                 & ~text.str.fullmatch(_PLAIN_NUMBER)).fillna(False).to_numpy(dtype=bool)
        if risky.any():
            if out is frame:
                out = frame.copy()
            column = out[col].astype(object)
            column[risky] = "'" + text[risky].astype(object)
            out[col] = column
    return out


def write_csv(path: Path, frame: pd.DataFrame, spreadsheet_safe_cells: bool = True) -> Path:
    """Write a DataFrame as UTF-8 CSV atomically (no index), every non-numeric field quoted.

    With ``spreadsheet_safe_cells`` (``run.spreadsheet_safe_csv``, on by default) text cells
    that a spreadsheet would run as formulas are defused first (:func:`spreadsheet_safe`).
    """
    if spreadsheet_safe_cells:
        frame = spreadsheet_safe(frame)
    # Quoting every text field is OWASP's other half, and the csv module would otherwise leave
    # a carriage return in a cell unquoted, which splits the row for every reader.
    text = frame.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)
    atomic_write_bytes(Path(path), text.encode("utf-8"))
    return Path(path)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the results."""
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True)
class RunFolder:
    """One run folder ``<out>/<period>/``: its paths, and its documents read and written
    through their models."""

    root: Path

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine.csv"

    @property
    def log(self) -> Path:
        return self.root / "run.log"

    def result(self, name: str) -> Path:
        """Path of one file in ``results/``."""
        return self.results / name

    def document_path(self, name: str) -> Path:
        """Where document ``name`` (``"segments"``, ``"manifest"``, ...) lives in this folder."""
        return self.root / DOCUMENTS[name].FILE

    def create(self) -> RunFolder:
        """Make the folder and its ``results/`` subfolder.

        Raises:
            OutputError: the folder cannot be created (read-only or full disk, no permission).
        """
        with os_errors_as("cannot create the run folder", role="output", path=self.results):
            self.results.mkdir(parents=True, exist_ok=True)
        return self

    def write_document(self, name: str, obj: Any) -> Path:
        """Validate ``obj`` against document ``name``'s model and write it with its schema version.

        The stage's own values are written (ints stay ints), not the model's re-serialisation.

        Raises:
            pydantic.ValidationError: ``obj`` does not fit the model (a bug in the stage).
        """
        doc = {**jsonable(obj), "schema_version": DOCUMENTS[name].SCHEMA_VERSION}
        DOCUMENTS[name].model_validate(doc)  # a stage that breaks the contract is a bug: exit 1
        return write_json(self.document_path(name), doc)

    def read_document(self, name: str) -> Document:
        """Read and validate document ``name``.

        Raises:
            InputDataError: the file is missing, not JSON, of another schema version or malformed.
        """
        path = self.document_path(name)
        raw = read_result_json(path)
        return validate_document(name, raw, path)

    def write_status(self, state: str, *, stage: str | None = None, reason: str | None = None,
                     exit_code: int | None = None, extra: dict[str, Any] | None = None) -> None:
        """Record the run state: running / succeeded / failed / held."""
        self.write_document("status", {
            "state": state, "stage": stage, "reason": reason, "exit_code": exit_code,
            "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **(extra or {}),
        })


@dataclass(frozen=True)
class RunResults:
    """A run's saved results as typed documents and DataFrames, loaded once, nothing recomputed.

    The stage documents and tables are ``None`` when the run has no such result (e.g.
    ``shap_values`` when the drivers stage fitted no model).
    """

    folder: RunFolder
    manifest: Manifest
    data_quality: DataQuality
    customers: pd.DataFrame
    reviews: pd.DataFrame | None
    shap_values: pd.DataFrame | None = None
    sentiment: SentimentDoc | None = None
    segments: SegmentsDoc | None = None
    drivers: DriversDoc | None = None
    states: StatesDoc | None = None
    changes: ChangesDoc | None = None
    clv: ClvDoc | None = None
    gates: GatesDoc | None = None


#: Documents of ``results/`` that a run may lack (its stage was skipped or not configured).
OPTIONAL_DOCUMENTS = ("sentiment", "segments", "drivers", "states", "changes", "clv", "gates")


def load_results(run_dir: Path) -> RunResults:
    """Load ``manifest.json`` and every document in ``results/`` of a finished run.

    Raises:
        InputDataError: the folder is not a run folder, or a document is missing, broken or of
            another schema version (e.g. written by an older segment-report).
    """
    folder = RunFolder(Path(run_dir))
    if not folder.manifest.exists() or not folder.result("customers.parquet").exists():
        raise InputDataError("not a finished run folder (manifest.json or results/customers.parquet missing)",
                             file=str(run_dir), expected="a folder written by 'segment-report run'",
                             fix="pass the period folder, e.g. reports-out/2026-10")
    docs = {name: folder.read_document(name) for name in OPTIONAL_DOCUMENTS
            if folder.document_path(name).exists()}
    tables = {name: pd.read_parquet(folder.result(f"{name}.parquet"))
              for name in ("reviews", "shap_values") if folder.result(f"{name}.parquet").exists()}
    return RunResults(
        folder=folder,
        manifest=folder.read_document("manifest"),
        data_quality=folder.read_document("data_quality"),
        customers=pd.read_parquet(folder.result("customers.parquet")),
        **tables,
        **docs,
    )


# --------------------------------------------------------------------------- a run's artefacts

@dataclass(frozen=True)
class ArtefactFile:
    """Where an artefact of the run lives in the run folder, and how it is written."""

    path: str
    kind: str  # document | parquet | csv | model


#: Every artefact the stages produce that is kept in the run folder. Others (the ingested
#: tables, the window) live only in memory during the run.
ARTEFACT_FILES: Mapping[str, ArtefactFile] = {
    "quarantine": ArtefactFile("quarantine.csv", "csv"),
    "customers": ArtefactFile("results/customers.parquet", "parquet"),
    "reviews": ArtefactFile("results/reviews.parquet", "parquet"),
    "customer_sentiment": ArtefactFile("results/customer_sentiment.parquet", "parquet"),
    "shap_values": ArtefactFile("results/shap_values.parquet", "parquet"),
    "data_quality": ArtefactFile(DataQuality.FILE, "document"),
    "sentiment": ArtefactFile(SentimentDoc.FILE, "document"),
    "segments": ArtefactFile(SegmentsDoc.FILE, "document"),
    "drivers": ArtefactFile(DriversDoc.FILE, "document"),
    "states": ArtefactFile(StatesDoc.FILE, "document"),
    "changes": ArtefactFile(ChangesDoc.FILE, "document"),
    "clv": ArtefactFile(ClvDoc.FILE, "document"),
    "gates": ArtefactFile(GatesDoc.FILE, "document"),
    "segment_model": ArtefactFile("model/segments", "model"),
    "segment_assignments": ArtefactFile("data/segments.csv", "csv"),
}


def save_artefacts(folder: RunFolder, artefacts: Mapping[str, Any], spreadsheet_safe_csv: bool = True) -> list[Path]:
    """Write every artefact that has a place in the run folder (``ARTEFACT_FILES``); an empty
    table (e.g. no SHAP values when the drivers stage was skipped) is not written. CSV files
    are written spreadsheet-safe unless ``spreadsheet_safe_csv`` is false (see :func:`write_csv`)."""
    written = []
    for name, spec in ARTEFACT_FILES.items():
        value = artefacts.get(name)
        if value is None or (isinstance(value, pd.DataFrame) and value.empty and spec.kind == "parquet"
                             and name != "customers"):
            continue
        path = folder.root / spec.path
        if spec.kind == "document":
            folder.write_document(name, value)
        elif spec.kind == "parquet":
            write_parquet(path, value)
        elif spec.kind == "csv":
            write_csv(path, value, spreadsheet_safe_csv)
        else:
            value.save(path)
        written.append(path)
    return written


def previous_run_dir(out_dir: Path, label: str) -> Path | None:
    """The previous month's published run folder, or ``None`` (no such run, or not a month)."""
    if label == "all":
        return None
    folder = Path(out_dir) / str(pd.Period(label, freq="M") - 1)
    if not (folder / "results" / "customers.parquet").exists() or not (folder / "manifest.json").exists():
        return None
    return folder


@dataclass(frozen=True)
class PreviousRun:
    """What this month's comparison needs of last month's published run."""

    period: str
    started_at: str | None
    customers: pd.DataFrame
    n_reviews: int


def load_previous_run(out_dir: Path, label: str) -> PreviousRun | None:
    """Last month's run in ``out_dir`` for the month-over-month comparison, or ``None``."""
    folder = previous_run_dir(out_dir, label)
    if folder is None:
        return None
    reviews = folder / "results" / "reviews.parquet"
    return PreviousRun(period=folder.name, started_at=read_json(folder / "manifest.json").get("started_at"),
                       customers=pd.read_parquet(folder / "results" / "customers.parquet"),
                       n_reviews=len(pd.read_parquet(reviews, columns=["review_id"])) if reviews.exists() else 0)
