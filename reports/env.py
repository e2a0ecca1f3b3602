"""The one Jinja2 environment: templates from the installed package, autoescape on,
StrictUndefined (a missing value is an error, never a blank), filters registered once."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import jinja2

from segment_report.reports.formatting import FILTERS


# Characters that start Markdown (Pandoc/Quarto) inline markup: links and spans ``[..](..)`` /
# ``[..]{..}``, shortcodes ``{{< >}}``, emphasis, code, math, sub/superscript, citations,
# table pipes. A backslash makes each one literal. ``< > & " '`` are left to autoescape (entities
# render as the character; a backslash before an entity would show it as ``&lt;``).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]$^~@|])")


def md_text(value: object) -> str:
    """Untrusted text as literal inline Markdown: one line, markup characters backslash-escaped
    (``[x](javascript:..)`` stays text, never a link)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def md_cell(value: object) -> str:
    """Text safe inside a Markdown pipe-table cell: :func:`md_text` (pipes included)."""
    return md_text(value)


def yaml_str(value: object) -> str:
    """Text safe inside a double-quoted YAML scalar (front matter), which Pandoc reads as
    Markdown: :func:`md_text`, then backslashes doubled for YAML. Quotes need no care here:
    autoescape turns them into ``&#34;``."""
    return md_text(value).replace("\\", "\\\\")


def templates_dir() -> Path:
    """The installed templates folder (package ``segment_report.templates``)."""
    return Path(str(files("segment_report.templates")))


def template_file(relative: str) -> Path:
    """A file under the templates folder (CSS, the base _quarto.yml)."""
    return templates_dir() / relative


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment; templates live in ``templates/`` (package ``segment_report.templates``)."""
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
    env.filters.update(md_cell=md_cell, md_text=md_text, yaml_str=yaml_str)
    return env


def render(template: str, **context: object) -> str:
    """Render one template by its path under ``templates/`` (e.g. ``html/index.html``)."""
    return environment().get_template(template).render(**context)
