"""Executive and persona PDFs (Jinja2 HTML + print CSS -> WeasyPrint)."""

from __future__ import annotations

import logging
from importlib.resources import files
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pipeline.runfolder import RunResults, atomic_write_bytes
from reports.env import render
from reports.views import data_quality_view, site_view

# WeasyPrint and fontTools log every font subsetting step at INFO/WARNING.
for _name in ("weasyprint", "fontTools"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def _css() -> Markup:
    return Markup(files("reports.templates").joinpath("pdf/pdf.css").read_text(encoding="utf-8"))


def pdf_section(title: str, template: str, page_break: bool = False, **context: Any) -> dict[str, Any]:
    """A titled PDF section rendered from a partial template."""
    return {"title": title, "html": Markup(render(template, **context)), "page_break": page_break}


def html_to_pdf(html: str, base_url: Path, out_path: Path) -> Path:
    """Render HTML to a PDF file atomically (fonts embedded by WeasyPrint)."""
    from weasyprint import HTML

    data = HTML(string=html, base_url=str(base_url)).write_pdf()
    atomic_write_bytes(Path(out_path), data)
    return Path(out_path)


def executive_sections(results: RunResults) -> list[dict[str, Any]]:
    """The executive PDF's sections for the results present in the run."""
    return [pdf_section("Data quality", "pdf/_data_quality.html", dq=data_quality_view(results.data_quality))]


def render_executive_pdf(results: RunResults, out_path: Path) -> Path:
    """Write ``pdf/executive-summary.pdf`` for a run."""
    html = render("pdf/executive.html", site=site_view(results), css=_css(),
                  sections=executive_sections(results))
    return html_to_pdf(html, results.folder.root, out_path)
