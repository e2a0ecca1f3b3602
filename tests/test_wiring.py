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
