"""The run folder contract (DESIGN.md): paths, JSON/Parquet writers, manifest, status, reload.

```
<out>/<period>/
  manifest.json  status.json  quarantine.csv  run.log
  results/ customers.parquet reviews.parquet segments.json drivers.json states.json
           sentiment.json data_quality.json
```
Results are written once by the stages and re-loaded by the reports without recomputing.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TRACKED_PACKAGES = ("segment-report", "pandas", "numpy", "pyarrow", "pandera", "pydantic",
                    "scikit-learn", "umap-learn", "hdbscan", "shap", "torch", "transformers",
                    "peft", "geopandas", "libpysal", "esda", "jinja2", "weasyprint", "plotly",
                    "matplotlib", "click")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (pd.Timestamp, dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean_nans(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean_nans(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_nans(v) for v in value]
    return value


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers never see it half-written (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    text = json.dumps(_clean_nans(obj), indent=2, ensure_ascii=False, default=_json_default,
                      allow_nan=False)
    atomic_write_bytes(Path(path), (text + "\n").encode("utf-8"))
    return Path(path)


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_result_json(path: Path) -> Any:
    """Read one ``results/*.json`` file back, with a clear error when it is missing or broken.

    Raises:
        InputDataError: the file is missing or not valid JSON.
    """
    from segment_report.pipeline.errors import InputDataError

    path = Path(path)
    try:
        return read_json(path)
    except FileNotFoundError:
        raise InputDataError(f"{path.name} not found", file=str(path),
                             expected="a results folder written by 'segment-report run'",
                             fix="run the pipeline for this period first, or point --run at a run folder") from None
    except json.JSONDecodeError as exc:
        raise InputDataError(f"{path.name} is not valid JSON ({exc})", file=str(path),
                             expected="a results folder written by 'segment-report run'",
                             fix="re-run the pipeline for this period") from None


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as Parquet atomically (no index)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as UTF-8 CSV atomically (no index)."""
    atomic_write_bytes(Path(path), frame.to_csv(index=False).encode("utf-8"))
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
    """Paths inside one run folder ``<out>/<period>/``."""

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

    def create(self) -> RunFolder:
        """Make the folder and its ``results/`` subfolder."""
        self.results.mkdir(parents=True, exist_ok=True)
        return self

    def write_status(self, state: str, *, stage: str | None = None, reason: str | None = None,
                     exit_code: int | None = None, extra: dict[str, Any] | None = None) -> None:
        """Record the run state: running / succeeded / failed / held."""
        write_json(self.status, {
            "state": state, "stage": stage, "reason": reason, "exit_code": exit_code,
            "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **(extra or {}),
        })


@dataclass
class RunResults:
    """A run's saved results, re-loaded without recomputing anything."""

    folder: RunFolder
    manifest: dict[str, Any]
    data_quality: dict[str, Any]
    customers: pd.DataFrame
    reviews: pd.DataFrame | None
    extra: dict[str, Any]


def load_results(run_dir: Path) -> RunResults:
    """Load ``manifest.json`` and every file in ``results/`` of a finished run.

    Raises:
        InputDataError: the folder is not a run folder (no manifest.json or results/).
    """
    from segment_report.pipeline.errors import InputDataError

    folder = RunFolder(Path(run_dir))
    if not folder.manifest.exists() or not folder.result("customers.parquet").exists():
        raise InputDataError("not a finished run folder (manifest.json or results/customers.parquet missing)",
                             file=str(run_dir), expected="a folder written by 'segment-report run'",
                             fix="pass the period folder, e.g. reports-out/2026-10")
    extra = {p.stem: read_json(p) for p in sorted(folder.results.glob("*.json"))
             if p.stem != "data_quality"}
    reviews_path = folder.result("reviews.parquet")
    return RunResults(
        folder=folder,
        manifest=read_json(folder.manifest),
        data_quality=read_json(folder.result("data_quality.json")),
        customers=pd.read_parquet(folder.result("customers.parquet")),
        reviews=pd.read_parquet(reviews_path) if reviews_path.exists() else None,
        extra=extra,
    )
