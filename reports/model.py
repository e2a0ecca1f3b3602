"""The report model: every view of one run, built once from its results, read by every output.

The site, the Quarto project, the executive PDF, the persona PDFs and the e-mail all place
values from one :class:`Report`, so a persona, a driver sentence or a KPI reads the same
everywhere and is formatted once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from segment_report.pipeline.io.store import RunResults
from segment_report.reports import formatting as fmt
from segment_report.reports.views import (SiteView, changes_view, clv_view, data_quality_view, drivers_view,
                                          geography_view, methodology_view, persona_views, site_view)


@dataclass(frozen=True)
class Report:
    """One run's views, formatted for display.

    Attributes:
        results: the typed results they were built from.
        site: header facts and headline KPIs (shared by every output).
        personas: one view per persona (profile, traits, actions, quotes), in segment order.
        drivers, geo, changes, data_quality, methodology: the sections' views.
        clv: churn risk and lifetime value (:func:`~segment_report.reports.views.clv_view`).
    """

    results: RunResults
    site: SiteView
    personas: list[dict[str, Any]]
    drivers: dict[str, Any]
    geo: dict[str, Any]
    changes: dict[str, Any]
    data_quality: dict[str, Any]
    methodology: dict[str, Any]
    clv: dict[str, Any] = field(default_factory=lambda: clv_view(None))


@contextmanager
def report_for(results: RunResults) -> Iterator[Report]:
    """The run's :class:`Report`, with the run's currency symbol in force for the views and for
    every template rendered inside the block."""
    with fmt.amounts_in(fmt.run_currency_symbol(results)):
        yield build_report(results)


def build_report(results: RunResults) -> Report:
    """Build every view of a run once (inside ``formatting.amounts_in``: see :func:`report_for`)."""
    segments = results.segments
    changes = changes_view(results.changes)
    clv = clv_view(results.clv, changes.get("previous_label", ""))
    return Report(
        results=results,
        site=site_view(results),
        personas=(persona_views(segments, results.drivers, results.reviews, results.customers,
                                clv["by_segment"]) if segments else []),
        drivers=drivers_view(results.drivers),
        geo=geography_view(results.states),
        changes=changes,
        data_quality=data_quality_view(results.data_quality),
        methodology=methodology_view(results),
        clv=clv,
    )
