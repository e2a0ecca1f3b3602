"""One persona PDF per segment: ``pdf/personas/<slug>.pdf`` (Jinja2 HTML + print CSS -> WeasyPrint).

Each report is one to two A4 pages: who they are, suggested actions, how they buy, what they say,
what drives their value, where they are and how sure we are. Every value comes from
:func:`segment_report.reports.views.persona_views`; the template only places it. When a persona's report would
run past :data:`MAX_PAGES`, it is re-laid out in a compact variant (smaller type, no membership
table, no category/state tables beyond five rows) before it is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup

from segment_report.pipeline.log import logger
from segment_report.pipeline.io.store import atomic_write_bytes, built_aside
from segment_report.reports.model import Report
from segment_report.reports.env import render, template_file
from segment_report.reports.pdf import _css

MAX_PAGES = 2


def _persona_css() -> Markup:
    return Markup(str(_css()) + "\n" + template_file("pdf/persona.css").read_text(encoding="utf-8"))


def persona_html(site: Any, persona: dict[str, Any], compact: bool = False) -> str:
    """The HTML of one persona report (already-formatted values placed by the template)."""
    return render("pdf/persona.html", site=site, p=persona, css=_persona_css(), compact=compact)


def write_persona_pdf(site: Any, persona: dict[str, Any], base_url: Path, out_path: Path) -> Path:
    """Render one persona report to ``out_path`` atomically, compacting it if it runs past two pages."""
    from weasyprint import HTML

    document = None
    for compact in (False, True):
        document = HTML(string=persona_html(site, persona, compact), base_url=str(base_url)).render()
        if len(document.pages) <= MAX_PAGES:
            break
    if len(document.pages) > MAX_PAGES:
        logger.warning("persona PDF %s has %d pages (more than %d)", out_path.name, len(document.pages),
                       MAX_PAGES)
    atomic_write_bytes(Path(out_path), document.write_pdf())
    return Path(out_path)


def render_persona_pdfs(report: Report, out_dir: Path,
                        figures: dict[str, Path] | None = None) -> list[Path]:
    """Write one PDF per persona into ``out_dir`` (``pdf/personas/``).

    The folder is built aside and swapped in only when every persona rendered, so a failed render
    leaves the previous reports untouched and never a half-written PDF. ``figures`` is accepted for
    the common renderer signature; persona reports use tables only.

    Returns:
        The written PDFs, one per segment in ``segments.json``, in segment order.
    """
    out_dir = Path(out_dir)
    written = []
    with built_aside(out_dir) as tmp:
        for persona in report.personas:
            name = f"{persona['slug']}.pdf"
            write_persona_pdf(report.site, persona, report.results.folder.root, tmp / name)
            written.append(out_dir / name)
    return written
