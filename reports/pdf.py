"""Executive and persona PDFs (Jinja2 HTML + print CSS -> WeasyPrint)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from markupsafe import Markup

from segment_report.pipeline.io.store import atomic_write_bytes
from segment_report.reports.model import Report
from segment_report.reports.env import render, template_file
from segment_report.reports.narrative import Sentence, of_kind
from segment_report.reports.views import (personas_table)

# WeasyPrint and fontTools log every font subsetting step at INFO/WARNING.
for _name in ("weasyprint", "fontTools"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def _css() -> Markup:
    return Markup(template_file("pdf/pdf.css").read_text(encoding="utf-8"))


def pdf_section(title: str, template: str, page_break: bool = False, **context: Any) -> dict[str, Any]:
    """A titled PDF section rendered from a partial template."""
    return {"title": title, "html": Markup(render(template, **context)), "page_break": page_break}


def html_to_pdf(html: str, base_url: Path, out_path: Path) -> Path:
    """Render HTML to a PDF file atomically (fonts embedded by WeasyPrint)."""
    from weasyprint import HTML

    data = HTML(string=html, base_url=str(base_url)).write_pdf()
    atomic_write_bytes(Path(out_path), data)
    return Path(out_path)


def executive_sections(report: Report, figures: dict[str, Path]) -> list[dict[str, Any]]:
    """The executive PDF's sections after page 1, for the results present in the run."""
    sections = []
    if report.results.drivers:
        sections.append(pdf_section("What drives customer value", "pdf/_drivers.html", dv=report.drivers,
                                    figure=_uri(figures.get("drivers_importance"))))
    if report.geo["available"]:
        sections.append(pdf_section("Sentiment by state", "pdf/_geography.html", geo=report.geo))
    ch = report.changes
    if ch.get("migration"):
        sections.append(pdf_section(f"Movement between personas since {ch['previous_label']}",
                                    "pdf/_migration.html", ch=ch))
    if report.personas:
        sections.append(pdf_section("Recommended actions", "pdf/_actions.html", personas=report.personas))
    sections.append(pdf_section("Data quality", "pdf/_data_quality.html", dq=report.data_quality))
    return sections


def _uri(path: Path | None) -> str:
    return path.resolve().as_uri() if path is not None and path.exists() else ""


def first_page(report: Report, figures: dict[str, Path]) -> Markup:
    """Page 1 after the headline numbers: what changed, the personas in one line each, the value
    at risk and the persona that needs attention, the top driver in one sentence and the state map."""
    return Markup(render("pdf/_first_page.html", ch=report.changes, clv_lines=report.clv["first_page"],
                         persona_table=personas_table(report.personas) if report.personas else None,
                         driver_sentence=next((s.text for s in of_kind(report.drivers["sentences"], "driver")), ""),
                         geo_sentence=_where_sentence(report.geo["sentences"]),
                         map=_uri(figures.get("states_map"))))


def _where_sentence(sentences: list[Sentence]) -> str:
    """Page 1's geography sentence(s): significant clusters if any, else the no-hotspot or the
    highest/lowest sentence, else the first (chosen by finding kind)."""
    for kind in ("spatial_cluster", "no_hotspot", "highest_lowest"):
        picked = of_kind(sentences, kind)
        if picked:
            return " ".join(s.text for s in picked[:2])
    return sentences[0].text if sentences else ""


def render_executive_pdf(report: Report, out_path: Path, figures: dict[str, Path] | None = None) -> Path:
    """Write ``pdf/executive-summary.pdf`` for a run."""
    figures = figures or {}
    html = render("pdf/executive.html", site=report.site, css=_css(),
                  first_page=first_page(report, figures), sections=executive_sections(report, figures))
    return html_to_pdf(html, report.results.folder.root, out_path)
