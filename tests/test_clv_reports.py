"""Churn risk and lifetime value in the reports: persona pages and PDFs, page 1 of the executive
PDF, the site's and the Quarto project's value page with the calibration figure, the
methodology paragraph, and skipped or older runs.

Fast: the small finished run of ``tests/fixtures/run-2026-10`` (no clv.json: made before the
stage) is copied and given a hand-written ``results/clv.json``; nothing is fitted.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from segment_report.pipeline.io.store import load_results
from segment_report.reports import formatting as fmt
from segment_report.reports.model import report_for
from segment_report.reports.narrative.notes import note_text
from segment_report.reports.views import clv_view

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "run-2026-10"

SETTINGS = {"horizon_months": 6, "monthly_discount_rate": 0.0, "at_risk_below": 0.5, "holdout_months": 2,
            "min_history_months": 4, "min_repeat_customers": 100, "time_unit": "day"}
HISTORY = {"first_date": "2026-05-01", "last_date": "2026-10-31", "months": 6, "customers": 1000,
           "repeat_customers": 900}


def _group(customers: int, share: float, p: float, orders: float, value: float, lost: float,
           change: dict | None = None) -> dict:
    return {"customers": customers, "at_risk": round(customers * share), "at_risk_share": share,
            "mean_p_active": p, "expected_orders": orders, "expected_value": value,
            "value_per_customer": value / customers, "value_lost_to_risk": lost, "change": change}


def fitted_doc() -> dict:
    """A fitted clv.json for the fixture's five personas; persona 5 needs attention and has a
    change since last month."""
    names = {1: "Younger loyal clothing buyers", 2: "Big-basket thrifty grocery buyers",
             3: "Small-basket premium electronics buyers", 4: "Older premium home decor buyers",
             5: "Thrifty low-spending clothing buyers, critical"}
    segments = [{"segment_id": sid, "segment_name": name,
                 **_group(200, 0.05, 0.93, 500.0, 150_000.0, 4_000.0)} for sid, name in names.items() if sid != 5]
    segments.append({"segment_id": 5, "segment_name": names[5],
                     **_group(200, 0.38, 0.61, 300.0, 1_234_567.0, 210_400.0,
                              {"at_risk_share_points": 2.1, "expected_value_pct": -4.0,
                               "previous_at_risk_share": 0.359, "previous_expected_value": 1_286_000.0})})
    calibration = [{"decile": d, "customers": 100, "predicted_orders": 0.2 * d, "actual_orders": 0.25 * d,
                    "relative_error": -0.2, "predicted_spend": 20.0 * d, "actual_spend": 25.0 * d}
                   for d in range(1, 11)]
    return {
        "status": "fitted", "settings": SETTINGS, "history": HISTORY,
        "model": {"library": "pymc-marketing 0.19.2", "fit": "MAP", "orders": "ModifiedBetaGeoModel",
                  "spend": "GammaGammaModel", "covariates": "persona (purchase and dropout rates)",
                  "fitted_on": 1000, "spend_fitted_on": 900, "parameters": {}},
        "totals": _group(1000, 0.116, 0.87, 2300.0, 1_834_567.0, 226_400.0,
                         {"at_risk_share_points": 0.4, "expected_value_pct": 1.5,
                          "previous_at_risk_share": 0.112, "previous_expected_value": 1_807_000.0}),
        "segments": segments,
        "attention": {"segment_id": 5, "segment_name": names[5]},
        "validation": {"cutoff": "2026-08-31", "holdout_end": "2026-10-31", "holdout_months": 2,
                       "holdout_days": 61, "customers": 980, "fitted_on": 980, "predicted_orders": 1100.0,
                       "actual_orders": 1375.0, "mae_orders": 0.8512, "mean_actual_orders": 1.4031,
                       "spearman_value_vs_spend": 0.4567, "max_decile_relative_error": 0.2,
                       "calibration": calibration},
        "notes": [],
    }


def skipped_doc(code: str, **params) -> dict:
    return {"status": "skipped", "settings": SETTINGS, "history": HISTORY,
            "notes": [{"code": code, "params": params}]}


def run_with(tmp_path: Path, doc: dict | None) -> Path:
    run = Path(shutil.copytree(FIXTURE, tmp_path / "2026-10"))
    if doc is not None:
        (run / "results" / "clv.json").write_text(json.dumps({"schema_version": 1, **doc}), encoding="utf-8")
    return run


# --------------------------------------------------------------------------- words and views

def test_amounts_in_sentences_are_short():
    assert [fmt.compact_currency(v) for v in (1_234_567, 210_400, 8_450, 950, 999_960, -1.2e6, None)] == [
        "$1.2M", "$210k", "$8.4k", "$950", "$1.0M", "-$1.2M", fmt.MISSING]


def test_the_persona_view_says_how_much_is_at_risk_with_formatted_numbers():
    view = clv_view(fitted_doc(), "September 2026")
    p = view["by_segment"][5]
    assert p["sentence"] == ("38% of this persona is at risk (probability of still being active below 50%); "
                             "$1.2M expected over the next 6 months; $210k lost to risk.")
    assert p["change"] == ("Since September 2026: at-risk share up 2.1 points (from 36%), expected value "
                           "down 4.0% (from $1.3M).")
    assert view["by_segment"][1]["change"] == ""  # no change for this persona: no sentence


def test_the_value_table_has_every_persona_and_the_total():
    view = clv_view(fitted_doc(), "September 2026")
    table = view["table"]
    assert table.headers[-2:] == ("At-risk change", "Value change")
    assert [r.cells[0] for r in table.rows][-1] == "All customers"
    last_persona = table.rows[-2].cells
    assert last_persona[:8] == ("Thrifty low-spending clothing buyers, critical", "200", "76", "38%", "0.61", "300",
                                "$1,234,567", "$210,400")
    assert last_persona[8:] == ("▲ 2.1 pts", "▼ 4.0%")
    assert "against September 2026" in view["table_note"]
    assert view["first_page"] == [
        "$226k of value lost to risk over the next 6 months: 12% of customers are at risk "
        "(probability of still being active below 50%).",
        "Needs attention: Thrifty low-spending clothing buyers, critical (38% at risk, $210k lost, 93% of the total)."]


def test_without_a_previous_month_the_change_column_is_left_out():
    doc = fitted_doc()
    for g in (*doc["segments"], doc["totals"]):
        g["change"] = None
    doc["notes"] = [{"code": "clv_no_previous", "params": {}}]
    view = clv_view(doc)
    assert "Value change" not in view["table"].headers
    assert all(len(r.cells) == 8 for r in view["table"].rows)
    assert view["notes"] == [note_text({"code": "clv_no_previous"})]


def test_every_validation_number_is_explained():
    rows = {r.cells[0]: r.cells[1:] for r in clv_view(fitted_doc())["validation"].rows}
    assert rows["Cut-off"][0] == "31 August 2026"
    assert rows["Mean absolute error of expected orders"][0] == "0.85"
    assert rows["Spearman correlation, predicted value vs hold-out spend"][0] == "0.46"
    assert rows["Largest decile error"][0] == "20.0%"
    assert all(meaning for _, meaning in rows.values())


@pytest.mark.parametrize("code, params, says", [
    ("clv_disabled", {}, "switched off"),
    ("clv_short_history", {"months": 2, "needed": 4}, "covers 2 months, fewer than the 4"),
    ("clv_few_repeat_customers", {"customers": 37, "needed": 100}, "only 37 customers bought on more than one day"),
])
def test_a_skipped_stage_gives_its_reason_and_no_numbers(code, params, says):
    view = clv_view(skipped_doc(code, **params))
    assert not view["available"] and view["table"] is None and view["validation"] is None
    assert says in view["reason"]
    assert view["by_segment"] == {} and view["first_page"] == []
    assert view["method"][-1] == f"This run: {view['reason']}"


def test_a_run_made_before_the_stage_has_no_clv_view():
    view = clv_view(None)
    assert not view["present"] and not view["available"] and "before the CLV stage existed" in view["reason"]


# --------------------------------------------------------------------------- rendered outputs

@pytest.fixture(scope="module")
def fitted_run(tmp_path_factory) -> Path:
    from segment_report.reports.render import render_run

    run = run_with(tmp_path_factory.mktemp("clv"), fitted_doc())
    render_run(run, ("html", "quarto"))
    return run


SENTENCE = ("38% of this persona is at risk (probability of still being active below 50%); "
            "$1.2M expected over the next 6 months; $210k lost to risk.")


def _persona_file(folder: Path, suffix: str) -> Path:
    return next(p for p in (folder / "segments").glob(f"5-*{suffix}"))


def test_the_site_has_a_value_page_with_the_calibration_figure(fitted_run):
    site = fitted_run / "site"
    page = (site / "clv.html").read_text(encoding="utf-8")
    assert 'src="figures/clv_calibration.svg"' in page
    assert (site / "figures" / "clv_calibration.svg").stat().st_size > 1000
    assert (site / "figures" / "clv_calibration.png").exists()
    for text in ("How well the models predicted a hold-out period", "$1,234,567", "Needs attention",
                 "31 August 2026", "0.85", "0.46", "slightly optimistic"):
        assert text in page, text
    assert 'href="clv.html"' in (site / "index.html").read_text(encoding="utf-8")  # in the nav


def test_the_persona_page_shows_its_risk_and_the_methodology_explains_it(fitted_run):
    persona = _persona_file(fitted_run / "site", ".html").read_text(encoding="utf-8")
    assert SENTENCE in persona and "Since September 2026: at-risk share up 2.1 points" in persona
    method = (fitted_run / "site" / "methodology.html").read_text(encoding="utf-8")
    assert "Modified BG/NBD" in method and "A customer is at risk when p_active is below 50%" in method


def test_the_quarto_project_has_the_value_page_and_the_persona_block(fitted_run):
    quarto = fitted_run / "quarto"
    page = (quarto / "clv.qmd").read_text(encoding="utf-8")
    assert "](figures/clv_calibration.svg)" in page and (quarto / "figures" / "clv_calibration.svg").exists()
    assert "clv.qmd" in (quarto / "_quarto.yml").read_text(encoding="utf-8")
    persona = _persona_file(quarto, ".qmd").read_text(encoding="utf-8")
    flat = " ".join(persona.split())
    assert SENTENCE.replace("$", r"\$") in flat
    assert "Modified BG/NBD" in (quarto / "methodology.qmd").read_text(encoding="utf-8")


def test_page_one_and_the_persona_pdf_show_the_value_at_risk(tmp_path):
    from segment_report.reports.pdf import first_page
    from segment_report.reports.persona_pdf import persona_html

    with report_for(load_results(run_with(tmp_path, fitted_doc()))) as report:
        page_one = str(first_page(report, {}))
        persona = next(p for p in report.personas if p["id"] == 5)
        pdf_html = persona_html(report.site, persona)
    assert "Value at risk" in page_one and "$226k of value lost to risk" in page_one
    assert "Needs attention: Thrifty low-spending clothing buyers, critical" in page_one
    assert SENTENCE in pdf_html


def test_a_skipped_stage_shows_the_reason_on_the_value_page_and_in_the_methodology(tmp_path):
    from segment_report.reports.render import render_run

    run = run_with(tmp_path, skipped_doc("clv_short_history", months=2, needed=4))
    render_run(run, ("html", "quarto"))
    site = run / "site"
    reason = note_text({"code": "clv_short_history", "params": {"months": 2, "needed": 4}})
    page = (site / "clv.html").read_text(encoding="utf-8")
    assert reason in page and "$" not in page and "<table" not in page
    assert not (site / "figures" / "clv_calibration.svg").exists()
    assert reason in (site / "methodology.html").read_text(encoding="utf-8")
    assert "lost to risk" not in _persona_file(site, ".html").read_text(encoding="utf-8")
    assert md_unescaped(reason) in md_unescaped((run / "quarto" / "clv.qmd").read_text(encoding="utf-8"))


def md_unescaped(text: str) -> str:
    return " ".join(re.sub(r"\\(.)", r"\1", text).split())


def test_a_run_made_before_the_stage_renders_without_a_value_page(tmp_path):
    from segment_report.reports.pdf import first_page
    from segment_report.reports.render import render_run

    run = run_with(tmp_path, None)
    render_run(run, ("html",))
    assert not (run / "site" / "clv.html").exists()
    assert 'href="clv.html"' not in (run / "site" / "index.html").read_text(encoding="utf-8")
    with report_for(load_results(run)) as report:
        assert all(p["clv"] is None for p in report.personas)
        assert "Value at risk" not in str(first_page(report, {}))
        assert report.methodology["clv"] == []


def test_the_win_back_action_of_the_persona_needing_attention_cites_its_value_at_risk(tmp_path):
    with report_for(load_results(run_with(tmp_path, fitted_doc()))) as report:
        actions = {p["id"]: p["actions"] for p in report.personas}
    win_back = next(a for a in actions[5] if a["text"].startswith("Win them back"))
    assert win_back["evidence"].endswith("38% of them are at risk (probability of still being active below 50%): "
                                         "$210k lost to risk over the next 6 months, the most of any persona.")
    assert not any("lost to risk" in a["evidence"] for sid, acts in actions.items() if sid != 5 for a in acts)


def test_page_one_of_the_executive_pdf_still_fits_on_one_page(tmp_path):
    """The value-at-risk lines must not push the drivers, the map or anything else of page 1 onto
    page 2 (the fixture's run has what-changed bullets, five personas and a state map)."""
    from weasyprint import HTML

    from segment_report.reports.env import render
    from segment_report.reports.figures import draw_all
    from segment_report.reports.pdf import _css, executive_sections, first_page

    run = run_with(tmp_path, fitted_doc())
    results = load_results(run)
    figures = draw_all(results, run / "figures")
    with report_for(results) as report:
        html = render("pdf/executive.html", site=report.site, css=_css(),
                      first_page=first_page(report, figures), sections=executive_sections(report, figures))
    pages = HTML(string=html, base_url=str(run)).render().pages

    def text(page) -> str:
        out = []

        def walk(box):
            if getattr(box, "text", None):
                out.append(box.text)
            for child in getattr(box, "children", []) or []:
                walk(child)
        walk(page._page_box)
        return " ".join(" ".join(out).split())

    first, second = text(pages[0]), text(pages[1])
    for heading in ("What changed", "The personas", "Value at risk", "What drives value", "Where"):
        assert heading in first, heading
    assert "Review sentiment by state; grey" in first
    assert "Value at risk" not in second and "Needs attention" not in second
