"""Region polygons for the geography stage: the shipped US states file or any user GeoJSON.

The built-in file ``pipeline/data/us_states.geojson`` is derived from the US Census Bureau
cartographic boundary file cb_2018_us_state_20m (public domain) by
:func:`build_us_states_geojson`: Puerto Rico dropped, boundaries simplified as a *coverage*
(shared borders simplified once, so neighbouring states still share their vertices and the
Queen contiguity of the original is kept exactly), coordinates rounded to 1e-4 degrees.
Nothing here reads from the network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from segment_report.pipeline.errors import ConfigError, InputDataError
from segment_report.pipeline.states import CODE_TO_FIPS, CODE_TO_NAME, STATE_CODES, to_code

US_STATES_RESOURCE = "us_states.geojson"
US_KEY_COLUMN = "STUSPS"


@dataclass(frozen=True)
class Regions:
    """Polygons of the regions analysed, one row per region.

    Attributes:
        frame: GeoDataFrame in EPSG:4326 with columns ``code`` (the region key as matched
            against customers' ``state`` values), ``name``, ``fips`` (US only, else ``None``)
            and ``geometry``; indexed by ``code`` in a stable order.
        source: ``"builtin:us_states"`` or the path of the user GeoJSON.
        key_column: the GeoJSON property holding the key.
        is_us: whether these are the built-in US states (customers are then matched by USPS
            code and non-US customers are excluded).
    """

    frame: gpd.GeoDataFrame
    source: str
    key_column: str
    is_us: bool


def match_key(value: object) -> str | None:
    """Normalise a region key for matching: lower case, letters and digits only.

    ``" Ontario "``, ``"ONTARIO"`` and ``"ontario"`` all become ``"ontario"``; missing values
    give ``None``.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    key = re.sub(r"[^0-9a-z]", "", str(value).lower())
    return key or None


def load_us_states() -> Regions:
    """Load the shipped, simplified US states polygons (50 states + DC).

    Returns:
        :class:`Regions` with USPS ``code``, ``name`` and two-digit ``fips`` columns.
    """
    path = resources.files("segment_report.pipeline") / "data" / US_STATES_RESOURCE
    with resources.as_file(path) as real_path:
        frame = gpd.read_file(real_path)
    frame = frame.set_crs("EPSG:4326", allow_override=True)
    frame["code"] = frame[US_KEY_COLUMN].map(to_code)
    frame = frame[frame["code"].isin(STATE_CODES)].copy()
    frame["name"] = frame["code"].map(CODE_TO_NAME)
    frame["fips"] = frame["code"].map(CODE_TO_FIPS)
    order = {code: i for i, code in enumerate(STATE_CODES)}
    frame = frame.sort_values("code", key=lambda s: s.map(order))
    frame = gpd.GeoDataFrame(frame[["code", "name", "fips", "geometry"]], geometry="geometry",
                             crs="EPSG:4326").set_index("code", drop=False)
    frame.index.name = None
    return Regions(frame=frame, source="builtin:us_states", key_column=US_KEY_COLUMN, is_us=True)


def load_custom_regions(path: Path, key_column: str, name_column: str | None = None) -> Regions:
    """Load a user GeoJSON (e.g. Canadian provinces) whose ``key_column`` matches customers' regions.

    Args:
        path: GeoJSON file (any CRS that the file declares; reprojected to EPSG:4326).
        key_column: property whose values are matched against the customers' ``state`` column
            (case, spaces and punctuation ignored).
        name_column: property with a display name; defaults to ``key_column``.

    Returns:
        :class:`Regions` whose ``code`` column holds the key values as written in the file.

    Raises:
        ConfigError: the file is missing or unreadable, the key column is missing, or keys are
            empty or duplicated.
    """
    path = Path(path)
    fix = "set geography.geojson to a GeoJSON file and geography.key_column to one of its properties"
    if not path.exists():
        raise ConfigError("geography.geojson file not found", file=str(path),
                          expected="a GeoJSON FeatureCollection of polygons", fix=fix)
    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise ConfigError(f"cannot read geography.geojson: {exc}", file=str(path),
                          expected="a GeoJSON FeatureCollection of polygons", fix=fix) from None
    columns = [c for c in frame.columns if c != "geometry"]
    for option, column in (("geography.key_column", key_column), ("geography.name_column", name_column)):
        if column is not None and column not in frame.columns:
            raise ConfigError(f"{option} '{column}' is not a property of the GeoJSON features",
                              file=str(path), expected=f"one of: {', '.join(map(str, columns))}",
                              fix=f"set {option} to one of the listed properties")
    keys = frame[key_column].map(match_key)
    if keys.isna().any() or keys.duplicated().any():
        dupes = sorted(frame.loc[keys.duplicated(keep=False), key_column].astype(str).unique())
        raise ConfigError(
            f"geography.key_column '{key_column}' has empty or duplicated values"
            + (f" ({', '.join(dupes[:5])})" if dupes else ""),
            file=str(path), expected="one distinct, non-empty key per feature",
            fix="choose a key column that identifies each feature, or dissolve duplicates first")
    if frame.crs is None:
        frame = frame.set_crs("EPSG:4326")
    frame = frame.to_crs("EPSG:4326")
    out = gpd.GeoDataFrame(
        {"code": frame[key_column].astype(str).str.strip().to_numpy(),
         "name": frame[name_column or key_column].astype(str).str.strip().to_numpy(),
         "fips": [None] * len(frame)},
        geometry=frame.geometry.to_numpy(), crs="EPSG:4326")
    out = out.set_index("code", drop=False)
    out.index.name = None
    return Regions(frame=out, source=str(path), key_column=key_column, is_us=False)


def load_regions(geojson: Path | None = None, key_column: str | None = None,
                 name_column: str | None = None) -> Regions:
    """The regions for the geography stage: the built-in US states, or a user GeoJSON.

    Args:
        geojson: ``geography.geojson``; ``None`` selects the built-in US states.
        key_column: ``geography.key_column``; required with ``geojson``.
        name_column: ``geography.name_column``; optional display-name property.

    Returns:
        :class:`Regions`.

    Raises:
        ConfigError: a custom GeoJSON without a key column, or an unusable file.
    """
    if geojson is None:
        return load_us_states()
    if not key_column:
        raise ConfigError("geography.geojson is set but geography.key_column is not",
                          file=str(geojson), expected="the property that names each region",
                          fix="add geography.key_column (e.g. 'PRENAME' for Canadian provinces)")
    return load_custom_regions(Path(geojson), key_column, name_column)


def build_us_states_geojson(source: Path, out_path: Path, tolerance: float = 0.02,
                            precision: float = 1e-4) -> Path:
    """Derive the shipped ``us_states.geojson`` from a Census cartographic boundary GeoJSON.

    A maintainer's tool (not used at run time): reads e.g. cb_2018_us_state_20m, keeps the 50
    states and DC, simplifies the boundaries as a coverage so shared borders stay shared, rounds
    coordinates and writes compact GeoJSON with the properties STATEFP, STUSPS and NAME.

    Args:
        source: the Census GeoJSON (properties STATEFP, STUSPS, NAME).
        out_path: where to write the derived file.
        tolerance: coverage simplification tolerance in degrees.
        precision: coordinate grid size in degrees.

    Returns:
        ``out_path``.

    Raises:
        InputDataError: the source lacks the expected properties.
    """
    frame = gpd.read_file(source)
    missing = {"STATEFP", "STUSPS", "NAME"} - set(frame.columns)
    if missing:
        raise InputDataError(f"missing properties {sorted(missing)}", file=str(source),
                             expected="a Census cartographic boundary state file",
                             fix="use cb_<year>_us_state_<scale> converted to GeoJSON")
    if frame.crs is None:
        frame = frame.set_crs("EPSG:4269")
    frame = frame.to_crs("EPSG:4326")
    frame = frame[frame["STUSPS"].isin(STATE_CODES)].sort_values("STATEFP")
    geoms = shapely.coverage_simplify(frame.geometry.to_numpy(), tolerance)
    geoms = shapely.set_precision(geoms, precision)
    features = [
        {"type": "Feature",
         "properties": {"STATEFP": row.STATEFP, "STUSPS": row.STUSPS, "NAME": row.NAME},
         "geometry": json.loads(shapely.to_geojson(geom, indent=None))}
        for row, geom in zip(frame.itertuples(index=False), geoms)
    ]
    collection = {"type": "FeatureCollection", "features": features}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(collection, separators=(",", ":")), encoding="utf-8")
    return out_path
