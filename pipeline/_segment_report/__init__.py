"""segment-report: explainable customer personas from retail data.

The import package ``segment_report`` holds everything: ``segment_report.pipeline`` (config,
ingest, stages, runner, CLI), ``segment_report.reports`` (view models, charts, site, Quarto,
PDFs, e-mail) and ``segment_report.templates``. For notebooks::

    from segment_report import run, render, load_run
    r = run("segment-report.yaml", period="2026-10", out="reports-out")
    r.segments
"""

from __future__ import annotations

from typing import Any

from segment_report.pipeline import __version__

__all__ = ["Run", "__version__", "load_run", "render", "run"]


def __getattr__(name: str) -> Any:
    # The API pulls in pandas and pydantic; importing it lazily keeps `segment-report --help` quick.
    if name in ("Run", "load_run", "render", "run"):
        from segment_report.pipeline import api

        return getattr(api, name)
    raise AttributeError(f"module 'segment_report' has no attribute {name!r}")
