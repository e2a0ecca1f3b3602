"""Static and interactive sentiment maps, rendered with networking disabled."""

from __future__ import annotations

import json
import socket

import pytest

from segment_report.pipeline.config import GeographyConfig
from segment_report.pipeline.stages.geography import analyse_geography
from segment_report.reports.maps import (OFFLINE_GEO_ASSETS_JS, build_interactive_map, draw_static_map,
                          interactive_map_html)
from tests.test_geography import HIGH, LOW, TINY, _grid_geojson, planted_customers


@pytest.fixture(scope="module")
def report() -> dict:
    return analyse_geography(planted_customers(), None, GeographyConfig(permutations=999), seed=7).report


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_static_map_offline_svg_and_png(report, tmp_path, no_network):
    svg = draw_static_map(report, tmp_path / "maps" / "sentiment.svg")
    png = svg.with_suffix(".png")
    assert svg.exists() and png.exists()
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text and "<path" in text
    assert "Customer sentiment by state" in text  # text kept as text (svg.fonttype none)
    assert "Insufficient data (&lt; 30 customers or no reviews)" in text
    assert "Benjamini-Hochberg" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


def test_static_map_is_reproducible(report, tmp_path):
    a = draw_static_map(report, tmp_path / "a.svg").read_bytes()
    b = draw_static_map(report, tmp_path / "b.svg").read_bytes()
    assert a == b


def test_interactive_map_offline(report, tmp_path, no_network):
    fig = build_interactive_map(report)
    types = {trace.type for trace in fig.data}
    # SVG choropleth, not the WebGL/MapLibre ``choroplethmap``: MapLibre's blob-URL worker is
    # refused on file:// pages, so that map stays blank when the site is opened from disk.
    assert types == {"choropleth"}
    assert fig.layout.geo.visible is False and fig.layout.geo.projection.type == "albers usa"
    main = fig.data[0]
    assert main.geojson["type"] == "FeatureCollection"
    assert main.locationmode == "geojson-id" and main.featureidkey == "properties.code"
    coloured = set(main.locations)
    grey = set(fig.data[1].locations)
    assert TINY in grey and TINY not in coloured
    outlined = set(fig.data[2].locations)
    assert outlined & set(HIGH) and outlined & set(LOW)
    hover = dict(zip(main.locations, main.customdata))
    co = hover["CO"]
    assert co[0] == "Colorado" and "95% CI" in co[3] and "high-sentiment cluster (HH)" in co[5]
    body = interactive_map_html(fig)
    assert '"type":"choropleth"' in body
    # plotly.js fetches the base-map topojson from its CDN unless it is registered up front:
    # the fragment registers an empty one for every scope before the plot is drawn.
    assert body.index("PlotlyGeoAssets") < body.index("Plotly.newPlot")
    assert "'usa'" in OFFLINE_GEO_ASSETS_JS and "[110,50]" in OFFLINE_GEO_ASSETS_JS
    assert "<script src" not in body and "cdn.plot.ly" not in body
    # No remote map resources: no tile server, style URL or topojson URL in the figure.
    spec = json.dumps(fig.to_plotly_json(), default=str)
    assert "topojson" not in spec and "http" not in spec


def test_maps_for_custom_geojson(tmp_path, no_network):
    import numpy as np
    import pandas as pd

    geojson = _grid_geojson(tmp_path / "provinces.geojson")
    rng = np.random.default_rng(2)
    region = rng.choice(["Ontario", "Quebec", "Manitoba", "Alberta"], size=300)
    df = pd.DataFrame({"customer_id": [f"c{i}" for i in range(300)], "state": region, "is_us": False,
                       "positive_prob": rng.uniform(0, 1, 300), "sentiment_missing": False,
                       "review_count": 1, "monetary": 1.0})
    cfg = GeographyConfig(permutations=99, geojson=geojson, key_column="PRENAME")
    report = analyse_geography(df, None, cfg, seed=0).report
    svg = draw_static_map(report, tmp_path / "provinces.svg")
    assert "Customer sentiment by region" in svg.read_text(encoding="utf-8")
    fig = build_interactive_map(report)
    assert set(fig.data[0].locations) == {"Ontario", "Quebec", "Manitoba", "Alberta"}
    assert fig.layout.geo.fitbounds == "locations" and fig.layout.geo.projection.type == "mercator"


def test_maps_render_when_nothing_can_be_estimated(tmp_path, no_network):
    import pandas as pd

    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "state": ["OH", "TX", None], "is_us": True,
                       "positive_prob": 0.5, "sentiment_missing": True, "review_count": 0,
                       "monetary": 1.0})
    report = analyse_geography(df, None, GeographyConfig(permutations=99), seed=0).report
    svg = draw_static_map(report, tmp_path / "empty.svg")
    assert svg.exists() and svg.with_suffix(".png").exists()
    fig = build_interactive_map(report)
    assert len(fig.data) == 1 and len(fig.data[0].locations) == 51  # all grey
