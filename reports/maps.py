"""Sentiment maps from ``results/states.json``: a static vector map and an offline interactive map.

Both read only the report dict written by the geography stage (plus the polygons it names),
so they can be re-rendered from a run's ``results/`` without recomputing. Neither needs the
network: the static map is GeoPandas + matplotlib, the interactive map an SVG plotly
``Choropleth`` with an inline GeoJSON and no base map (no tiles, no WebGL, no topojson CDN), so it
also draws when the site is opened from disk (``file://``).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from segment_report.pipeline.io.geometry import Regions, load_regions

GREY = "#d9d9d9"
CMAP = "RdBu"
CONUS_CRS = "EPSG:5070"      # NAD83 / Conus Albers (equal area)
ALASKA_CRS = "EPSG:3338"     # NAD83 / Alaska Albers
HAWAII_CRS = "ESRI:102007"   # Hawaii Albers Equal Area Conic
CLUSTER_LABELS = {
    "HH": "high-sentiment cluster",
    "LL": "low-sentiment cluster",
    "HL": "high among low neighbours",
    "LH": "low among high neighbours",
}


def _regions_for(report: dict[str, Any]) -> Regions:
    geometry = report.get("geometry", {})
    source = geometry.get("source", "builtin:us_states")
    if source == "builtin:us_states":
        return load_regions()
    return load_regions(Path(source), geometry.get("key_column"), geometry.get("name_column"))


def _frame(report: dict[str, Any]) -> tuple[gpd.GeoDataFrame, bool]:
    """Polygons joined with the per-state numbers of the report."""
    regions = _regions_for(report)
    states = pd.DataFrame(report["states"]).set_index("code")
    frame = regions.frame[["code", "geometry"]].join(states, on="code")
    return frame, regions.is_us


def _colour_scale(report: dict[str, Any], values: pd.Series) -> tuple[float, float, float]:
    """Symmetric range around the national mean so the colour midpoint means 'national average'."""
    centre = report["national"].get("mean_positive_prob")
    finite = values.dropna()
    if centre is None:
        centre = float(finite.mean()) if len(finite) else 0.5
    spread = float((finite - centre).abs().max()) if len(finite) else 0.0
    spread = max(spread, 0.01)
    return centre - spread, centre, centre + spread


def _caption(report: dict[str, Any]) -> str:
    sp = report["spatial"]
    unit = "state" if report["geometry"].get("is_us", True) else "region"
    moran = ""
    if sp.get("moran_i") is not None:
        p = sp["moran_p"]
        ptxt = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
        moran = f" Moran's I = {sp['moran_i']:.2f} ({ptxt})."
    return (f"Colour: {unit} mean positive-sentiment score shrunk toward the national mean; grey: "
            f"< {report['min_customers']} customers or no reviews; outlined: significant LISA cluster "
            f"(Benjamini-Hochberg FDR {sp['alpha']:.0%}).{moran}")


def _draw_layer(ax: Any, frame: gpd.GeoDataFrame, norm: Any, cmap: Any) -> None:
    """Fill, grey and outline one projected frame on ``ax``."""
    have = frame[~frame["insufficient_data"].fillna(True).astype(bool)]
    grey = frame[frame["insufficient_data"].fillna(True).astype(bool)]
    if len(grey):
        grey.plot(ax=ax, color=GREY, edgecolor="white", linewidth=0.4, hatch="///")
    if len(have):
        have.plot(ax=ax, column="shrunk_positive_prob", cmap=cmap, norm=norm, edgecolor="white",
                  linewidth=0.4)
    clusters = frame[frame["lisa_class"].isin(["HH", "LL"])]
    outliers = frame[frame["lisa_class"].isin(["HL", "LH"])]
    if len(clusters):
        clusters.boundary.plot(ax=ax, color="black", linewidth=1.6)
    if len(outliers):
        outliers.boundary.plot(ax=ax, color="black", linewidth=1.2, linestyle="--")
    ax.set_axis_off()


def draw_static_map(report: dict[str, Any], out_path: Path, title: str | None = None) -> Path:
    """Draw the sentiment choropleth as SVG (vector) and PNG.

    Albers equal-area for the lower 48 states and DC, with Alaska and Hawaii as insets in
    their own equal-area projections (a custom GeoJSON gets one Lambert equal-area map).
    Colour is the shrunk estimate on a diverging scale centred on the national mean;
    insufficient-data states are grey and hatched; significant clusters are outlined.

    Args:
        report: the ``states.json`` dict from the geography stage.
        out_path: target path; the SVG is written at ``out_path`` with suffix ``.svg`` and a
            PNG beside it with suffix ``.png``.
        title: figure title; default "Customer sentiment by state" (or "by region").

    Returns:
        The SVG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    frame, is_us = _frame(report)
    vmin, centre, vmax = _colour_scale(report, frame["shrunk_positive_prob"])
    norm = Normalize(vmin=vmin, vmax=vmax)
    cmap = plt.get_cmap(CMAP)
    unit = "state" if is_us else "region"

    with plt.rc_context({"svg.hashsalt": "segment-report", "svg.fonttype": "none",
                         "font.size": 9}):
        fig = plt.figure(figsize=(9.0, 6.2))
        ax = fig.add_axes((0.0, 0.12, 0.86, 0.78))
        if is_us:
            lower = frame[~frame["code"].isin(["AK", "HI"])].to_crs(CONUS_CRS)
            _draw_layer(ax, lower, norm, cmap)
            for code, crs, box in (("AK", ALASKA_CRS, (0.0, 0.11, 0.24, 0.24)),
                                   ("HI", HAWAII_CRS, (0.25, 0.11, 0.13, 0.13))):
                part = frame[frame["code"] == code]
                if not len(part):
                    continue
                inset = fig.add_axes(box)
                _draw_layer(inset, part.to_crs(crs), norm, cmap)
        else:
            centroid = shapely.centroid(shapely.union_all(frame.geometry.to_numpy()))
            laea = f"+proj=laea +lat_0={centroid.y:.4f} +lon_0={centroid.x:.4f} +datum=WGS84 +units=m"
            _draw_layer(ax, frame.to_crs(laea), norm, cmap)

        cax = fig.add_axes((0.88, 0.25, 0.018, 0.55))
        sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(sm, cax=cax)
        bar.set_label("Mean positive-sentiment score (0-1), shrunk\n"
                      f"white = national mean {centre:.2f}; blue above, red below")
        bar.ax.axhline(centre, color="black", linewidth=0.8)
        handles = [Patch(facecolor=GREY, edgecolor="white", hatch="///",
                         label=f"Insufficient data (< {report['min_customers']} customers or no reviews)"),
                   Line2D([], [], color="black", linewidth=1.6, label="Significant cluster (HH / LL)"),
                   Line2D([], [], color="black", linewidth=1.2, linestyle="--",
                          label="Significant outlier (HL / LH)")]
        fig.legend(handles=handles, loc="lower right", bbox_to_anchor=(0.99, 0.01), frameon=False,
                   fontsize=8)
        fig.suptitle(title or f"Customer sentiment by {unit}", x=0.02, y=0.97, ha="left",
                     fontsize=14, fontweight="bold")
        fig.text(0.02, 0.035, _wrap(_caption(report), 105), fontsize=7, color="#444444",
                 va="bottom")
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        svg_path = out_path.with_suffix(".svg")
        fig.savefig(svg_path, format="svg", metadata={"Date": None})
        fig.savefig(out_path.with_suffix(".png"), format="png", dpi=150)
        plt.close(fig)
    return svg_path


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False))


def _display_geojson(frame: gpd.GeoDataFrame, is_us: bool) -> dict[str, Any]:
    """GeoJSON for the web map; Alaska's Aleutian parts east of 180 deg are dropped so the
    polygon does not wrap around the world."""
    geoms = []
    for code, geom in zip(frame["code"], frame.geometry):
        if is_us and code == "AK":
            parts = [p for p in getattr(geom, "geoms", [geom]) if p.bounds[0] < 0]
            geom = shapely.MultiPolygon(parts) if parts else geom
        geoms.append(geom)
    out = gpd.GeoDataFrame({"code": frame["code"].to_numpy()}, geometry=geoms, crs="EPSG:4326")
    return json.loads(out.to_json(drop_id=True))


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


# plotly.js draws a ``geo`` subplot only after it has the base-map topojson named
# ``<scope>_<resolution>m``; it fetches it from ``topojsonURL`` (default: the plotly CDN) unless it is
# already registered in ``window.PlotlyGeoAssets.topojson`` - even with ``geo.visible=False`` and
# every layer hidden, because a choropleth has a ``locationmode``. The map draws only our own GeoJSON,
# so an empty topology registered up front keeps the page off the network (fetching a local file
# instead would fail too: browsers block XHR from file:// pages).
GEO_SCOPES = ("world", "usa", "europe", "asia", "africa", "north america", "south america")
OFFLINE_GEO_ASSETS_JS = (
    "(function(){var g=window.PlotlyGeoAssets=window.PlotlyGeoAssets||{};"
    "g.topojson=g.topojson||{};var empty={type:'Topology',objects:{},arcs:[]};"
    f"{[s.replace(' ', '-') for s in GEO_SCOPES]!r}.forEach(function(s){{[110,50].forEach(function(r){{"
    "var k=s+'_'+r+'m';if(!g.topojson[k]){g.topojson[k]=empty;}});});})();"
)


def build_interactive_map(report: dict[str, Any]) -> Any:
    """An interactive plotly choropleth that needs no network and opens from disk.

    A ``go.Choropleth`` (SVG, d3-geo) over the region GeoJSON embedded in the figure, with the
    ``geo`` base map hidden; US states use the Albers USA projection (Alaska and Hawaii as
    insets), other regions a Mercator projection fitted to their bounds. Not a
    ``Choroplethmap``: MapLibre (WebGL) starts its worker from a blob URL, which Chromium
    refuses on ``file://`` pages, so that map stays blank when the site is opened from disk.
    Hover shows the state, customers, the mean with its 95% interval, the shrunk estimate and
    the LISA class.

    Args:
        report: the ``states.json`` dict from the geography stage.

    Returns:
        A ``plotly.graph_objects.Figure``. Write it with :func:`interactive_map_html` (which also
        registers the empty base map, so plotly.js does not fetch topojson from its CDN) and a
        local copy of plotly.min.js.
    """
    import plotly.graph_objects as go

    frame, is_us = _frame(report)
    geojson = _display_geojson(frame, is_us)
    vmin, centre, vmax = _colour_scale(report, frame["shrunk_positive_prob"])
    insufficient = frame["insufficient_data"].fillna(True).astype(bool)
    min_n = report["min_customers"]

    def hover_rows(rows: pd.DataFrame) -> list[list[str]]:
        out = []
        for _, r in rows.iterrows():
            interval = (f" (95% CI {_fmt(r['ci_low'])}-{_fmt(r['ci_high'])})"
                        if r.get("ci_low") is not None and not pd.isna(r.get("ci_low")) else "")
            cls = r.get("lisa_class") or "not tested"
            if not r.get("lisa_tested", False):
                cls = "not tested"
            note = f"insufficient data (< {min_n} customers)" if r["insufficient_data"] else ""
            cells = [str(r.get("name") or r["code"]), f"{int(r['customers']):,}",
                     f"{int(r['reviewers']):,}", f"{_fmt(r['mean_positive_prob'])}{interval}",
                     _fmt(r["shrunk_positive_prob"]),
                     CLUSTER_LABELS.get(cls, cls) + (f" ({cls})" if cls in CLUSTER_LABELS else ""),
                     note]
            # Hover labels are plotly pseudo-HTML: escape, so a region called "A<b>" shows as typed.
            out.append([html.escape(c, quote=False) for c in cells])
        return out

    template = ("<b>%{customdata[0]}</b><br>customers: %{customdata[1]}"
                "<br>with reviews: %{customdata[2]}<br>mean: %{customdata[3]}"
                "<br>shrunk estimate: %{customdata[4]}<br>LISA: %{customdata[5]}"
                "<br>%{customdata[6]}<extra></extra>")
    common = {"geojson": geojson, "featureidkey": "properties.code", "locationmode": "geojson-id"}
    fig = go.Figure()
    have = frame[~insufficient]
    grey = frame[insufficient]
    if len(have):
        fig.add_trace(go.Choropleth(
            **common, locations=have["code"].tolist(),
            z=have["shrunk_positive_prob"].astype(float).tolist(), zmin=vmin, zmax=vmax,
            colorscale=CMAP, marker_line_color="white", marker_line_width=0.6,
            customdata=hover_rows(have), hovertemplate=template, name="states",
            colorbar={"title": {"text": f"Shrunk mean<br>positive score<br>(mid = national {centre:.2f})"},
                      "thickness": 14, "len": 0.8}))
    if len(grey):
        fig.add_trace(go.Choropleth(
            **common, locations=grey["code"].tolist(),
            z=[0.0] * len(grey), colorscale=[[0, GREY], [1, GREY]], showscale=False,
            marker_line_color="white", marker_line_width=0.6, customdata=hover_rows(grey),
            hovertemplate=template, name=f"insufficient data (< {min_n} customers)"))
    outlined = frame[frame["lisa_class"].isin(list(CLUSTER_LABELS))]
    if len(outlined):
        fig.add_trace(go.Choropleth(
            **common, locations=outlined["code"].tolist(),
            z=[0.0] * len(outlined), colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
            showscale=False, marker_line_color="black", marker_line_width=2.0, hoverinfo="skip",
            name="significant cluster"))
    unit = "state" if is_us else "region"
    fig.update_geos(visible=False, showframe=False, bgcolor="rgba(0,0,0,0)",
                    **({"scope": "usa", "projection_type": "albers usa"} if is_us else
                       {"projection_type": "mercator", "fitbounds": "locations"}))
    fig.update_layout(
        height=520, margin={"l": 0, "r": 0, "t": 40, "b": 0}, paper_bgcolor="white",
        title={"text": f"Customer sentiment by {unit} (shrunk estimate; grey = insufficient data)"},
        showlegend=False, dragmode=False)
    return fig


def interactive_map_html(fig: Any, config: dict[str, Any] | None = None) -> str:
    """The figure as an HTML fragment for a page that already loads a local plotly.min.js:
    the empty base-map registration (no topojson download) followed by the plot ``<div>``."""
    config = {"displaylogo": False, **(config or {})}
    return ("<script>" + OFFLINE_GEO_ASSETS_JS + "</script>\n"
            + fig.to_html(full_html=False, include_plotlyjs=False, config=config, div_id="state-map"))
