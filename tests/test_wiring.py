"""The runner's declared wiring holds together: every stage reads only what the inputs or an
earlier stage provide, its function takes exactly what it declares, and every artefact the
store keeps is made by someone."""

from __future__ import annotations

import inspect

from segment_report.pipeline.io.store import ARTEFACT_FILES
from segment_report.pipeline.runner import INPUTS, STAGES


def test_every_stage_reads_what_the_inputs_or_an_earlier_stage_made():
    available = set(INPUTS)
    for stage in STAGES:
        missing = set(stage.reads) - available
        assert not missing, f"{stage.name} reads {missing}, which nothing before it writes"
        available |= set(stage.writes)


def test_every_stage_function_takes_exactly_what_it_declares():
    for stage in STAGES:
        params = inspect.signature(stage.run).parameters
        named = [p for p in params if p != "cfg" and params[p].kind is not inspect.Parameter.VAR_KEYWORD]
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            assert not named, stage.name
        else:
            assert set(named) == set(stage.reads), f"{stage.name}: takes {named}, declares {stage.reads}"


def test_every_kept_artefact_is_made_by_the_inputs_or_a_stage():
    made = set(INPUTS) | {name for stage in STAGES for name in stage.writes}
    assert set(ARTEFACT_FILES) <= made, set(ARTEFACT_FILES) - made


def test_the_stages_note_codes_are_exactly_the_codes_the_reports_can_word():
    """A stage emits diagnostic codes, never sentences; each code must have words in
    ``reports.narrative.notes`` and no writer may outlive its code."""
    from segment_report.pipeline.stages.changes import NOTE_CODES as CHANGES
    from segment_report.pipeline.stages.clv.stage import NOTE_CODES as CLV
    from segment_report.pipeline.stages.drivers.stage import NOTE_CODES as DRIVERS
    from segment_report.pipeline.stages.segments.stage import NOTE_CODES as SEGMENTS
    from segment_report.reports.narrative.notes import NOTES

    codes = [*CHANGES, *CLV, *DRIVERS, *SEGMENTS]
    assert len(codes) == len(set(codes)) and set(codes) == set(NOTES)


def test_a_first_run_notes_that_there_is_no_previous_period():
    import pandas as pd

    from segment_report.pipeline.stages.changes import compare_periods
    from segment_report.reports.narrative.notes import note_text

    doc = compare_periods(pd.DataFrame({"customer_id": ["a"], "monetary": [5.0], "frequency": [1]}), 0, "2026-10", None)
    assert doc["notes"] == [{"code": "no_previous_run", "params": {}}]
    assert note_text(doc["notes"][0]).startswith("No previous period's run")
