"""The Quarto website project (``<run>/quarto/``) on a real run: structure, navigation, front
matter, figures, and that every page converts with Pandoc (a stand-in for the Quarto CLI) with
the persona names and the sentences written from the findings in the output."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from segment_report.pipeline.io.store import load_results
from segment_report.reports.model import build_report
from segment_report.reports.quarto import render_quarto
from segment_report.reports.render import render_run
from segment_report.reports.narrative import drivers_sentences, geography_sentences
from tests.conftest import demo_run_dir

PANDOC = shutil.which("pandoc")
needs_pandoc = pytest.mark.skipif(PANDOC is None, reason="pandoc not installed (stands in for the Quarto CLI)")

TOP_PAGES = {"index.qmd", "segments.qmd", "drivers.qmd", "geography.qmd", "data-quality.qmd", "methodology.qmd"}
LINK = re.compile(r"\]\(([^)\s]+)\)")         # Markdown link or image target
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)(\{[^}]*\})?")


@pytest.fixture(scope="module")
def run(fast_demo, tmp_path_factory) -> Path:
    """A copy of the demo's last month (it has a previous month), re-rendered as Quarto."""
    run = tmp_path_factory.mktemp("quarto") / demo_run_dir(fast_demo).name
    shutil.copytree(demo_run_dir(fast_demo), run)
    shutil.rmtree(run / "quarto", ignore_errors=True)
    render_run(run, ("quarto",))
    return run


def pages(project: Path) -> dict[str, str]:
    return {p.relative_to(project).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(project.rglob("*.qmd")) if "_site" not in p.parts}


def front_matter(text: str) -> dict:
    assert text.startswith("---\n"), "no YAML front matter"
    head, _, _ = text[4:].partition("\n---\n")
    meta = yaml.safe_load(head)
    assert isinstance(meta, dict)
    return meta


def nav_hrefs(items: list) -> list[str]:
    out = []
    for item in items:
        if isinstance(item, dict):
            out += [item["href"]] if "href" in item else []
            out += nav_hrefs(item.get("menu", []))
    return out


def visible_text(markup: str) -> str:
    """Pandoc HTML as plain text: tags dropped, entities decoded, whitespace and smart
    punctuation normalised."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    for curly, plain in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("…", "...")):
        text = text.replace(curly, plain)
    return " ".join(text.split())


def pandoc_html(qmd: Path) -> str:
    proc = subprocess.run([PANDOC, "-f", "markdown", "-t", "html", str(qmd)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, f"{qmd.name}: {proc.stderr}"
    return proc.stdout


def test_quarto_yml_lists_every_page(run):
    project = run / "quarto"
    config = yaml.safe_load((project / "_quarto.yml").read_text(encoding="utf-8"))
    assert config["project"]["type"] == "website"
    hrefs = nav_hrefs(config["website"]["navbar"]["left"])
    assert len(hrefs) == len(set(hrefs)), hrefs
    assert set(hrefs) == set(pages(project)), "navigation and .qmd files differ"
    assert TOP_PAGES <= set(hrefs)
    segments = json.loads((run / "results" / "segments.json").read_text(encoding="utf-8"))["segments"]
    assert len([h for h in hrefs if h.startswith("segments/")]) == len(segments)


def test_every_page_has_front_matter_with_a_title(run):
    for name, text in pages(run / "quarto").items():
        meta = front_matter(text)
        assert isinstance(meta.get("title"), str) and meta["title"].strip(), name


def test_referenced_files_exist_and_figures_have_alt_text(run):
    project = run / "quarto"
    images = 0
    for name, text in pages(project).items():
        page_dir = (project / name).parent
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:|#", target):
                continue
            path = (page_dir / unquote(target.split("#")[0])).resolve()
            assert path.exists(), f"{name}: {target} does not exist"
            assert project.resolve() in path.parents, f"{name}: {target} leaves the project"
        for target, attrs in IMAGE.findall(text):
            images += 1
            assert target.endswith(".svg") and "figures/" in target, f"{name}: {target}"
            assert attrs and re.search(r'fig-alt="[^"]{10,}"', attrs), f"{name}: {target} has no alt text"
    figures = sorted((project / "figures").glob("*.svg"))
    # importance, beeswarm, per persona, membership, persona map, state map + dependence plots
    assert figures and images >= 7, (images, [f.name for f in figures])
    for page in ("drivers.qmd", "geography.qmd", "segments.qmd"):
        assert "](figures/" in (project / page).read_text(encoding="utf-8"), f"{page}: no figure"


def test_index_shows_changes_kpis_and_personas(run):
    results = load_results(run)
    text = (run / "quarto" / "index.qmd").read_text(encoding="utf-8")
    assert "## What changed since September 2026" in text
    assert "| Change vs Sep 2026 |" in text
    assert "## Month over month in detail" in text and "From ↓ / to →" in text
    assert "## Key insights" in text
    for seg in results.segments["segments"]:
        assert f"]({'segments/'}{seg['id']}-" in text, seg["name"]
    assert "callout-warning" not in text, "a passing run shows no held-back warning"


@needs_pandoc
def test_pages_convert_with_pandoc_and_show_the_content(run):
    project = run / "quarto"
    results = load_results(run)
    out = {name: visible_text(pandoc_html(project / name)) for name in pages(project)}
    names = [s["name"] for s in results.segments["segments"]]
    for name in names:
        assert name in out["index.qmd"] and name in out["segments.qmd"], name
    persona_pages = {n: t for n, t in out.items() if n.startswith("segments/")}
    assert len(persona_pages) == len(names)
    for seg in results.segments["segments"]:
        name = next(n for n in persona_pages if n.startswith(f"segments/{seg['id']}-"))
        title = front_matter((project / name).read_text(encoding="utf-8"))["title"]
        assert html.unescape(re.sub(r"\\(.)", r"\1", title)) == seg["name"]
        page = persona_pages[name]
        assert visible_text(seg["description"]) in page, seg["name"]
        assert "Suggested actions" in page and "What they say" in page
    for sentence in drivers_sentences(results.drivers):
        assert visible_text(sentence.text) in out["drivers.qmd"], sentence.text
    for sentence in geography_sentences(results.states):
        assert visible_text(sentence.text) in out["geography.qmd"], sentence.text
    changes = results.changes
    assert "What changed since September 2026" in out["index.qmd"] and changes["previous_period"] == "2026-09"
    assert "Sentiment model" in out["methodology.qmd"] and "Quality gates" in out["methodology.qmd"]


def _svg_figures(run: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted((run / "figures").glob("*.svg"))}


def test_held_back_run_shows_a_warning_on_every_page(run, tmp_path):
    held = tmp_path / run.name
    shutil.copytree(run, held)
    gates_path = held / "results" / "gates.json"
    gates = json.loads(gates_path.read_text(encoding="utf-8"))
    stability = next(g for g in gates["gates"] if g["name"] == "min_segment_stability")
    stability.update(value=0.41, threshold=0.6, passed=False)
    gates.update(passed=False, failed=["min_segment_stability"])
    gates_path.write_text(json.dumps(gates), encoding="utf-8")
    reason = "segment stability (mean ARI of refits) 0.41 (needs >= 0.6): FAILED"
    render_quarto(build_report(load_results(held)), held / "quarto", _svg_figures(held), run_quarto=False)
    for name, text in pages(held / "quarto").items():
        assert "::: {.callout-warning" in text, name
        assert reason in visible_text(text), name
    if PANDOC:
        out = visible_text(pandoc_html(held / "quarto" / "index.qmd"))
        assert f"Held back by a quality gate, not for distribution: {reason}." in out


def test_first_month_has_no_changes_section(fast_demo, tmp_path):
    first = tmp_path / "2026-09"
    shutil.copytree(fast_demo / "2026-09", first)
    render_quarto(build_report(load_results(first)), first / "quarto", _svg_figures(first), run_quarto=False)
    text = (first / "quarto" / "index.qmd").read_text(encoding="utf-8")
    assert "What changed since" not in text and "Month over month" not in text
    assert "| Measure | Value | What it counts |" in text
    if PANDOC:
        assert "Active customers" in visible_text(pandoc_html(first / "quarto" / "index.qmd"))


def test_hostile_text_stays_inert_on_every_page(run, tmp_path):
    """tests/test_escaping.py's payloads, checked on every page including segments/*.qmd."""
    from tests.test_escaping import MD_LINK, SCRIPT_ESCAPED, assert_inert_html, inject

    hostile = tmp_path / run.name
    shutil.copytree(run, hostile)
    inject(hostile)
    render_quarto(build_report(load_results(hostile)), hostile / "quarto", _svg_figures(hostile), run_quarto=False)
    texts = pages(hostile / "quarto")
    assert any(n.startswith("segments/") for n in texts)
    for name, text in texts.items():
        assert isinstance(front_matter(text).get("title"), str), name
        assert "{{<" not in text and MD_LINK not in text, name
        assert_inert_html(text, name)
        if PANDOC:
            out = pandoc_html(hostile / "quarto" / name)
            assert_inert_html(out, f"pandoc({name})")
            assert 'href="javascript:' not in out.lower(), name
    persona = next(t for n, t in texts.items() if n.startswith("segments/"))
    assert SCRIPT_ESCAPED in persona and SCRIPT_ESCAPED in texts["index.qmd"]
    config = yaml.safe_load((hostile / "quarto" / "_quarto.yml").read_text(encoding="utf-8"))
    assert "<script>" not in json.dumps(config), "no data-derived text in _quarto.yml"
