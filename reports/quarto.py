"""The analyst site as a Quarto website project (``<run>/quarto/``).

The repository's ``_quarto.yml`` is the base (shipped as package data); the generated
``.qmd`` pages are added to its navigation. When a ``quarto`` binary is on PATH the project
is rendered; otherwise the log says how to render it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup

from pipeline.log import logger
from pipeline.runfolder import RunResults, atomic_write_bytes, built_aside
from reports.env import render, template_file
from reports.views import data_quality_view, methodology_view, site_view


def md_section(title: str, template: str, **context: Any) -> dict[str, Any]:
    """A titled Markdown block rendered from a partial template."""
    return {"title": title, "md": Markup(render(template, **context))}


def build_pages(results: RunResults) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(file, nav title, template, context) for every page."""
    return [
        ("index.qmd", "Overview", "qmd/index.qmd", {"sections": []}),
        ("data-quality.qmd", "Data quality", "qmd/data-quality.qmd",
         {"dq": data_quality_view(results.data_quality)}),
        ("methodology.qmd", "Methodology", "qmd/methodology.qmd",
         {"method": methodology_view(results), "sections": []}),
    ]


def base_config() -> dict[str, Any]:
    """The repository's _quarto.yml (installed with the package)."""
    text = template_file("qmd/_quarto.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def render_quarto(results: RunResults, out_dir: Path, run_quarto: bool = True) -> list[Path]:
    """Write the Quarto project; render it when the Quarto CLI is installed.

    Returns:
        The written ``_quarto.yml`` and ``.qmd`` files.
    """
    out_dir = Path(out_dir)
    site = site_view(results)
    pages = build_pages(results)
    config = base_config()
    config.setdefault("website", {})["title"] = f"{site.title}, {site.period_label}"
    config["website"].setdefault("navbar", {})["left"] = [{"href": f, "text": t} for f, t, _, _ in pages]
    written = [out_dir / "_quarto.yml"]
    with built_aside(out_dir) as tmp:
        atomic_write_bytes(tmp / "_quarto.yml",
                           yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode("utf-8"))
        for filename, _, template, context in pages:
            atomic_write_bytes(tmp / filename, render(template, site=site, **context).encode("utf-8"))
            written.append(out_dir / filename)
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
