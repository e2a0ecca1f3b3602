"""The distribution: one import package, ``segment_report``, built from the repository's folders.

PyPI has unrelated distributions named ``pipeline``, ``reports`` and ``templates``; installing
one of them beside segment-report must leave both working.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# repository folder -> the package it installs as
FOLDERS = {"pipeline": "segment_report/pipeline", "reports": "segment_report/reports",
           "templates": "segment_report/templates"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this checkout (as ``pip install .`` builds it)."""
    out = tmp_path_factory.mktemp("wheel")
    # From a copy: setuptools leaves build/ behind, and a stale build/ would put deleted
    # modules into the wheel of a later build.
    source = shutil.copytree(ROOT, out / "src", ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        "segment-report-demo", "reports-out", "test-artifacts"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("segment_report-*.whl")
    return path


def test_wheel_has_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"segment_report"}, sorted(top)


def test_wheel_holds_every_module_template_and_model_file(wheel):
    """A subpackage missing from pyproject's package list would silently drop out of installs."""
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", *FOLDERS], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    if not tracked:  # not a git checkout: walk the folders instead
        tracked = [str(p.relative_to(ROOT)) for f in FOLDERS for p in (ROOT / f).rglob("*") if p.is_file()]
    expected = set()
    for rel in tracked:
        folder, _, rest = rel.partition("/")
        if folder == "pipeline" and rest.startswith("_segment_report/"):
            expected.add("segment_report/" + rest.removeprefix("_segment_report/"))
        elif "__pycache__" not in rel:
            expected.add(f"{FOLDERS[folder]}/{rest}")
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (add the subpackage to pyproject.toml): {missing[:10]}"


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "segment_report", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("segment-report, version ")


@pytest.mark.slow
def test_installs_beside_the_pypi_reports_pipeline_and_templates_distributions(wheel, tmp_path):
    """``pip install segment-report reports pipeline templates`` into one place: every one imports
    as itself and segment-report still renders (the packages' own dependencies come from the
    test's environment)."""
    target = tmp_path / "site"
    # reports needs easydev (with colorlog), colormap and pkg_resources beside what this
    # environment has; the rest of every distribution's dependencies come from it.
    others = ["reports", "easydev", "colorlog", "colormap", "setuptools<81", "pipeline", "templates"]
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                           str(wheel), *others],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and ("Could not find" in proc.stderr or "connection" in proc.stderr.lower()):
        pytest.skip(f"PyPI not reachable for the other distributions: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stderr
    check = (
        "import reports, pipeline, templates, segment_report, segment_report.reports.render as r\n"
        "from pathlib import Path\n"
        f"site = Path({str(target)!r})\n"
        "for m in (reports, pipeline, templates, segment_report, r):\n"
        "    assert Path(m.__file__).is_relative_to(site), m.__file__\n"
        "assert not Path(reports.__file__).is_relative_to(site / 'segment_report')\n"
        "from reports import Report\n"
        "from segment_report.reports.env import environment\n"
        "environment().get_template('html/index.html')\n"
        "print('ok')\n")
    # cwd: not the checkout, whose own pipeline/ and reports/ folders would be found first
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
