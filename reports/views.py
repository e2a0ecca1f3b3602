"""View models: turn a run's saved results into display-ready values.

Every number shown in a report is formatted here (or by a Jinja filter); templates only place
values. Nothing is recomputed from the inputs: everything comes from ``results/``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pipeline.runfolder import RunResults
from reports import formatting as fmt


@dataclass(frozen=True)
class Kpi:
    """One headline number."""

    label: str
    value: str
    note: str = ""
    delta: str = ""
    trend: str = "flat"  # up / down / flat, for colour


@dataclass(frozen=True)
class Row:
    """A table row of already formatted cells (first cell is the row header)."""

    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table with a caption, headers and which columns are numeric (right-aligned)."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[Row, ...]
    numeric: tuple[bool, ...] = ()


@dataclass
class SiteView:
    """Everything the site and PDFs need that does not depend on a single page."""

    title: str
    period: str
    period_label: str
    window: str
    generated: str
    footer: str
    kpis: list[Kpi] = field(default_factory=list)
    nav: list[dict[str, str]] = field(default_factory=list)


def _generated(manifest: dict[str, Any]) -> str:
    started = manifest.get("started_at")
    return fmt.date(started) if started else fmt.date(dt.datetime.now(dt.timezone.utc))


def site_view(results: RunResults) -> SiteView:
    """The shared header facts and headline KPIs of a run."""
    manifest = results.manifest
    title = manifest["config"].get("reports", {}).get("title", "Customer segments")
    period = manifest["period"]
    customers = results.customers
    n = len(customers)
    revenue = float(customers["monetary"].sum())
    orders = int(customers["frequency"].sum())
    quality = results.data_quality
    totals = quality["totals"]
    kpis = [
        Kpi("Active customers", fmt.number(n), f"with an order in the {period_window_words(period)}"),
        Kpi("Revenue", fmt.currency(revenue), f"{fmt.plural(orders, 'order')} in the window"),
        Kpi("Average order value", fmt.currency(revenue / orders if orders else None, digits=2),
            "revenue ÷ orders"),
        Kpi("Reviews", fmt.number(len(results.reviews) if results.reviews is not None else 0),
            f"{fmt.percent((customers['review_count'] > 0).mean() if n else None)} of customers wrote one"),
    ]
    label = fmt.month(period["period"]) if period["period"] != "all" else "All data"
    return SiteView(
        title=title,
        period=period["period"],
        period_label=label,
        window=(f"{fmt.date(dt.date.fromisoformat(period['window_start_exclusive']) + dt.timedelta(days=1))}"
                f" – {fmt.date(period['window_end'])}"),
        generated=_generated(manifest),
        footer=(f"segment-report {manifest['versions'].get('segment-report', '')} · seed {manifest['seed']} · "
                f"{fmt.plural(totals['rows_read'], 'input row')} · every number on these pages comes from "
                "the run's results/ folder"),
        kpis=kpis,
    )


def period_window_words(period: dict[str, str]) -> str:
    """``12-month window`` style words for a window from manifest.json."""
    start = dt.date.fromisoformat(period["window_start_exclusive"])
    end = dt.date.fromisoformat(period["window_end"])
    months = (end.year - start.year) * 12 + end.month - start.month
    return f"{months}-month window" if months > 0 else "window"


def data_quality_view(quality: dict[str, Any]) -> dict[str, Any]:
    """Rows read / kept / deduplicated / quarantined, reasons and missing values, formatted."""
    totals = quality["totals"]
    read = totals["rows_read"] or 1
    files = tuple(
        Row((name.replace("_", " "), stats["file"], fmt.number(stats["rows_read"]),
             fmt.number(stats["rows_kept"]), fmt.number(stats["duplicates_dropped"]),
             fmt.number(stats["rows_quarantined"])))
        for name, stats in quality["files"].items())
    reasons = tuple(
        Row((code, quality["reason_descriptions"].get(code, ""), fmt.number(count),
             fmt.percent(count / read, 1)))
        for code, count in sorted(quality["quarantined_by_reason"].items(), key=lambda kv: -kv[1]))
    missing_rows = []
    for table, columns in quality["missing_values"].items():
        for column, count in columns.items():
            if count:
                missing_rows.append(Row((f"{table}.{column}", fmt.number(count))))
    repaired = []
    for name, stats in quality["files"].items():
        for key, label in (("state_spellings_normalised", "state spellings normalised"),
                           ("unknown_states", "unknown US state values (not mapped)"),
                           ("totals_derived", "order totals derived from unit price × quantity"),
                           ("age_out_of_range_set_missing", "ages outside 10–110 set to missing"),
                           ("ratings_out_of_range_set_missing", "ratings outside 1–5 set to missing"),
                           ("malformed_lines", "lines with the wrong number of fields")):
            if stats.get(key):
                repaired.append(Row((f"{name.replace('_', ' ')}: {label}", fmt.number(stats[key]))))
        for date_format, count in stats.get("date_formats", {}).items():
            example = ("2026-09-18 (ISO 8601)" if date_format == "ISO8601"
                       else dt.date(2026, 9, 18).strftime(date_format))
            repaired.append(Row((f"{name.replace('_', ' ')}: dates written like {example}", fmt.number(count))))
    countries = tuple(Row((country, fmt.number(count)))
                      for country, count in quality.get("non_us_customers_by_country", {}).items())
    return {
        "summary": (f"{fmt.plural(totals['rows_read'], 'row')} read, {fmt.number(totals['rows_kept'])} kept, "
                    f"{fmt.number(totals['duplicates_dropped'])} exact duplicates dropped and "
                    f"{fmt.number(totals['rows_quarantined'])} quarantined "
                    f"({fmt.percent(totals['rows_quarantined'] / read, 1)})."),
        "files": Table("Rows per input file", ("Table", "File", "Read", "Kept", "Duplicates", "Quarantined"),
                       files, (False, False, True, True, True, True)),
        "reasons": Table("Quarantined rows by reason", ("Reason", "Meaning", "Rows", "Share of rows read"),
                         reasons, (False, False, True, True)),
        "repaired": Table("Repaired, not rejected", ("What", "Rows"), tuple(repaired), (False, True)),
        "missing": Table("Missing values after cleaning", ("Column", "Missing"), tuple(missing_rows),
                         (False, True)),
        "countries": Table("Customers outside the US (kept, left out of US maps)", ("Country", "Customers"),
                           countries, (False, True)),
        "pii": ", ".join(quality.get("personal_data_dropped", [])),
        "hashed": quality.get("customer_ids_hashed", False),
    }


def methodology_view(results: RunResults) -> dict[str, Any]:
    """Seeds, versions, timings and configuration facts for the methodology page."""
    manifest = results.manifest
    stage_rows = tuple(Row((name, f"{seconds:.1f} s")) for name, seconds in manifest["stage_seconds"].items())
    versions = tuple(Row((name, ver)) for name, ver in manifest["versions"].items())
    inputs = tuple(Row((item["file"].rsplit("/", 1)[-1], fmt.number(item["bytes"]), item["sha256"][:16] + "…"))
                   for item in manifest["inputs"])
    return {
        "seed": str(manifest["seed"]),
        "wall": f"{manifest['wall_seconds']:.1f} s",
        "stages": Table("Time per stage", ("Stage", "Time"), stage_rows, (False, True)),
        "versions": Table("Library versions", ("Package", "Version"), versions, (False, False)),
        "inputs": Table("Input files", ("File", "Bytes", "SHA-256"), inputs, (False, True, False)),
    }
