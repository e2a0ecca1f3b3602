"""The one Jinja2 environment: templates from the installed package, autoescape on,
StrictUndefined (a missing value is an error, never a blank), filters registered once."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import jinja2

from reports.formatting import FILTERS


def md_cell(value: object) -> str:
    """Text safe inside a Markdown pipe-table cell (no pipes, no line breaks)."""
    return " ".join(str(value).replace("|", "\\|").split())


def yaml_str(value: object) -> str:
    """Text safe inside a double-quoted YAML scalar (front matter). Quotes need no care here:
    autoescape turns them into ``&#34;``; backslashes would start YAML escapes."""
    return " ".join(str(value).replace("\\", "\\\\").split())


def templates_dir() -> Path:
    """The templates folder: package ``reports.templates`` when installed, else the checkout's
    top-level ``templates/`` (a source tree imported directly has no ``reports/templates``)."""
    try:
        return Path(str(files("reports.templates")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def template_file(relative: str) -> Path:
    """A file under the templates folder (CSS, the base _quarto.yml)."""
    return templates_dir() / relative


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment; templates live in ``templates/`` (package ``reports.templates``)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        # Every output (HTML, QMD, e-mail) is escaped: review text is untrusted input.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters.update(md_cell=md_cell, yaml_str=yaml_str)
    return env


def render(template: str, **context: object) -> str:
    """Render one template by its path under ``templates/`` (e.g. ``html/index.html``)."""
    return environment().get_template(template).render(**context)
