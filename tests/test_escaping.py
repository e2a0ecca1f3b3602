"""Hostile text in a run's results cannot become markup in any output.

A copy of the demo run gets script tags, event-handler attributes, Jinja syntax and Markdown
links injected into everything that comes from the retailer's data: review text, state and
country names, category names, customer ids and persona names. Every format is then
re-rendered from ``results/`` (site, Quarto project, PDFs) and the e-mail is built. The payloads
must show up as text - escaped in HTML and e-mail HTML, literal in the PDF text and the e-mail
text part, inert in the Quarto Markdown - and each check first asserts that the payload reached
that output, so the test cannot pass by the value going missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import demo_run_dir

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JINJA = "calc:{{ 7*7 }}"           # a template engine fed this value would print "calc:49"
RAW = "{% raw %}"                  # ... and this one would fail to compile
MD_LINK = "[click](javascript:alert(1))"
SHORTCODE = "{{< include /etc/passwd >}}"
COMMENT_END = "--> ]]>"           # would end an HTML/XML comment or CDATA section
PAYLOAD = f"{SCRIPT} {IMG} {JINJA} {RAW} {MD_LINK} {SHORTCODE} {COMMENT_END}"

SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG_ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


# --------------------------------------------------------------------------- injection

def _evil(value: object, payload: str = PAYLOAD) -> str:
    return f"{value} {payload}"


def _map_labels(obj: object, names: dict[str, str]) -> object:
    """drivers.json / states.json: payload into every display label and persona name (the
    sentences written from the findings insert them)."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if key in ("label", "text", "previous_name") and isinstance(value, str):
                out[key] = _evil(value)
            elif key == "labels" and isinstance(value, dict):
                out[key] = {k: _evil(v) for k, v in value.items()}
            elif key in ("segment_name", "name") and isinstance(value, str) and value in names:
                out[key] = names[value]
            else:
                out[key] = _map_labels(value, names)
        return out
    if isinstance(obj, list):
        return [_map_labels(v, names) for v in obj]
    return obj


def inject(run: Path) -> dict[str, object]:
    """Write hostile values into the run's results; returns what was injected where."""
    res = run / "results"
    segments = json.loads((res / "segments.json").read_text(encoding="utf-8"))
    names = {seg["name"]: _evil(seg["name"]) for seg in segments["segments"]}
    for seg in segments["segments"]:
        seg["name"] = names[seg["name"]]
        seg["description"] = _evil(seg["description"])
        profile = seg["profile"]
        for key in ("top_categories", "category_mix"):
            for cat in profile.get(key, []):
                cat["category"] = _evil(cat["category"])
        for state in profile.get("top_states", []):
            state["name"] = _evil(state["name"])
    (res / "segments.json").write_text(json.dumps(segments), encoding="utf-8")

    states = json.loads((res / "states.json").read_text(encoding="utf-8"))
    for state in states["states"]:
        state["name"] = _evil(state["name"])
    states = _map_labels(states, names)
    (res / "states.json").write_text(json.dumps(states), encoding="utf-8")

    drivers = json.loads((res / "drivers.json").read_text(encoding="utf-8"))
    (res / "drivers.json").write_text(json.dumps(_map_labels(drivers, names)), encoding="utf-8")

    quality = json.loads((res / "data_quality.json").read_text(encoding="utf-8"))
    quality["non_us_customers_by_country"] = {_evil(k): v for k, v in
                                              quality.get("non_us_customers_by_country", {}).items()}
    assert quality["non_us_customers_by_country"], "the demo has no customers outside the US"
    for stats in quality.get("files", {}).values():
        if isinstance(stats.get("unknown_state_values"), dict):
            stats["unknown_state_values"] = {_evil("Atlantis"): 3}
    (res / "data_quality.json").write_text(json.dumps(quality), encoding="utf-8")

    # Customer ids: the same hostile id everywhere it is stored (reviews join on it).
    customers = pd.read_parquet(res / "customers.parquet")
    ids = {cid: f"{cid}{IMG}" for cid in customers["customer_id"]}
    for path in sorted(res.glob("*.parquet")):
        frame = pd.read_parquet(path)
        if "customer_id" in frame.columns:
            frame["customer_id"] = frame["customer_id"].map(lambda v: ids.get(v, v))
        if "segment_name" in frame.columns:
            frame["segment_name"] = frame["segment_name"].map(lambda v: names.get(v, v))
        for column in ("top_category", "country", "region"):
            if column in frame.columns:
                frame[column] = frame[column].map(lambda v: v if pd.isna(v) else _evil(v, IMG))
        if path.name == "reviews.parquet":
            # Long enough (40-400 characters) to be picked as a persona's quote.
            frame["text"] = frame["text"].map(lambda v: v if pd.isna(v) else f"{str(v)[:60]} {PAYLOAD}")
        frame.to_parquet(path, index=False)
    segments_csv = run / "data" / "segments.csv"
    if segments_csv.exists():
        table = pd.read_csv(segments_csv, dtype=str)
        table["customer_id"] = table["customer_id"].map(lambda v: ids.get(v, v))
        if "segment_name" in table.columns:
            table["segment_name"] = table["segment_name"].map(lambda v: names.get(v, v))
        table.to_csv(segments_csv, index=False)
    return {"names": names}


@pytest.fixture(scope="module")
def hostile(fast_demo, tmp_path_factory) -> Path:
    """A copy of the demo run with hostile results, re-rendered in every format, plus its e-mail
    as ``email/message.eml``."""
    from segment_report.pipeline.config import EmailConfig
    from segment_report.pipeline.io.store import load_results
    from segment_report.reports.email import build_message, write_eml
    from segment_report.reports.render import FORMATS, render_run

    run = tmp_path_factory.mktemp("hostile") / demo_run_dir(fast_demo).name
    shutil.copytree(demo_run_dir(fast_demo), run)
    for output in ("site", "quarto", "pdf", "figures"):
        shutil.rmtree(run / output, ignore_errors=True)
    inject(run)
    render_run(run, FORMATS)
    outgoing = build_message(load_results(run), ("analyst@example.com",), EmailConfig())
    write_eml(outgoing, run / "email" / "message.eml")
    return run


# --------------------------------------------------------------------------- checks

class MarkupScan(HTMLParser):
    """Elements and attributes a payload would create if it were not escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.problems.append("<img src=x>")
        if tag == "script":
            self._script = []

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            if "".join(self._script).strip() == "alert(1)":
                self.problems.append("<script>alert(1)</script> element")
            self._script = None


def assert_inert_html(text: str, where: str) -> None:
    """No element or attribute from a payload; no raw payload anywhere in the source."""
    scan = MarkupScan()
    scan.feed(text)
    scan.close()
    assert not scan.problems, f"{where}: {scan.problems}"
    lowered = text.lower()
    for raw in (SCRIPT, IMG, "calc:49"):
        assert raw.lower() not in lowered, f"{where}: raw {raw!r}"


def html_files(run: Path) -> list[Path]:
    return sorted((run / "site").rglob("*.html"))


def test_payloads_reach_the_site_escaped(hostile):
    pages = {p.relative_to(hostile / "site").as_posix(): p.read_text(encoding="utf-8")
             for p in html_files(hostile)}
    for name, text in pages.items():
        assert_inert_html(text, f"site/{name}")
    # Reached, escaped, literal: persona names on the overview ...
    assert SCRIPT_ESCAPED in pages["index.html"] and IMG_ESCAPED in pages["index.html"]
    assert "calc:{{ 7*7 }}" in pages["index.html"] and RAW in pages["index.html"]
    # ... review quotes, categories and state names on the persona pages ...
    persona = "\n".join(text for name, text in pages.items() if name.startswith("segments/"))
    assert persona, "no persona pages"
    assert persona.count(SCRIPT_ESCAPED) > persona.count("<title>"), "quotes/categories not shown"
    assert IMG_ESCAPED.lower() in persona.lower()
    # ... state names on the geography page, driver labels, countries on data quality.
    assert SCRIPT_ESCAPED in pages["geography.html"]
    assert IMG_ESCAPED in pages["drivers.html"]
    assert IMG_ESCAPED in pages["data-quality.html"] or SCRIPT_ESCAPED in pages["data-quality.html"]


def test_svg_figures_have_no_markup(hostile):
    figures = sorted((hostile / "site" / "figures").glob("*.svg"))
    assert figures
    for svg in figures:
        text = svg.read_text(encoding="utf-8")
        scan = MarkupScan()
        scan.feed(text)
        assert not scan.problems, f"{svg.name}: {scan.problems}"
        assert "<script" not in text.lower(), svg.name
    # Labels and persona names reach the figures (as escaped text or escaped comments).
    assert any(SCRIPT_ESCAPED in svg.read_text(encoding="utf-8") for svg in figures)


def test_interactive_map_hover_is_text(hostile):
    page = (hostile / "site" / "geography.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.S)
    plot = next(s for s in scripts if "Plotly.newPlot" in s)
    # JSON in the page: '<' is written \u003c, so no string can end the <script> early; the
    # hover text is HTML-escaped so plotly shows the name as typed instead of parsing tags.
    assert "</" not in plot
    assert "\\u0026lt;script\\u0026gt;alert(1)" in plot or "&lt;script&gt;alert(1)" in plot


def _pandoc_html(qmd: Path) -> str:
    return subprocess.run(["pandoc", "-f", "markdown", "-t", "html", str(qmd)], capture_output=True,
                          text=True, check=True, timeout=60).stdout


def test_quarto_markdown_is_inert(hostile):
    pages = sorted((hostile / "quarto").rglob("*.qmd"))
    assert pages
    reached = 0
    for qmd in pages:
        text = qmd.read_text(encoding="utf-8")
        front = text.split("---", 2)[1] if text.startswith("---") else ""
        assert isinstance(yaml.safe_load(front) if front else {}, dict), f"{qmd.name}: front matter"
        assert "{{<" not in text, f"{qmd.name}: a Quarto shortcode could run"
        assert MD_LINK not in text, f"{qmd.name}: a Markdown link is not escaped"
        assert_inert_html(text, qmd.name)
        reached += text.count(SCRIPT_ESCAPED)
        if shutil.which("pandoc"):
            html = _pandoc_html(qmd)
            assert_inert_html(html, f"pandoc({qmd.name})")
            assert 'href="javascript:' not in html.lower(), f"{qmd.name}: Markdown link became a link"
    assert reached, "no payload reached the Quarto pages (countries on data-quality.qmd)"


def _pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    return " ".join(out.split())


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")
def test_pdf_shows_payloads_as_text(hostile):
    pdfs = [hostile / "pdf" / "executive-summary.pdf", *sorted((hostile / "pdf" / "personas").glob("*.pdf"))]
    assert pdfs[0].exists()
    for pdf in pdfs:
        text = _pdf_text(pdf)
        assert SCRIPT in text, f"{pdf.name}: the payload is not shown as text"
        assert "calc:{{ 7*7 }}" in text and "calc:49" not in text, pdf.name
        assert "&lt;" not in text, f"{pdf.name}: double-escaped"


def test_email_parts(hostile):
    message = message_from_bytes((hostile / "email" / "message.eml").read_bytes(), policy=policy.default)
    html = message.get_body(("html",)).get_content()
    plain = message.get_body(("plain",)).get_content()
    assert_inert_html(html, "e-mail HTML part")
    assert SCRIPT_ESCAPED in html and IMG_ESCAPED in html and "calc:{{ 7*7 }}" in html
    assert SCRIPT in plain and IMG in plain and "calc:{{ 7*7 }}" in plain, "text part: not literal"
    assert "&lt;" not in plain and "calc:49" not in plain
    assert "<script" not in str(message["Subject"]).lower()
