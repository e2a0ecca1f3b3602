"""The analyst HTML site (``<run>/site/``): static pages that open from disk with no network."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pipeline.runfolder import RunResults, atomic_write_bytes
from reports.env import render
from reports.views import data_quality_view, methodology_view, site_view


@dataclass(frozen=True)
class Page:
    """One page of the site: where it goes, its nav title, template and context."""

    href: str
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    in_nav: bool = True


def section(id_: str, title: str, template: str, **context: Any) -> dict[str, Any]:
    """A titled block rendered from a partial template (already-escaped HTML)."""
    return {"id": id_, "title": title, "html": Markup(render(template, **context))}


def build_pages(results: RunResults) -> list[Page]:
    """The pages of the site for the results that exist in this run."""
    downloads = [
        {"href": "../quarantine.csv", "text": "quarantine.csv", "note": "rejected input rows with reasons"},
        {"href": "../results/data_quality.json", "text": "data_quality.json", "note": "data-quality counts"},
        {"href": "../manifest.json", "text": "manifest.json", "note": "configuration, versions, hashes, timings"},
    ]
    return [
        Page("index.html", "Overview", "html/index.html", {"sections": [], "downloads": downloads}),
        Page("data-quality.html", "Data quality", "html/data_quality.html",
             {"dq": data_quality_view(results.data_quality)}),
        Page("methodology.html", "Methodology", "html/methodology.html",
             {"method": methodology_view(results), "sections": []}),
    ]


def render_site(results: RunResults, out_dir: Path) -> list[Path]:
    """Render every page into ``out_dir`` (replaced as a whole only when all pages rendered).

    Returns:
        The written HTML files.
    """
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "assets").mkdir(parents=True)
    site = site_view(results)
    pages = build_pages(results)
    site.nav = [{"href": p.href, "text": p.title} for p in pages if p.in_nav]
    written = []
    for page in pages:
        root = "../" * page.href.count("/")
        html = render(page.template, site=site,
                      page={"href": page.href, "title": page.title, "root": root}, **page.context)
        path = tmp / page.href
        atomic_write_bytes(path, html.encode("utf-8"))
        written.append(out_dir / page.href)
    css = files("reports.templates").joinpath("assets/site.css").read_bytes()
    (tmp / "assets" / "site.css").write_bytes(css)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return written
