"""The Python API a notebook user gets: run, load, display and re-render a run; typed results;
old run folders refused with a clear message."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import FAST_OVERRIDES, demo_run_dir, invoke

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "run-2026-10"


def test_a_notebook_runs_loads_and_shows_a_run_in_five_lines(fast_demo):
    """The fast_demo fixture ran both months through ``run``; running October again with the
    same inputs and config is up to date (nothing recomputed) and gives the same run."""
    from segment_report import load_run, run

    r = run(fast_demo / "data" / "segment-report.yaml", period="2026-10", out=fast_demo, **FAST_OVERRIDES)
    again = load_run(fast_demo / "2026-10")
    page = again._repr_html_()

    assert r.path == again.path == fast_demo / "2026-10"
    assert r.status["state"] == "succeeded" and r.period == "2026-10"
    assert again.site_path.exists() and again.pdf_path.exists()
    assert len(again.persona_pdf_paths) == len(again.segments)
    for name in again.segments["name"]:
        assert name in page
    assert f"{len(again.customers):,} customers" in page


def test_run_takes_a_dict_config_and_reports_bad_keys_as_config_errors(tmp_path):
    from segment_report import run
    from segment_report.pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="segments.min_clustr_size") as info:
        run({"segments": {"min_clustr_size": 5}}, input=tmp_path / "x.csv")
    assert info.value.exit_code == 2


def test_run_gives_results_as_typed_documents_and_dataframes(fast_demo):
    from segment_report import load_run
    from segment_report.pipeline.io.schema import ChangesDoc, SegmentsDoc

    r = load_run(demo_run_dir(fast_demo))
    assert isinstance(r.results.segments, SegmentsDoc) and isinstance(r.results.changes, ChangesDoc)
    segments = r.segments
    assert list(segments["segment_id"]) == [s.id for s in r.results.segments.segments]
    assert segments["size"].sum() == len(r.customers) == r.results.segments.summary.n_customers
    assert isinstance(r.customers, pd.DataFrame) and "segment_id" in r.customers
    assert r.drivers["rank"].tolist() == sorted(r.drivers["rank"]) and len(r.drivers) > 0
    assert set(r.states["code"]) >= {"CA", "NY", "TX"}
    kpis = r.changes.set_index("kpi")
    assert kpis.loc["customers", "current"] == len(r.customers)
    assert kpis.loc["customers", "previous"] > 0  # the demo has last month's run


def test_render_through_the_api_rebuilds_the_site(fast_demo, tmp_path):
    from segment_report import load_run, render

    run_dir = Path(shutil.copytree(demo_run_dir(fast_demo), tmp_path / "2026-10"))
    shutil.rmtree(run_dir / "site")
    written = render(load_run(run_dir), "html")
    assert run_dir / "site" / "index.html" in written


def test_load_run_of_a_folder_that_is_not_a_run_says_so(tmp_path):
    from segment_report import load_run
    from segment_report.pipeline.errors import InputDataError

    with pytest.raises(InputDataError, match="not a finished run folder") as info:
        load_run(tmp_path)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("version, says", [(None, "schema version \\(none\\).*re-run the period"),
                                           (99, "schema version 99.*version that wrote this run")])
def test_render_of_a_run_folder_of_another_schema_version_is_exit_2(tmp_path, runner, version, says):
    run_dir = Path(shutil.copytree(FIXTURE, tmp_path / "2026-10"))
    path = run_dir / "results" / "segments.json"
    doc = json.loads(path.read_text())
    doc.pop("schema_version")
    if version is not None:
        doc["schema_version"] = version
    path.write_text(json.dumps(doc))
    result = invoke(runner, "render", "--run", run_dir, "--format", "html")
    assert result.exit_code == 2
    assert "segments.json" in result.output
    assert re.search(says, result.output, flags=re.S), result.output


def test_a_stage_result_that_breaks_the_contract_is_refused_when_written(tmp_path):
    """A bug, not bad input: the run fails as an internal error and nothing is written."""
    from pydantic import ValidationError

    from segment_report.pipeline.io.store import RunFolder

    folder = RunFolder(tmp_path).create()
    with pytest.raises(ValidationError, match="kpis"):
        folder.write_document("changes", {"period": "2026-10", "kpis": "not a mapping"})
    assert not (tmp_path / "results" / "changes.json").exists()
