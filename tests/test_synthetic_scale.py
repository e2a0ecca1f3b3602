"""Tests of the generator at scale (issue #16): the chunked write gives the bytes of a whole-table
write, and ``parts="monthly"`` splits the transaction-sized tables into monthly CSV parts that hold
exactly the rows of the single file. Small sizes; the sizes themselves are measured by
benchmarks/bench_generate.py --scale."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from segment_report.pipeline.config import load_config
from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset, generate_frames
from segment_report.pipeline.synthetic import files as synthetic_files

N = 3_000
MONTHS_6 = ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]  # end 2026-10-31
FOLDERS = {"retail_table": ("retail_data", "Date"), "transactions": ("transactions", "date"),
           "reviews": ("reviews", "date")}


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _read(path: Path) -> pd.DataFrame:
    """A CSV as text, exactly as written (no NA or type guessing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _month(dates: pd.Series) -> pd.Series:
    """The month (YYYY-MM) of each date in one of the generator's three formats, else 'undated'."""
    out = pd.Series("undated", index=dates.index, dtype=object)
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%y"):
        parsed = pd.to_datetime(dates, format=fmt, errors="coerce")
        hit = parsed.notna() & (out == "undated")
        out[hit] = parsed[hit].dt.strftime("%Y-%m")
    return out


# --------------------------------------------------------------------------- chunked write

@pytest.mark.parametrize("mode", ["retail_table", "tables"])
@pytest.mark.parametrize("messy", [False, True])
def test_chunked_write_gives_the_bytes_of_a_whole_table_write(tmp_path, monkeypatch, mode, messy):
    cfg = GenerateConfig(mode=mode, n_transactions=N, seed=11, messy=messy)
    whole = generate_dataset(cfg, tmp_path / "whole")  # N < CHUNK_ROWS: one chunk (+ the extra rows)
    monkeypatch.setattr(synthetic_files, "CHUNK_ROWS", 701)  # several chunks, a short last one
    chunked = generate_dataset(cfg, tmp_path / "chunked")
    assert _digests(tmp_path / "whole") == _digests(tmp_path / "chunked")
    # ... and the bytes of writing the in-memory frames in one go, as before the chunked writer
    frames, _ = generate_frames(cfg)
    for key, path in whole.data_files.items():
        synthetic_files._write_csv(frames[key], tmp_path / "frame.csv")
        assert (tmp_path / "frame.csv").read_bytes() == path.read_bytes(), key
    assert chunked.rows == whole.rows == {k: len(frames[k]) for k in whole.data_files}


def test_transaction_cap_is_ten_million():
    assert GenerateConfig(n_transactions=10_000_000).n_transactions == 10_000_000
    with pytest.raises(ConfigError, match=r"'n_transactions' must be an int in \[1000, 10000000\]"):
        GenerateConfig(n_transactions=10_000_001)


# --------------------------------------------------------------------------- monthly parts

def test_parts_validation():
    assert GenerateConfig().parts == "none"
    with pytest.raises(ConfigError, match=r"'parts' must be 'none' or 'monthly'; got 'daily'"):
        GenerateConfig(parts="daily")


def _check_parts(single: Path, folder: Path, date_col: str, messy: bool,
                 months: list[str]) -> dict[str, int]:
    """The parts of ``folder`` against the single file: same header, one part per month (and
    undated.csv in messy mode), each part the single file's rows of its month in their order."""
    whole = _read(single)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{m}.csv" for m in months] + (["undated.csv"] if messy else [])
    month = _month(whole[date_col])
    header = single.read_text(encoding="utf-8").splitlines()[0]
    counts = {}
    for name in names:
        part = _read(folder / name)
        assert (folder / name).read_text(encoding="utf-8").splitlines()[0] == header, name
        expected = whole[month == name.removesuffix(".csv")].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, expected, obj=name)
        counts[name] = len(part)
    # the union of the parts is the single file as a multiset of rows
    union = pd.concat([_read(folder / n) for n in names], ignore_index=True)
    assert len(union) == len(whole)
    key = list(whole.columns)
    assert union.sort_values(key).reset_index(drop=True).equals(
        whole.sort_values(key).reset_index(drop=True))
    return counts


@pytest.mark.parametrize("messy", [False, True])
def test_monthly_parts_retail_table(tmp_path, monkeypatch, messy):
    monkeypatch.setattr(synthetic_files, "CHUNK_ROWS", 997)  # parts fed from several chunks
    base = GenerateConfig(n_transactions=N, seed=5, messy=messy)
    single = generate_dataset(base, tmp_path / "single")
    parted = generate_dataset(GenerateConfig(n_transactions=N, seed=5, messy=messy, parts="monthly"),
                              tmp_path / "parts")
    folder = tmp_path / "parts" / "retail_data"
    assert parted.data_files == {"retail_table": folder}
    assert not (tmp_path / "parts" / "retail_data.csv").exists()
    counts = _check_parts(single.data_files["retail_table"], folder, "Date", messy, MONTHS_6)
    assert parted.part_files["retail_table"] == tuple(folder / n for n in counts)
    assert parted.rows == single.rows and sum(counts.values()) == single.rows["retail_table"]
    if messy:  # the invalid 'date' rows are the undated ones
        truth = json.loads(parted.truth_file.read_text())
        assert counts["undated.csv"] == truth["counts"]["invalid_rows"]["date"] > 0
    tree = yaml.safe_load(parted.config_file.read_text())
    assert tree["input"] == {"mode": "retail_table", "path": "retail_data/"}
    truth = json.loads(parted.truth_file.read_text())
    assert truth["files"] == {"retail_table": "retail_data/"}
    assert truth["parts"] == {"retail_table": counts}
    assert truth["generator"]["config"]["parts"] == "monthly"
    assert "retail_data/ (" in parted.summary() and f"{len(counts)} parts" in parted.summary()
    # the truth files do not depend on the layout
    for name in ("truth_customers.csv", "truth_reviews.csv"):
        assert (tmp_path / "single" / name).read_bytes() == (tmp_path / "parts" / name).read_bytes()


@pytest.mark.parametrize("messy", [False, True])
def test_monthly_parts_tables(tmp_path, messy):
    single = generate_dataset(GenerateConfig(mode="tables", n_transactions=N, seed=5, messy=messy),
                              tmp_path / "single")
    parted = generate_dataset(GenerateConfig(mode="tables", n_transactions=N, seed=5, messy=messy,
                                             parts="monthly"), tmp_path / "parts")
    out = tmp_path / "parts"
    assert parted.data_files == {"customers": out / "customers.csv",
                                 "transactions": out / "transactions",
                                 "reviews": out / "reviews"}
    assert (out / "customers.csv").read_bytes() == single.data_files["customers"].read_bytes()
    truth = json.loads(parted.truth_file.read_text())
    for key in ("transactions", "reviews"):
        folder, date_col = FOLDERS[key]
        # reviews get messy date formats but no invalid rows: no undated part
        counts = _check_parts(single.data_files[key], out / folder, date_col,
                              messy and key == "transactions", MONTHS_6)
        assert truth["parts"][key] == counts
    tree = yaml.safe_load(parted.config_file.read_text())["input"]
    assert (tree["customers"]["path"], tree["transactions"]["path"], tree["reviews"]["path"]) == (
        "customers.csv", "transactions/", "reviews/")
    assert tree["transactions"]["columns"] == yaml.safe_load(
        single.config_file.read_text())["input"]["transactions"]["columns"]


@pytest.mark.parametrize("mode", ["retail_table", "tables"])
def test_monthly_parts_config_loads_and_points_at_the_folders(tmp_path, mode):
    ds = generate_dataset(GenerateConfig(mode=mode, n_transactions=1_000, parts="monthly"),
                          tmp_path / "d")
    cfg = load_config(ds.config_file)
    specs = ({"retail_table": cfg.input.path} if mode == "retail_table" else
             {k: getattr(cfg.input, k).path for k in ("customers", "transactions", "reviews")})
    assert {k: Path(v) for k, v in specs.items()} == {k: p.resolve() for k, p in ds.data_files.items()}
    assert [Path(v).is_dir() for v in specs.values()] == [k != "customers" for k in specs]


def test_monthly_parts_replace_the_parts_of_an_earlier_generation(tmp_path):
    out = tmp_path / "g"
    generate_dataset(GenerateConfig(n_transactions=1_000, months=6, parts="monthly", messy=True), out)
    (out / "retail_data" / "notes.txt").write_text("mine", encoding="utf-8")
    ds = generate_dataset(GenerateConfig(n_transactions=1_000, months=2, parts="monthly"), out)
    assert sorted(p.name for p in (out / "retail_data").iterdir()) == [
        "2026-09.csv", "2026-10.csv", "notes.txt"]
    assert [p.name for p in ds.part_files["retail_table"]] == ["2026-09.csv", "2026-10.csv"]


def test_parts_folder_blocked_by_a_file_is_a_config_error(tmp_path):
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "retail_data").write_text("in the way", encoding="utf-8")
    with pytest.raises(ConfigError, match="folder of parts"):
        generate_dataset(GenerateConfig(n_transactions=1_000, parts="monthly"), tmp_path / "g")


def test_single_file_truth_does_not_record_parts(tmp_path):
    ds = generate_dataset(GenerateConfig(n_transactions=1_000), tmp_path / "g")
    truth = json.loads(ds.truth_file.read_text())
    assert "parts" not in truth and "parts" not in truth["generator"]["config"]
    assert truth["files"] == {"retail_table": "retail_data.csv"} and ds.part_files == {}
