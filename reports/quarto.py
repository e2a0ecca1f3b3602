"""The analyst site as a Quarto website project (``<run>/quarto/``).

The same pages as the HTML site (:mod:`segment_report.reports.site`), from the same view models, written as
Quarto Markdown: overview, personas (an overview page and one page per persona under
``segments/``), value drivers, customer value (churn risk and CLV), geography, data quality and
methodology. The run's figures are
copied into ``quarto/figures/`` and referenced relatively. The repository's ``_quarto.yml`` is
the base (shipped as package data); every generated page is added to its navigation.

The pages use only Markdown that Pandoc reads too (pipe tables, fenced divs for callouts,
image attributes), so ``pandoc -f markdown`` converts each page without Quarto. When a
``quarto`` binary is on PATH the project is rendered; otherwise the log says how to render it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from segment_report.pipeline.log import logger
from segment_report.pipeline.io.store import atomic_write_bytes, built_aside
from segment_report.reports import formatting as fmt
from segment_report.reports.model import Report
from segment_report.reports.env import md_text, render, template_file
from segment_report.reports.site import clv_figures as site_clv_figures
from segment_report.reports.site import driver_figures as site_driver_figures, key_insights
from segment_report.reports.views import (Kpi, Row, Table, personas_table, segments_summary)

STATIC_MAP_ALT = "Map of the US states coloured by shrunk sentiment; grey states have too little data"
EMBEDDING_ALT = "Customers on the 2-D UMAP map, coloured by persona"
CALIBRATION_ALT = ("Line chart: mean predicted and mean actual purchase days per customer in the hold-out "
                   "months, by decile of predicted orders")

# Files of the run folder worth knowing about (named, not linked: the rendered Quarto site lives
# in quarto/_site/, so relative links into the run folder would break).
RUN_FILES = (
    ("data/segments.csv", "customer_id → segment, for CRM activation"),
    ("results/segments.json", "persona profiles and stability"),
    ("results/drivers.json", "value model, SHAP tables, findings"),
    ("results/states.json", "per-state statistics"),
    ("results/changes.json", "headline numbers, change since last month and the persona migration matrix"),
    ("results/clv.json", "churn risk and lifetime value per persona, the models and their time-split check"),
    ("results/gates.json", "quality gates and whether the run passed"),
    ("quarantine.csv", "rejected input rows with reasons"),
    ("results/data_quality.json", "data-quality counts"),
    ("manifest.json", "configuration, versions, hashes, timings"),
)


@dataclass(frozen=True)
class QmdPage:
    """One page of the Quarto project: file (relative to ``quarto/``), nav title, template, context."""

    file: str
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def alt_text(text: str) -> str:
    """Text safe inside a double-quoted Pandoc attribute (``fig-alt="..."``): only letters,
    digits, spaces and plain punctuation survive (no quotes, braces, backslashes or markup)."""
    text = " ".join(str(text).split()).replace("'", "’")
    return re.sub(r"[^\w .,;:()%#+\-–/×÷’]", "", text).strip()


def figure(name: str, caption: str, alt: str, root: str = "") -> dict[str, str]:
    """A figure reference relative to the page (``root`` is ``../`` for pages in a folder)."""
    return {"src": f"{root}figures/{name}.svg", "caption": caption, "alt": alt_text(alt)}


def driver_figures(figures: dict[str, Path], drivers: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The drivers page's figures by section, with the site's captions and order."""
    return {section: [figure(Path(f["src"]).stem, f["caption"], f["alt"]) for f in figs]
            for section, figs in site_driver_figures(figures, drivers).items()}


def kpi_table(kpis: list[Kpi], caption: str) -> Table:
    """The headline KPIs as a table; the change column (``+4.2% vs Sep 2026``) only when there
    is a previous period, with the comparison month moved into its header."""
    versus = next((k.versus for k in kpis if k.change), "")
    if not versus:
        return Table(caption, ("Measure", "Value", "What it counts"),
                     tuple(Row((k.label, k.value, k.note)) for k in kpis), (False, True, False))
    return Table(caption, ("Measure", "Value", f"Change vs {versus}", "What it counts"),
                 tuple(Row((k.label, k.value, k.change or fmt.MISSING, k.note)) for k in kpis),
                 (False, True, True, False))


def build_pages(report: Report, figures: dict[str, Path] | None = None) -> list[QmdPage]:
    """The pages of the project for the results that exist in this run (the site's pages)."""
    figures = figures or {}
    results, site = report.results, report.site
    segments, drivers_raw, states_raw = results.segments, results.drivers, results.states
    personas = [{**p, "qmd": f"segments/{p['slug']}.qmd",
                 "summary_line": p["one_liner"].removeprefix(f"{p['name']}: ")} for p in report.personas]
    dv, geo, ch = report.drivers, report.geo, report.changes
    files = [{"path": path, "note": note} for path, note in RUN_FILES if (results.folder.root / path).exists()]
    pages = [QmdPage("index.qmd", "Overview", "qmd/index.qmd", {
        "kpis": kpi_table(site.kpis, f"{site.title}, {site.period_label}"), "ch": ch,
        "insights": key_insights(dv, geo, personas), "personas": personas, "files": files,
    })]
    if personas:
        pages.append(QmdPage("segments.qmd", "Personas", "qmd/segments.qmd", {
            "personas": personas,
            "table": personas_table(personas),
            "summary": segments_summary(segments["summary"]),
            "embedding": (figure("segments_map", "Each dot is a customer placed by similarity of their features "
                                 "(UMAP); colours are personas.", EMBEDDING_ALT)
                          if "segments_map" in figures else None),
        }))
        for p in personas:
            pages.append(QmdPage(p["qmd"], p["name"], "qmd/segment.qmd", {"p": p}))
    if drivers_raw:
        pages.append(QmdPage("drivers.qmd", "Value drivers", "qmd/drivers.qmd",
                             {"dv": dv, "figures": driver_figures(figures, drivers_raw)}))
    if results.clv is not None:
        pages.append(QmdPage("clv.qmd", "Customer value", "qmd/clv.qmd", {
            "clv": report.clv,
            "figures": [figure(Path(f["src"]).stem, f["caption"], CALIBRATION_ALT)
                        for f in site_clv_figures(figures, report.clv)],
        }))
    if states_raw:
        pages.append(QmdPage("geography.qmd", "Geography", "qmd/geography.qmd", {
            "geo": geo,
            "static_map": (figure("states_map", "Colour: shrunk sentiment estimate. Grey: fewer than the minimum "
                                  "customers or no reviews. Outlined: significant clusters.", STATIC_MAP_ALT)
                           if "states_map" in figures else None),
        }))
    pages += [
        QmdPage("data-quality.qmd", "Data quality", "qmd/data-quality.qmd",
                {"dq": report.data_quality}),
        QmdPage("methodology.qmd", "Methodology", "qmd/methodology.qmd", {"method": report.methodology}),
    ]
    return pages


def navbar(pages: list[QmdPage]) -> list[dict[str, Any]]:
    """Navbar entries: one per top-level page; persona pages in a "Personas" menu. Persona
    entries carry no ``text``: Quarto then shows the page's (escaped) title, so no data-derived
    text is written into _quarto.yml."""
    left: list[dict[str, Any]] = []
    personas = [p for p in pages if p.file.startswith("segments/")]
    for page in pages:
        if page.file.startswith("segments/"):
            continue
        if page.file == "segments.qmd" and personas:
            left.append({"text": page.title, "menu": [{"href": page.file, "text": "All personas"},
                                                      *({"href": p.file} for p in personas)]})
        else:
            left.append({"href": page.file, "text": page.title})
    return left


def base_config() -> dict[str, Any]:
    """The repository's _quarto.yml (installed with the package)."""
    text = template_file("qmd/_quarto.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def render_quarto(report: Report, out_dir: Path, figures: dict[str, Path] | None = None,
                  run_quarto: bool = True) -> list[Path]:
    """Write the Quarto project (pages, ``_quarto.yml``, ``figures/``); render it when the
    Quarto CLI is installed.

    Args:
        figures: name -> SVG path, as drawn by :func:`segment_report.reports.figures.draw_all`; each SVG is
            copied into ``figures/`` and the pages reference the ones that exist.

    Returns:
        The written ``_quarto.yml`` and ``.qmd`` files.
    """
    out_dir = Path(out_dir)
    figures = {name: Path(path) for name, path in (figures or {}).items() if Path(path).exists()}
    site = report.site
    pages = build_pages(report, figures)
    config = base_config()
    config.setdefault("website", {})["title"] = f"{site.title}, {site.period_label}"
    config["website"].setdefault("navbar", {})["left"] = navbar(pages)
    config["website"]["page-footer"] = {"center": md_text(site.footer)}
    written = [out_dir / "_quarto.yml"]
    with built_aside(out_dir) as tmp:
        atomic_write_bytes(tmp / "_quarto.yml",
                           yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode("utf-8"))
        for page in pages:
            root = "../" * page.file.count("/")
            text = render(page.template, site=site, page={"file": page.file, "title": page.title, "root": root},
                          **page.context)
            (tmp / page.file).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(tmp / page.file, text.encode("utf-8"))
            written.append(out_dir / page.file)
        if figures:
            (tmp / "figures").mkdir()
            for name, path in sorted(figures.items()):
                shutil.copy(path, tmp / "figures" / f"{name}.svg")
    quarto = shutil.which("quarto")
    if run_quarto and quarto:
        proc = subprocess.run([quarto, "render"], cwd=out_dir, capture_output=True, text=True)
        if proc.returncode != 0:
            logger.warning("quarto render failed (the .qmd project is still in %s): %s",
                           out_dir, proc.stderr.strip()[-500:])
    elif run_quarto:
        logger.info("Quarto CLI not found: the Quarto project is written; to build it, run "
                    "'quarto render' inside the run folder's quarto/ directory")
    return written
