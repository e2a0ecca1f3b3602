"""The analyst HTML site (``<run>/site/``): static pages that open from disk with no network."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from markupsafe import Markup

from segment_report.pipeline.io.store import atomic_write_bytes, built_aside
from segment_report.reports.model import Report
from segment_report.reports.env import render, template_file
from segment_report.reports.narrative import of_kind
from segment_report.reports.views import (personas_table, segments_summary)


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


def _figure(figures: dict[str, Path], name: str, caption: str) -> list[dict[str, str]]:
    return [{"src": f"figures/{name}.svg", "alt": caption, "caption": caption}] if name in figures else []


def driver_figures(figures: dict[str, Path], drivers: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The drivers page's figures by section; dependence plots in rank order with readable labels."""
    from segment_report.pipeline.stages.drivers import feature_label
    from segment_report.reports.drivers_figures import figure_slug

    dependence = []
    for g in drivers.get("global_importance", []):
        dependence += _figure(figures, f"drivers_dependence_{figure_slug(g['feature'])}",
                              f"#{g['rank']} {feature_label(g['feature'])}: how predicted spend changes with it "
                              "(each dot a customer; the line is the mean per bin).")
    return {
        "overall": _figure(figures, "drivers_importance", "Share of the value model's importance (mean |SHAP|) "
                           "per feature, with its interval; grey bars are within noise.")
        + _figure(figures, "drivers_beeswarm", "Each dot is a customer: how much the feature moved their "
                  "predicted spend (x), coloured by the feature's value."),
        "dependence": dependence,
        "per_segment": _figure(figures, "drivers_segments",
                               "Mean SHAP per persona: what drives predicted spend inside each persona."),
        "membership": _figure(figures, "drivers_membership",
                              "Features that set each persona apart (one-vs-rest membership models)."),
    }


def clv_figures(figures: dict[str, Path], clv: dict[str, Any]) -> list[dict[str, str]]:
    """The value page's calibration figure (drawn once by ``reports.clv_figures``)."""
    from segment_report.reports.clv_figures import CALIBRATION

    return _figure(figures, CALIBRATION, clv["calibration_caption"]) if clv["available"] else []


def key_insights(drivers: dict[str, Any], geo: dict[str, Any], personas: list[dict[str, Any]]) -> list[str]:
    """A few sentences for the overview: the largest persona by spend, then the top drivers and
    the spatial clusters, picked from the findings' sentences by kind."""
    lines = []
    if personas:
        biggest = max(personas, key=lambda p: p["spend_share_value"] or 0)
        lines.append(f"The largest share of spend comes from {biggest['name']} ({biggest['spend_share']} of spend, "
                     f"{biggest['share']} of customers).")
    lines += [s.text for s in of_kind(drivers.get("sentences", []), "driver")][:2]
    lines += [s.text for s in of_kind(geo.get("sentences", []), "spatial_autocorrelation",
                                      "spatial_cluster")][:2]
    return lines


def sankey_html(sankey: dict[str, Any]) -> Markup:
    """The persona migration as a plotly Sankey ``<div>`` (the page loads the local plotly.min.js)."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Sankey(
        arrangement="fixed",
        node={"label": sankey["labels"], "pad": 12, "thickness": 14},
        link={"source": sankey["source"], "target": sankey["target"], "value": sankey["value"],
              "hovertemplate": "%{value} customers: %{source.label} → %{target.label}<extra></extra>"}))
    fig.update_layout(height=max(360, 34 * len(sankey["labels"]) // 2), margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      font={"size": 12})
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id="migration-sankey",
                              config={"displaylogo": False, "responsive": True}))


def build_pages(report: Report, figures: dict[str, Path] | None = None) -> list[Page]:
    """The pages of the site for the results that exist in this run."""
    figures = figures or {}
    results = report.results
    segments, drivers_raw, states_raw = results.segments, results.drivers, results.states
    personas, dv, geo, ch = report.personas, report.drivers, report.geo, report.changes
    downloads = [
        {"href": "../data/segments.csv", "text": "segments.csv", "note": "customer_id → segment, for CRM activation"},
        {"href": "../results/segments.json", "text": "segments.json", "note": "persona profiles and stability"},
        {"href": "../results/drivers.json", "text": "drivers.json", "note": "value model, SHAP tables, findings"},
        {"href": "../results/states.json", "text": "states.json", "note": "per-state statistics"},
        {"href": "../results/changes.json", "text": "changes.json",
         "note": "headline numbers, change since last month and the persona migration matrix"},
        {"href": "../results/clv.json", "text": "clv.json",
         "note": "churn risk and lifetime value per persona, the models and their time-split check"},
        {"href": "../results/gates.json", "text": "gates.json", "note": "quality gates and whether the run passed"},
        {"href": "../quarantine.csv", "text": "quarantine.csv", "note": "rejected input rows with reasons"},
        {"href": "../results/data_quality.json", "text": "data_quality.json", "note": "data-quality counts"},
        {"href": "../manifest.json", "text": "manifest.json", "note": "configuration, versions, hashes, timings"},
    ]
    downloads = [d for d in downloads if (results.folder.root / d["href"].removeprefix("../")).exists()]
    index_sections = []
    insights = key_insights(dv, geo, personas)
    if insights:
        index_sections.append(section("insights", "Key insights", "html/_insights.html", insights=insights))
    if personas:
        index_sections.append(section("personas", "Personas", "html/_personas.html", personas=personas))
    sankey = sankey_html(ch["sankey"]) if ch.get("sankey") else None
    if ch["available"]:
        index_sections.insert(0, section("changes", f"What changed since {ch['previous_label']}",
                                         "html/_insights.html", insights=ch["bullets"]))
        index_sections.append(section("movement", f"Month over month in detail ({ch['previous_label']} → "
                                      "this month)", "html/_changes.html", ch=ch, sankey=sankey))
    pages = [Page("index.html", "Overview", "html/index.html",
                  {"sections": index_sections, "downloads": downloads, "plotly": sankey is not None})]
    if personas:
        pages.append(Page("segments.html", "Personas", "html/segments.html", {
            "personas": personas,
            "table": personas_table(personas),
            "embedding": "figures/segments_map.svg" if "segments_map" in figures else "",
            "summary": segments_summary(segments["summary"]),
        }))
        for p in personas:
            pages.append(Page(p["href"], p["name"], "html/segment.html", {"p": p}, in_nav=False))
    if drivers_raw:
        pages.append(Page("drivers.html", "Value drivers", "html/drivers.html",
                          {"dv": dv, "figures": driver_figures(figures, drivers_raw)}))
    if results.clv is not None:
        pages.append(Page("clv.html", "Customer value", "html/clv.html",
                          {"clv": report.clv, "figures": clv_figures(figures, report.clv)}))
    if states_raw:
        from segment_report.reports.maps import build_interactive_map, interactive_map_html

        fig = build_interactive_map(states_raw)
        pages.append(Page("geography.html", "Geography", "html/geography.html", {
            "geo": geo, "static_map": "figures/states_map.svg" if "states_map" in figures else "",
            "interactive_map": Markup(interactive_map_html(fig)), "plotly": True,
        }))
    pages += [
        Page("data-quality.html", "Data quality", "html/data_quality.html",
             {"dq": report.data_quality}),
        Page("methodology.html", "Methodology", "html/methodology.html",
             {"method": report.methodology, "sections": []}),
    ]
    return pages


def render_site(report: Report, out_dir: Path, figures: dict[str, Path] | None = None) -> list[Path]:
    """Render every page into ``out_dir`` (replaced as a whole only when all pages rendered).

    Returns:
        The written HTML files.
    """
    out_dir = Path(out_dir)
    pages = build_pages(report, figures)
    site = replace(report.site, nav=[{"href": p.href, "text": p.title} for p in pages if p.in_nav])
    written = []
    with built_aside(out_dir) as tmp:
        for page in pages:
            root = "../" * page.href.count("/")
            html = render(page.template, site=site,
                          page={"href": page.href, "title": page.title, "root": root}, **page.context)
            atomic_write_bytes(tmp / page.href, html.encode("utf-8"))
            written.append(out_dir / page.href)
        (tmp / "assets").mkdir()
        (tmp / "assets" / "site.css").write_bytes(template_file("assets/site.css").read_bytes())
        if any(p.context.get("plotly") for p in pages):
            # plotly.js once, as a local file: the site must work from disk with no network.
            shutil.copy(files("plotly").joinpath("package_data/plotly.min.js"), tmp / "assets" / "plotly.min.js")
        if figures:
            (tmp / "figures").mkdir()
            for path in figures.values():
                for twin in (path, path.with_suffix(".png")):
                    if twin.exists():
                        shutil.copy(twin, tmp / "figures" / twin.name)
    return written
