"""Privacy: no raw name, e-mail, phone or address from the input appears anywhere in a demo run
folder (results, quarantine, logs, manifest, reports)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

PII_COLUMNS = ("Name", "Email", "Phone", "Address")
_STRIP = ".,;:!?\"'[]{}<>"
_SPLIT = re.compile(r"[\s,;|\"]+")


def _pii_values(data_csv: Path) -> set[str]:
    frame = pd.read_csv(data_csv, dtype=str, usecols=list(PII_COLUMNS))
    values = set()
    for col in PII_COLUMNS:
        values |= {v.strip() for v in frame[col].dropna() if len(v.strip()) >= 5}
    return values


def _texts(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        return [str(v) for col in frame.columns for v in frame[col].dropna().astype(str).unique()]
    if path.suffix == ".pdf":
        if shutil.which("pdftotext") is None:
            pytest.skip("pdftotext (poppler-utils) is needed to scan PDFs")
        out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
        return [out.stdout]
    return [path.read_bytes().decode("utf-8", errors="replace")]


def _leaks(text: str, pii: set[str], max_tokens: int) -> set[str]:
    found = set()
    for line in text.splitlines():
        tokens = [t.strip(_STRIP) for t in _SPLIT.split(line) if t]
        for n in range(1, max_tokens + 1):
            for i in range(len(tokens) - n + 1):
                gram = " ".join(tokens[i:i + n])
                if gram in pii:
                    found.add(gram)
    return found


def test_no_personal_data_in_demo_run_folder(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "-q", "demo", "--out", str(out),
                           "--transactions", "3000"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr
    pii = _pii_values(out / "data" / "retail_data.csv")
    assert len(pii) > 1000  # names, e-mails, phones and addresses of every customer
    max_tokens = max(len(v.split()) for v in pii)
    run_dirs = [p for p in out.iterdir() if p.is_dir() and p.name != "data" and not p.name.startswith(".")]
    assert len(run_dirs) == 1
    files = [p for p in run_dirs[0].rglob("*") if p.is_file()]
    assert any(p.name == "reviews.parquet" for p in files)
    leaks: dict[str, set[str]] = {}
    for path in files:
        for text in _texts(path):
            found = _leaks(text, pii, max_tokens)
            if found:
                leaks.setdefault(str(path.relative_to(out)), set()).update(found)
    assert not leaks, {k: sorted(v)[:5] for k, v in leaks.items()}
    # the planted PII in review texts was there to be scrubbed, and was
    reviews = pd.read_parquet(run_dirs[0] / "results" / "reviews.parquet")
    assert reviews["text"].str.contains(r"\[email\]|\[phone\]", regex=True).any()
    assert not reviews["text"].str.contains(r"[\w.+-]+@[\w-]+\.\w+", regex=True).any()
