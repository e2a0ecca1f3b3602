"""Render a run's reports from its saved results: HTML site, Quarto project, PDFs.

``segment-report render`` and ``segment-report run`` both call :func:`render_run`. Each output
is built aside and moved into place only when complete, so a failed render leaves the
earlier outputs untouched.
"""

from __future__ import annotations

from pathlib import Path

from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.log import logger
from segment_report.pipeline.io.store import RunResults, load_results
from segment_report.reports.model import Report, report_for

FORMATS = ("html", "pdf", "quarto")


def parse_formats(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """``"html,pdf"`` -> ``("html", "pdf")``; unknown names are a ConfigError."""
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    unknown = sorted(set(items) - set(FORMATS))
    if unknown or not items:
        raise ConfigError(f"unknown report format(s) {unknown or items}",
                          expected=f"a comma-separated subset of {', '.join(FORMATS)}",
                          fix="e.g. --format html,pdf")
    return tuple(dict.fromkeys(items))


def render_run(run: Path | RunResults, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Render the requested formats for a run folder and return the files written.

    The results are loaded once into one report model that every output reads; every amount is
    written with the run's currency symbol (``drivers.currency_symbol``).
    """
    results = run if isinstance(run, RunResults) else load_results(Path(run))
    with report_for(results) as report:
        return _render(report, formats)


def _render(report: Report, formats: tuple[str, ...]) -> list[Path]:
    root = report.results.folder.root
    written: list[Path] = []
    from segment_report.reports.figures import draw_all

    figures = draw_all(report.results, root / "figures")
    if "html" in formats:
        from segment_report.reports.site import render_site

        written += render_site(report, root / "site", figures)
        logger.debug("site: %s", root / "site" / "index.html")
    if "quarto" in formats:
        from segment_report.reports.quarto import render_quarto

        written += render_quarto(report, root / "quarto", figures)
    if "pdf" in formats:
        from segment_report.reports.pdf import render_executive_pdf

        written.append(render_executive_pdf(report, root / "pdf" / "executive-summary.pdf", figures))
        logger.debug("executive PDF: %s", written[-1])
        from segment_report.reports.persona_pdf import render_persona_pdfs

        persona_pdfs = render_persona_pdfs(report, root / "pdf" / "personas", figures)
        written += persona_pdfs
        logger.debug("persona PDFs: %d in %s", len(persona_pdfs), root / "pdf" / "personas")
    return written
