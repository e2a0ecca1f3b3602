"""The demo run's PDFs as a reader gets them: rasterised page by page with ``pdftoppm``.
Executive summary 2-6 pages and at most 3 MB; no blank page; text extractable (period label,
"persona"); every font embedded. Persona PDFs under ``pdf/personas/`` get the same page checks
when the run has them. Skipped when the poppler tools are missing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segment_report.reports.formatting import month
from tests.conftest import demo_run_dir

POPPLER = ("pdftoppm", "pdftotext", "pdffonts", "pdfinfo")
MISSING = [tool for tool in POPPLER if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"poppler tools missing: {', '.join(MISSING)} "
                                                      "(Debian/Ubuntu: apt-get install poppler-utils)")

DPI = 50                   # enough to see layout; fast
MIN_INK = 0.01             # share of non-white pixels a page with content has (header + text)
MAX_EXECUTIVE_BYTES = 3 * 1024 * 1024


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout


def page_count(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))


def rasterise(pdf: Path, out_dir: Path) -> list[Path]:
    """One PNG per page (``pdftoppm -png``), in page order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _run("pdftoppm", "-png", "-r", str(DPI), str(pdf), str(out_dir / pdf.stem))
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def ink(png: Path) -> float:
    """Share of pixels that are not (near) white."""
    with Image.open(png) as image:
        grey = np.asarray(image.convert("L"))
    return float((grey < 235).mean())


def fonts(pdf: Path) -> list[tuple[str, str]]:
    """``pdffonts`` rows as (name, emb); read from the right, as long names shift the columns."""
    rows = []
    for line in _run("pdffonts", str(pdf)).splitlines()[2:]:
        parts = line.split()
        if len(parts) >= 6:
            rows.append((parts[0], parts[-5]))  # ... emb sub uni object-number generation
    return rows


def text(pdf: Path) -> str:
    return " ".join(_run("pdftotext", "-layout", str(pdf), "-").split())


@pytest.fixture(scope="module")
def run(fast_demo) -> Path:
    return demo_run_dir(fast_demo)


@pytest.fixture(scope="module")
def period_label(run) -> str:
    period = json.loads((run / "manifest.json").read_text(encoding="utf-8"))["period"]["period"]
    return month(period)


def _pdfs(run: Path) -> list[Path]:
    return sorted((run / "pdf" / "personas").glob("*.pdf"))


def check_pages(pdf: Path, out_dir: Path) -> list[Path]:
    pngs = rasterise(pdf, out_dir)
    assert len(pngs) == page_count(pdf), f"{pdf.name}: pdftoppm and pdfinfo disagree"
    for number, png in enumerate(pngs, start=1):
        share = ink(png)
        assert share >= MIN_INK, f"{pdf.name} page {number} is (nearly) blank: {share:.2%} ink"
    return pngs


def check_fonts(pdf: Path) -> None:
    rows = fonts(pdf)
    assert rows, f"{pdf.name}: no fonts (text drawn as images?)"
    not_embedded = [name for name, emb in rows if emb != "yes"]
    assert not not_embedded, f"{pdf.name}: fonts not embedded: {not_embedded}"


def test_executive_pdf_pages(run, tmp_path):
    pdf = run / "pdf" / "executive-summary.pdf"
    assert pdf.exists()
    assert pdf.stat().st_size <= MAX_EXECUTIVE_BYTES, f"{pdf.stat().st_size:,} bytes"
    pages = page_count(pdf)
    assert 2 <= pages <= 6, f"executive summary has {pages} pages"
    pngs = check_pages(pdf, tmp_path / "executive")
    with Image.open(pngs[0]) as first:
        # A4 portrait at 50 dpi: about 413 x 585 px.
        assert first.height > first.width, first.size


def test_executive_pdf_text_and_fonts(run, period_label):
    pdf = run / "pdf" / "executive-summary.pdf"
    body = text(pdf)
    assert period_label in body, f"period label {period_label!r} not in the extracted text"
    assert "persona" in body.lower()
    assert "executive summary" in body.lower()
    # No template or formatting leftovers in what the reader sees.
    for leftover in (r"\{\{", r"\{%", r"\bnan\b", r"\bNaN\b", r"\bNone\b(?! of)"):
        assert not re.search(leftover, body), leftover
    check_fonts(pdf)


def test_persona_pdf_pages(run, period_label, tmp_path):
    pdfs = _pdfs(run)
    if not pdfs:
        pytest.skip("this run has no persona PDFs (pdf/personas/)")
    for pdf in pdfs:
        check_pages(pdf, tmp_path / pdf.stem)
        check_fonts(pdf)
        body = text(pdf)
        assert period_label in body, f"{pdf.name}: period label missing"
        assert "persona" in body.lower(), pdf.name
