"""Snapshot tests: the HTML site and the Quarto project rendered from fixed results.

``tests/fixtures/run-2026-10/`` holds a small finished run (manifest, status, results JSON and
customers/reviews trimmed to a few per persona; rebuild it with
``tests/fixtures/make_run_fixture.py``). The real render code (:func:`segment_report.reports.render.render_run`,
formats ``html`` and ``quarto``) renders it; figures are stub SVGs under the names the real
figure code writes (drawing them is slow and not what these tests check). Every page is compared
exactly with ``tests/snapshots/run-2026-10/``: ``site/**/*.html``, ``quarto/**/*.qmd`` and
``quarto/_quarto.yml``. Nothing needs normalising: the generated date and the versions come from
the fixture's manifest and the plotly ``<div>`` ids are fixed.

After an intended change to a template or a view model, regenerate the snapshots and review the
diff before committing:

    UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from segment_report.reports.render import render_run

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "run-2026-10"
SNAPSHOTS = HERE / "snapshots" / "run-2026-10"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS", "") not in ("", "0")
PATTERNS = ("site/**/*.html", "quarto/**/*.qmd", "quarto/_quarto.yml")

# The figures reports.figures.draw_all writes for this run (one dependence plot is enough).
FIGURES = ("drivers_importance", "drivers_beeswarm", "drivers_dependence_frequency", "drivers_segments",
           "drivers_membership", "segments_map", "states_map")
STUB_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16"/></svg>\n'


def stub_figures(results, out_dir: Path) -> dict[str, Path]:
    """Stands in for :func:`segment_report.reports.figures.draw_all`: tiny SVGs under the real names."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {}
    for name in FIGURES:
        figures[name] = out_dir / f"{name}.svg"
        figures[name].write_text(STUB_SVG, encoding="utf-8")
    return figures


def normalise(text: str) -> str:
    """What may legitimately differ between two renders of the same results: nothing but line
    endings."""
    return text.replace("\r\n", "\n")


def collect(root: Path) -> dict[str, str]:
    """Relative path -> normalised text of every snapshotted file under ``root``."""
    files = {}
    for pattern in PATTERNS:
        for path in sorted(root.glob(pattern)):
            files[path.relative_to(root).as_posix()] = normalise(path.read_text(encoding="utf-8"))
    return files


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, str]:
    run = tmp_path_factory.mktemp("snapshots") / FIXTURE.name
    shutil.copytree(FIXTURE, run)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("segment_report.reports.figures.draw_all", stub_figures)
        render_run(run, ("html", "quarto"))
    return collect(run)


def write_snapshots(files: dict[str, str]) -> None:
    shutil.rmtree(SNAPSHOTS, ignore_errors=True)
    for name, text in files.items():
        path = SNAPSHOTS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")


def test_pages_match_snapshots(rendered):
    if UPDATE:
        write_snapshots(rendered)
        return
    assert SNAPSHOTS.is_dir(), ("no snapshots yet: run UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py")
    expected = collect(SNAPSHOTS)
    missing, extra = sorted(set(expected) - set(rendered)), sorted(set(rendered) - set(expected))
    assert not missing and not extra, (f"pages no longer rendered: {missing}; pages without a snapshot: {extra} "
                                       "(UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py to accept)")
    differing = [name for name in sorted(expected) if expected[name] != rendered[name]]
    if differing:
        first = differing[0]
        diff = list(difflib.unified_diff(expected[first].splitlines(), rendered[first].splitlines(),
                                         f"snapshot/{first}", f"rendered/{first}", n=2, lineterm=""))
        # long lines (plotly's JSON is one line) cut to keep the report readable
        shown = "\n".join(line if len(line) <= 400 else line[:400] + " [... line cut]" for line in diff[:120])
        shown += "\n..." if len(diff) > 120 else ""
        pytest.fail(f"{len(differing)} page(s) differ from their snapshots: {', '.join(differing)}\n\n{shown}\n\n"
                    "If the change is intended: UPDATE_SNAPSHOTS=1 pytest tests/test_snapshots.py",
                    pytrace=False)


def test_snapshots_cover_every_page(rendered):
    """The fixture renders every kind of page (so a template change shows up in some snapshot)."""
    names = set(rendered)
    for page in ("site/index.html", "site/segments.html", "site/drivers.html", "site/geography.html",
                 "site/data-quality.html", "site/methodology.html", "quarto/_quarto.yml", "quarto/index.qmd",
                 "quarto/segments.qmd", "quarto/drivers.qmd", "quarto/geography.qmd", "quarto/data-quality.qmd",
                 "quarto/methodology.qmd"):
        assert page in names, page
    assert any(n.startswith("site/segments/") for n in names)
    assert any(n.startswith("quarto/segments/") for n in names)
    assert "What changed since September 2026" in rendered["quarto/index.qmd"]
    assert "figures/drivers_importance.svg" in rendered["site/drivers.html"]


def test_rendering_is_deterministic(rendered, tmp_path):
    """Two renders of the same results are byte-identical (else the snapshots would flake)."""
    run = tmp_path / FIXTURE.name
    shutil.copytree(FIXTURE, run)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("segment_report.reports.figures.draw_all", stub_figures)
        render_run(run, ("html", "quarto"))
    again = collect(run)
    assert again.keys() == rendered.keys()
    assert [n for n in again if again[n] != rendered[n]] == []
