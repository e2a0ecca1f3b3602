"""Configuration: one validated tree, flags override the file, the example documents every key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from segment_report.pipeline.config import Config, load_config
from segment_report.pipeline.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"


def _field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.add(path)
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for cand in candidates:
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                paths |= _field_paths(cand, path + ".")
    return paths


def _yaml_paths(tree: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, dict) and key != "columns" or (isinstance(value, dict) and prefix == "input."):
            paths |= _yaml_paths(value, path + ".")
    return paths


def test_example_config_is_valid_and_documents_every_key():
    cfg = load_config(EXAMPLE)
    assert isinstance(cfg, Config)
    documented = _yaml_paths(yaml.safe_load(EXAMPLE.read_text()))
    # table sections of mode "tables" are optional and documented commented-out
    required = {p for p in _field_paths(Config) if not p.startswith(("input.customers", "input.transactions", "input.reviews"))}
    missing = sorted(required - documented)
    assert not missing, f"config.example.yaml does not document: {missing}"


def test_flags_override_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\nrun:\n  period: '2026-09'\n")
    cfg = load_config(path, {"seed": 7, "run.period": None})
    assert cfg.seed == 7
    assert cfg.run.period == "2026-09"  # None flags never override


def test_relative_paths_resolve_against_config_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "c.yaml"
    path.write_text("input:\n  path: data/retail.csv\n")
    cfg = load_config(path)
    assert cfg.input.path == str(tmp_path / "sub" / "data" / "retail.csv")  # text: it may be a URL
    path.write_text("input:\n  path: s3://bucket/exports/\n")
    assert load_config(path).input.path == "s3://bucket/exports/"  # a URL is where it says


def test_other_paths_resolve_against_config_folder(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("geography: {geojson: maps/provinces.geojson, key_column: code}\n"
                    "sentiment: {model: vader}\nrun: {out_dir: out}\n")
    cfg = load_config(path)
    assert cfg.geography.geojson == tmp_path / "maps" / "provinces.geojson"
    assert cfg.sentiment.model == "vader"
    assert str(cfg.run.out_dir) == "out"


def test_config_is_frozen():
    cfg = load_config(None)
    with pytest.raises(Exception):
        cfg.seed = 3  # type: ignore[misc]


@pytest.mark.parametrize("overrides, match", [
    ({"segments.min_segments": 8, "segments.max_segments": 4}, "must be <="),
    ({"input.mode": "spreadsheet"}, r"'input.mode'.*'retail_table' or 'tables'"),
    ({"run.lookback_months": 0}, r"'run.lookback_months'.*greater than or equal to 1"),
    ({"colour": "blue"}, r"unknown key 'colour'"),
])
def test_invalid_values_are_named(overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, overrides)


def test_message_names_allowed_keys():
    with pytest.raises(ConfigError) as info:
        load_config(None, {"run.outdir": "x"})
    assert "did you mean 'out_dir'" in info.value.message
    assert "allowed keys here:" in info.value.message
