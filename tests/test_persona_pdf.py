"""Persona PDFs on the demo run: one per segment, one to two pages, with the persona's name and
its suggested actions' evidence; a failed render leaves the previous PDFs alone."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from segment_report.pipeline.io.store import load_results
from segment_report.reports.model import build_report
from segment_report.reports.render import render_run
from segment_report.reports.views import persona_views
from tests.conftest import demo_run_dir

needs_poppler = pytest.mark.skipif(shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None,
                                   reason="pdfinfo/pdftotext (Debian poppler-utils) not installed")


def _pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def _text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())  # undo line wrapping


@pytest.fixture(scope="module")
def rendered(fast_demo, tmp_path_factory) -> Path:
    """A copy of the demo run re-rendered as PDFs only."""
    run = tmp_path_factory.mktemp("persona-pdf") / "run"
    shutil.copytree(demo_run_dir(fast_demo), run)
    shutil.rmtree(run / "pdf", ignore_errors=True)
    written = render_run(run, ("pdf",))
    assert run / "pdf" / "executive-summary.pdf" in written
    return run


@needs_poppler
def test_one_pdf_per_segment_one_to_two_pages(rendered):
    segments = json.loads((rendered / "results" / "segments.json").read_text())["segments"]
    personas = persona_views({"segments": segments}, None)
    pdfs = sorted((rendered / "pdf" / "personas").glob("*.pdf"))
    assert [p.name for p in pdfs] == sorted(f"{p['slug']}.pdf" for p in personas)
    assert len(pdfs) == len(segments) >= 1
    for pdf in pdfs:
        assert 1 <= _pages(pdf) <= 2, pdf.name
    assert not list((rendered / "pdf").glob(".*tmp*")), "no half-built folders or files left behind"


@needs_poppler
def test_persona_pdf_names_persona_and_action_evidence(rendered):
    results = load_results(rendered)
    personas = persona_views(results.segments, results.drivers)
    for p in personas:
        text = _text(rendered / "pdf" / "personas" / f"{p['slug']}.pdf")
        assert " ".join(p["name"].split()) in text
        assert "Suggested actions" in text
        assert p["actions"], p["name"]
        for action in p["actions"]:
            assert " ".join(action["evidence"].split()) in text, action["evidence"]
        assert "Page 1 of" in text


@needs_poppler
def test_executive_pdf_lists_recommended_actions(rendered):
    text = _text(rendered / "pdf" / "executive-summary.pdf")
    assert "Recommended actions" in text
    results = load_results(rendered)
    first = persona_views(results.segments, results.drivers)[0]
    assert " ".join(first["actions"][0]["evidence"].split()) in text


def test_failed_persona_render_keeps_previous_pdfs(rendered, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(rendered, run)
    before = {p.name: p.read_bytes() for p in (run / "pdf" / "personas").glob("*.pdf")}
    import segment_report.reports.persona_pdf as persona_pdf

    calls = []
    real = persona_pdf.write_persona_pdf

    def fail_on_second(site, persona, base_url, out_path):
        calls.append(persona["slug"])
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(site, persona, base_url, out_path)

    monkeypatch.setattr(persona_pdf, "write_persona_pdf", fail_on_second)
    if len(before) < 2:
        pytest.skip("needs two personas")
    with pytest.raises(RuntimeError, match="boom"):
        persona_pdf.render_persona_pdfs(build_report(load_results(run)), run / "pdf" / "personas")
    after = {p.name: p.read_bytes() for p in (run / "pdf" / "personas").glob("*.pdf")}
    assert after == before
    assert not [p for p in (run / "pdf").iterdir() if p.name.startswith(".")]
