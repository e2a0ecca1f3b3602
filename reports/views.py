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


# --------------------------------------------------------------------------- personas

def slugify(text: str) -> str:
    """``Loyal big-basket buyers, very positive`` -> ``loyal-big-basket-buyers-very-positive``."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "segment"


def _feature_label(name: str) -> str:
    from pipeline.drivers import feature_label

    return feature_label(name)


def _sentiment_words(z: float | None) -> str:
    if z is None:
        return "no reviews"
    if z >= 1:
        return "much more positive than average"
    if z >= 0.5:
        return "more positive than average"
    if z <= -1:
        return "much more critical than average"
    if z <= -0.5:
        return "more critical than average"
    return "about average"


def _lift(value: float | None) -> str:
    return f"{value:.1f}×" if value is not None else fmt.MISSING


def persona_views(segments: dict[str, Any], drivers: dict[str, Any] | None,
                  reviews: Any = None, customers: Any = None) -> list[dict[str, Any]]:
    """Display values for every persona: card facts, profile table, drivers, quotes."""
    value_drivers = {s["segment_id"]: s for s in (drivers or {}).get("segments", []) or []}
    membership = {m["segment_id"]: m for m in ((drivers or {}).get("membership") or {}).get("models", [])}
    out = []
    for seg in segments.get("segments", []):
        prof = seg["profile"]
        spend, senti, stab = prof["spend"], prof["sentiment"], seg["stability"]
        slug = f"{seg['id']}-{slugify(seg['name'])}"
        rows = []
        for feat, vals in prof["features"].items():
            if feat.startswith("cat_share_") or vals.get("median") is None:
                continue
            digits = 2 if abs(vals.get("population_median") or 0) < 10 else 0
            rows.append(Row((_feature_label(feat), fmt.number(vals["median"], digits),
                             fmt.number(vals["population_median"], digits),
                             f"{vals['z']:+.2f}" if vals.get("z") is not None else fmt.MISSING)))
        cats = tuple(Row((c["category"].title(), fmt.percent(c["mean_share"]), fmt.percent(c["population_share"]),
                          _lift(c.get("lift")))) for c in prof.get("top_categories", [])[:5])
        states = tuple(Row((s["name"], fmt.number(s["count"]), fmt.percent(s["share"]), _lift(s.get("lift"))))
                       for s in prof.get("top_states", [])[:5])
        vd = value_drivers.get(seg["id"], {}).get("drivers", [])[:5]
        value_rows = tuple(Row((d["label"], fmt.currency(d["mean_shap"]))) for d in vd)
        md = membership.get(seg["id"], {}).get("features", [])[:5]
        member_rows = tuple(Row((d["label"], d.get("direction", ""),
                                 fmt.number(d.get("segment_value"), 2), fmt.number(d.get("rest_value"), 2)))
                            for d in md)
        quotes = []
        if reviews is not None and customers is not None and "positive_prob" in reviews.columns:
            ids = set(customers.loc[customers["segment_id"] == seg["id"], "customer_id"])
            mine = reviews[reviews["customer_id"].isin(ids) & reviews["text"].notna()
                           & reviews["text"].str.len().between(40, 400)].sort_values("review_id")
            for label in ("positive", "negative"):
                pick = mine[mine["label"] == label].head(1)
                for text in pick["text"]:
                    quotes.append({"label": label, "text": text})
        out.append({
            "id": seg["id"], "name": seg["name"], "slug": slug, "href": f"segments/{slug}.html",
            "size": fmt.plural(seg["size"], "customer"), "count": fmt.number(seg["size"]),
            "share": fmt.percent(seg["share"]), "spend_share_value": spend["share_of_total"],
            "spend_share": fmt.percent(spend["share_of_total"]),
            "median_spend": fmt.currency(spend["median_monetary"]),
            "median_aov": fmt.currency(spend["median_avg_order_value"]),
            "sentiment": fmt.number(senti.get("mean_positive_prob"), 2),
            "sentiment_words": _sentiment_words(senti.get("z")),
            "reviewers": fmt.percent(senti.get("share_with_reviews")),
            "confidence": stab.get("confidence", "low"),
            "stability": (f"bootstrap Jaccard {fmt.number(stab['jaccard_mean'], 2)} "
                          f"(lowest {fmt.number(stab.get('jaccard_min'), 2)})")
            if stab.get("jaccard_mean") is not None else "not measured (too few customers)",
            "description": seg["description"],
            "one_liner": (f"{seg['name']}: {fmt.plural(seg['size'], 'customer')} ({fmt.percent(seg['share'])}), "
                          f"{fmt.percent(spend['share_of_total'])} of spend, median spend "
                          f"{fmt.currency(spend['median_monetary'])}, sentiment {_sentiment_words(senti.get('z'))}"),
            "profile": Table("Profile against all customers", ("Feature", "Segment median", "All customers",
                                                               "Difference (z)"), tuple(rows),
                             (False, True, True, True)),
            "categories": Table("Category mix", ("Category", "Share of spend", "All customers", "Lift"),
                                cats, (False, True, True, True)),
            "states": Table("Largest states", ("State", "Customers", "Share", "Lift"), states,
                            (False, True, True, True)),
            "value_drivers": Table("What drives spend inside this persona (mean SHAP, $ per customer)",
                                   ("Feature", "Mean effect on predicted spend"), value_rows, (False, True)),
            "membership_drivers": Table("What sets this persona apart (top features of a one-vs-rest model)",
                                        ("Feature", "Direction", "This persona (median)", "Everyone else"),
                                        member_rows, (False, False, True, True)),
            "quotes": quotes,
        })
    return out


def personas_table(personas: list[dict[str, Any]]) -> Table:
    """One row per persona for overview tables (site and PDF)."""
    return Table("Personas", ("Persona", "Customers", "Share", "Share of spend", "Median spend",
                              "Sentiment", "Confidence"),
                 tuple(Row((p["name"], p["count"], p["share"], p["spend_share"], p["median_spend"],
                            p["sentiment"], p["confidence"])) for p in personas),
                 (False, True, True, True, True, True, False))


# --------------------------------------------------------------------------- drivers

def drivers_view(drivers: dict[str, Any] | None) -> dict[str, Any]:
    """Narratives, model quality, importance table and leakage notes of the value model."""
    if not drivers:
        return {"available": False, "narratives": [], "notes": []}
    model = drivers.get("model") or {}
    rows = tuple(Row((str(g["rank"]), g["label"], fmt.percent(g.get("share"), 1),
                      fmt.currency(g.get("effect")) if g.get("effect") is not None else fmt.MISSING,
                      "within noise" if g.get("within_noise") else (g.get("direction") or "")))
                 for g in drivers.get("global_importance", [])[:10])
    return {
        "available": drivers.get("status") == "ok",
        "status": drivers.get("status"),
        "narratives": [n["text"] for n in drivers.get("narratives", [])],
        "r2": fmt.number(model.get("r2_test"), 2),
        "mae": fmt.currency(model.get("mae_test")),
        "n_train": fmt.number(model.get("n_train")),
        "n_test": fmt.number(model.get("n_test")),
        "importance": Table("Drivers of spend (global)", ("Rank", "Feature", "Share of importance",
                                                          "High vs low effect", "Direction"),
                            rows, (True, False, True, True, False)),
        "notes": [n if isinstance(n, str) else n.get("text", "") for n in drivers.get("notes", [])],
    }


# --------------------------------------------------------------------------- geography

def geography_view(states: dict[str, Any] | None) -> dict[str, Any]:
    """State table with intervals, spatial statistics and the narrative."""
    if not states:
        return {"available": False, "narrative": []}
    rows = []
    for st in sorted(states["states"], key=lambda s: (s["rank"] is None, s["rank"] or 0, s["name"])):
        if not st["customers"]:
            continue
        interval = (f"{st['ci_low']:.2f}–{st['ci_high']:.2f}" if st.get("ci_low") is not None else fmt.MISSING)
        rows.append(Row((st["name"], fmt.number(st["customers"]), fmt.number(st["reviewers"]),
                         fmt.number(st.get("mean_positive_prob"), 2), interval,
                         fmt.number(st.get("shrunk_positive_prob"), 2),
                         "insufficient data" if st["insufficient_data"] else (st.get("lisa_class") or ""),
                         str(st["rank"]) if st["rank"] is not None else "–")))
    spatial = states.get("spatial", {})
    return {
        "available": True,
        "narrative": states.get("narrative", []),
        "table": Table("Sentiment by state (customers with reviews)",
                       ("State", "Customers", "Reviewers", "Mean", "95% interval", "Shrunk estimate",
                        "Spatial cluster", "Rank"), tuple(rows),
                       (False, True, True, True, True, True, False, True)),
        "moran_i": fmt.number(spatial.get("moran_i"), 2),
        "moran_p": fmt.pvalue(spatial.get("moran_p")),
        "method": spatial.get("multiple_testing", ""),
    }
