"""View models: turn a run's saved results into display-ready values.

Every number shown in a report is formatted here (or by a Jinja filter); templates only place
values. Nothing is recomputed from the inputs: everything comes from ``results/``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from segment_report.pipeline.io.store import RunResults
from segment_report.reports import formatting as fmt
from segment_report.reports.narrative.gates import gate_message, gates_reason
from segment_report.reports.narrative import drivers_sentences, geography_sentences, of_kind
from segment_report.reports.narrative.drivers import leakage_reason, shap_error_bound
from segment_report.reports.narrative.notes import multiple_testing_text, note_text


@dataclass(frozen=True)
class Kpi:
    """One headline number."""

    label: str
    value: str
    note: str = ""
    change: str = ""  # "▲ 4.2%" against the previous period ...
    versus: str = ""  # ... named here: "Sep 2026"
    trend: str = "flat"  # up / down / flat, for colour

    @property
    def delta(self) -> str:
        """``▲ 4.2% vs Sep 2026``, or empty without a previous period."""
        return f"{self.change} vs {self.versus}" if self.change else ""


@dataclass(frozen=True)
class Row:
    """A table row of already formatted cells (first cell is the row header)."""

    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table with a caption, headers and which columns are numeric (right-aligned)."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[Row, ...]
    numeric: tuple[bool, ...] = ()


@dataclass
class SiteView:
    """Everything the site and PDFs need that does not depend on a single page."""

    title: str
    period: str
    period_label: str
    window: str
    generated: str
    footer: str
    kpis: list[Kpi] = field(default_factory=list)
    nav: list[dict[str, str]] = field(default_factory=list)
    held: str = ""


def _generated(manifest: dict[str, Any]) -> str:
    started = manifest.get("started_at")
    return fmt.date(started) if started else fmt.date(dt.datetime.now(dt.timezone.utc))


def _kpi_values(results: RunResults) -> dict[str, dict[str, Any]]:
    """This run's headline KPIs with their change (``results/changes.json``); runs made before
    changes.json existed get the same numbers without deltas."""
    changes = results.changes
    if changes:
        return changes["kpis"]
    from segment_report.pipeline.stages.changes import headline_kpis

    n_reviews = len(results.reviews) if results.reviews is not None else 0
    return {k: {"current": v, "previous": None, "delta": None, "relative": None}
            for k, v in headline_kpis(results.customers, n_reviews).items()}


def _kpi(label: str, k: dict[str, Any], value: str, note: str, versus: str, absolute: bool = False) -> Kpi:
    """A KPI with its change vs the previous period: relative (%), or ``absolute`` for scores."""
    change = k.get("delta") if absolute else k.get("relative")
    if change is None:
        return Kpi(label, value, note)
    text = fmt.delta(change, "number", 2) if absolute else fmt.delta(change, "percent", 1 if abs(change) < 0.1 else 0)
    return Kpi(label, value, note, text, versus,
               "up" if change > 0.0005 else "down" if change < -0.0005 else "flat")


def site_view(results: RunResults) -> SiteView:
    """The shared header facts and headline KPIs of a run."""
    manifest = results.manifest
    title = manifest["config"].get("reports", {}).get("title", "Customer segments")
    period = manifest["period"]
    k = _kpi_values(results)
    previous = (results.changes or {}).get("previous_period")
    versus = fmt.month(previous, short=True) if previous else ""
    totals = results.data_quality["totals"]
    kpis = [
        _kpi("Active customers", k["customers"], fmt.number(k["customers"]["current"]),
             f"with an order in the {period_window_words(period)}", versus),
        _kpi("Revenue", k["revenue"], fmt.currency(k["revenue"]["current"]),
             f"{fmt.plural(k['orders']['current'], 'order')} in the window", versus),
        _kpi("Average order value", k["avg_order_value"], fmt.currency(k["avg_order_value"]["current"], digits=2),
             "revenue ÷ orders", versus),
        _kpi("Review sentiment", k["mean_positive_prob"], fmt.number(k["mean_positive_prob"]["current"], 2),
             f"mean positive probability; {fmt.plural(k['reviews']['current'], 'review')}, "
             f"{fmt.percent(k['reviewer_share']['current'])} of customers wrote one", versus, absolute=True),
    ]
    label = fmt.month(period["period"]) if period["period"] != "all" else "All data"
    return SiteView(
        title=title,
        period=period["period"],
        period_label=label,
        window=(f"{fmt.date(dt.date.fromisoformat(period['window_start_exclusive']) + dt.timedelta(days=1))}"
                f" – {fmt.date(period['window_end'])}"),
        generated=_generated(manifest),
        footer=(f"segment-report {manifest['versions'].get('segment-report', '')} · seed {manifest['seed']} · "
                f"{fmt.plural(totals['rows_read'], 'input row')} · every number on these pages comes from "
                "the run's results/ folder"),
        kpis=kpis,
        held=(f"Held back by a quality gate, not for distribution: {gates_reason(gates)}."
              if (gates := results.gates) and not gates.get("passed", True) else ""),
    )


def period_window_words(period: dict[str, str]) -> str:
    """``12-month window`` style words for a window from manifest.json."""
    start = dt.date.fromisoformat(period["window_start_exclusive"])
    end = dt.date.fromisoformat(period["window_end"])
    months = (end.year - start.year) * 12 + end.month - start.month
    return f"{months}-month window" if months > 0 else "window"


def data_quality_view(quality: dict[str, Any]) -> dict[str, Any]:
    """Rows read / kept / deduplicated / quarantined, reasons and missing values, formatted."""
    totals = quality["totals"]
    read = totals["rows_read"] or 1
    files = tuple(
        Row((name.replace("_", " "), stats["file"], fmt.number(stats["rows_read"]),
             fmt.number(stats["rows_kept"]), fmt.number(stats["duplicates_dropped"]),
             fmt.number(stats["rows_quarantined"])))
        for name, stats in quality["files"].items())
    reasons = tuple(
        Row((code, quality["reason_descriptions"].get(code, ""), fmt.number(count),
             fmt.percent(count / read, 1)))
        for code, count in sorted(quality["quarantined_by_reason"].items(), key=lambda kv: -kv[1]))
    missing_rows = []
    for table, columns in quality["missing_values"].items():
        for column, count in columns.items():
            if count:
                missing_rows.append(Row((f"{table}.{column}", fmt.number(count))))
    repaired = []
    for name, stats in quality["files"].items():
        for key, label in (("state_spellings_normalised", "state spellings normalised"),
                           ("unknown_states", "unknown US state values (not mapped)"),
                           ("totals_derived", "order totals derived from unit price × quantity"),
                           ("age_out_of_range_set_missing", "ages outside 10–110 set to missing"),
                           ("ratings_out_of_range_set_missing", "ratings outside 1–5 set to missing"),
                           ("malformed_lines", "lines with the wrong number of fields")):
            if stats.get(key):
                repaired.append(Row((f"{name.replace('_', ' ')}: {label}", fmt.number(stats[key]))))
        for date_format, count in stats.get("date_formats", {}).items():
            example = ("2026-09-18 (ISO 8601)" if date_format == "ISO8601"
                       else dt.date(2026, 9, 18).strftime(date_format))
            repaired.append(Row((f"{name.replace('_', ' ')}: dates written like {example}", fmt.number(count))))
    countries = tuple(Row((country, fmt.number(count)))
                      for country, count in quality.get("non_us_customers_by_country", {}).items())
    return {
        "summary": (f"{fmt.plural(totals['rows_read'], 'row')} read, {fmt.number(totals['rows_kept'])} kept, "
                    f"{fmt.number(totals['duplicates_dropped'])} exact duplicates dropped and "
                    f"{fmt.number(totals['rows_quarantined'])} quarantined "
                    f"({fmt.percent(totals['rows_quarantined'] / read, 1)})."),
        "files": Table("Rows per input file", ("Table", "File", "Read", "Kept", "Duplicates", "Quarantined"),
                       files, (False, False, True, True, True, True)),
        "reasons": Table("Quarantined rows by reason", ("Reason", "Meaning", "Rows", "Share of rows read"),
                         reasons, (False, False, True, True)),
        "repaired": Table("Repaired, not rejected", ("What", "Rows"), tuple(repaired), (False, True)),
        "missing": Table("Missing values after cleaning", ("Column", "Missing"), tuple(missing_rows),
                         (False, True)),
        "countries": Table("Customers outside the US (kept, left out of US maps)", ("Country", "Customers"),
                           countries, (False, True)),
        "pii": ", ".join(quality.get("personal_data_dropped", [])),
        "hashed": quality.get("customer_ids_hashed", False),
    }


def methodology_view(results: RunResults) -> dict[str, Any]:
    """Seeds, versions, timings and configuration facts for the methodology page."""
    manifest = results.manifest
    stage_rows = tuple(Row((name, f"{seconds:.1f} s")) for name, seconds in manifest["stage_seconds"].items())
    versions = tuple(Row((name, ver)) for name, ver in manifest["versions"].items())
    inputs = tuple(Row((item["file"].rsplit("/", 1)[-1], fmt.number(item["bytes"]), item["sha256"][:16] + "…"))
                   for item in manifest["inputs"])
    return {
        "models": model_cards(results),
        "seed": str(manifest["seed"]),
        "wall": f"{manifest['wall_seconds']:.1f} s",
        "stages": Table("Time per stage", ("Stage", "Time"), stage_rows, (False, True)),
        "versions": Table("Library versions", ("Package", "Version"), versions, (False, False)),
        "inputs": Table("Input files", ("File", "Bytes", "SHA-256"), inputs, (False, True, False)),
        "clv": _clv_method(getattr(results, "clv", None)),
    }


def _clv_method(clv: Any) -> list[str]:
    """The methodology's CLV paragraph; empty for a run made before the stage (its pages are
    unchanged: the run has no value page to point to)."""
    from segment_report.reports.narrative.clv import method_sentences

    return method_sentences(clv) if clv is not None else []


def _facts(caption: str, pairs: list[tuple[str, str]]) -> Table:
    """A two-column table of labelled facts (missing values dropped)."""
    return Table(caption, ("What", "Detail"), tuple(Row((k, v)) for k, v in pairs if v and v != fmt.MISSING),
                 (False, False))


def prior_fact(prior: dict[str, Any] | None) -> str:
    """The sentiment scorer's label-shift adjustment in words ("" when the model has none)."""
    if not prior:
        return ""
    reference = (f"the model's training reviews, measured the same way: "
                 f"{fmt.percent(prior['reference_positive_share'], 1)}")
    if not prior["applied"]:
        return (f"not estimated: {fmt.plural(prior['texts'], 'scored review')}, fewer than "
                f"{fmt.number(prior['min_texts'])}; scores left as the model gives them ({reference})")
    return (f"{fmt.percent(prior['estimated_positive_share'], 1)}, estimated from the model's scores "
            f"(EM); scores and labels are adjusted for the difference ({reference})")


def model_cards(results: RunResults) -> list[Table]:
    """Methodology tables: sentiment model card and metrics, clustering parameters and
    stability, value model quality and SHAP sampling, quality gates."""
    cards = []
    sentiment = results.sentiment
    if sentiment:
        model, card = sentiment.get("model", {}), sentiment.get("model", {}).get("card", {})
        test = (card.get("metrics") or {}).get("test_split", {})
        hp = card.get("hyperparameters", {})
        agree = sentiment.get("agreement_with_ratings") or {}
        scoring = sentiment.get("scoring") or {}
        cards.append(_facts("Sentiment model", [
            ("Model", f"{card.get('name', model.get('kind', ''))} ({model.get('model_id', '')})"),
            ("Base model", f"{card.get('base_model', {}).get('name', '')} "
                           f"({card.get('base_model', {}).get('licence', '')})" if card.get("base_model") else ""),
            ("Architecture", card.get("architecture", "")),
            ("Training data", card.get("training_data", "")),
            ("Trained", fmt.date(card["created"]) if card.get("created") else ""),
            ("Hyper-parameters", ", ".join(f"{k} {hp[k]}" for k in ("epochs", "lr", "lora_r", "max_length", "batch_size")
                                           if k in hp)),
            ("Held-out test, negative vs positive",
             f"macro-F1 {fmt.number(test['binary']['macro_f1'], 3)}, accuracy {fmt.percent(test['binary']['accuracy'], 1)} "
             f"({fmt.plural(test['binary']['n'], 'review')})" if test.get("binary") else ""),
            ("Held-out test, title + text joined",
             f"macro-F1 {fmt.number(tt['binary']['macro_f1'], 3)}, accuracy {fmt.percent(tt['binary']['accuracy'], 1)}"
             if (tt := (card.get("metrics") or {}).get("test_split_title_and_text")) else ""),
            ("Held-out test, 3 classes",
             f"macro-F1 {fmt.number(test['three_class']['macro_f1'], 3)} ({fmt.plural(test['three_class']['n'], 'review')})"
             if test.get("three_class") else ""),
            ("Label rule", card.get("label_rule", "")),
            ("This run: agreement with star ratings",
             f"macro-F1 {fmt.number(agree['macro_f1'], 3)}, accuracy {fmt.percent(agree['accuracy'], 1)} on "
             f"{fmt.plural(agree['n'], 'rated review')} ({agree.get('mode', '')})" if agree.get("n") else "no rated reviews"),
            ("This run: share of positive reviews", prior_fact(model.get("prior_adjustment"))),
            ("This run: scoring", f"{fmt.plural(scoring.get('texts'), 'review')}, {fmt.number(scoring.get('cached'))} from the "
                                  f"cache, {fmt.number(scoring.get('texts_per_s'))} reviews/s" if scoring else ""),
        ]))
    segments = results.segments.summary if results.segments else None
    if segments:
        stab, umap, hdb = segments.get("stability") or {}, segments.get("umap") or {}, segments.get("hdbscan") or {}
        cards.append(_facts("Segmentation", [
            ("Mode", {"fit": "fitted on this run's customers", "reuse": "assigned with last month's model"}.get(
                segments.get("mode", ""), segments.get("mode", ""))),
            ("Features", ", ".join(_feature_label(f) for f in segments.get("features", []))),
            ("UMAP", ", ".join(f"{k} {v}" for k, v in umap.items())),
            ("HDBSCAN", ", ".join(f"{k} {v}" for k, v in hdb.items() if k != "raw_noise_share")),
            ("Segments", f"{segments.get('n_segments')} (allowed range {segments.get('segment_range')})"),
            ("Noise", f"{fmt.percent(segments.get('noise_share'), 1)} of customers were unclear and "
                      f"{'assigned to their most likely persona' if segments.get('noise_assigned') else 'left unassigned'}"),
            ("Stability", f"mean ARI {fmt.number(stab['ari_mean'], 2)} (lowest {fmt.number(stab.get('ari_min'), 2)}) over "
                          f"{stab.get('runs')} refits on {fmt.percent(stab.get('subsample_fraction'))} subsamples"
                          if stab.get("ari_mean") is not None else "not measured"),
            ("Seed", str(segments.get("seed", ""))),
        ]))
    drivers = results.drivers
    if drivers and drivers.get("model"):
        m, sampling = drivers["model"], drivers.get("shap_sampling") or {}
        cards.append(_facts("Value model", [
            ("Model", f"{m.get('type')} ({', '.join(f'{k} {v}' for k, v in (m.get('params') or {}).items())})"),
            ("Target", f"{drivers.get('target_label', '')} ({drivers.get('target', '')})"),
            ("Held-out quality", f"R² {fmt.number(m.get('r2_test'), 2)}, mean absolute error "
                                 f"{fmt.currency(m.get('mae_test'))} (predicting the mean: {fmt.currency(m.get('mae_baseline'))})"),
            ("Customers", f"{fmt.number(m.get('n_train'))} to train, {fmt.number(m.get('n_test'))} to test"),
            ("Left out (leakage)", "; ".join(leakage_reason(drivers, x)
                                             for x in (drivers.get("leakage") or {}).get("excluded", []))
             or "nothing"),
            ("SHAP", shap_error_bound(drivers) if sampling.get("error_bound") else sampling.get("method", "")),
            ("SHAP additivity", "holds (max error {:.1e})".format(sampling["additivity"]["max_abs_error"])
             if (sampling.get("additivity") or {}).get("holds") else ""),
        ]))
    gates = results.gates
    if gates:
        cards.append(Table("Quality gates" + ("" if gates.get("passed") else ": FAILED, report held back"),
                           ("Gate", "Result"), tuple(Row((g["name"].replace("_", " "), gate_message(g)))
                                                     for g in gates.get("gates", [])), (False, False)))
    return cards


# --------------------------------------------------------------------------- personas

def slugify(text: str) -> str:
    """``Loyal big-basket buyers, very positive`` -> ``loyal-big-basket-buyers-very-positive``."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "segment"


def _feature_label(name: str) -> str:
    from segment_report.pipeline.stages.drivers import feature_label

    return feature_label(name)


def _sentiment_words(z: float | None) -> str:
    if z is None:
        return "no reviews"
    if z >= 1:
        return "much more positive than average"
    if z >= 0.5:
        return "more positive than average"
    if z <= -1:
        return "much more critical than average"
    if z <= -0.5:
        return "more critical than average"
    return "about average"


def _lift(value: float | None) -> str:
    return f"{value:.1f}×" if value is not None else fmt.MISSING


MONEY_FEATURES = ("monetary", "avg_order_value")
FLAG_FEATURES = ("is_us", "sentiment_missing", "was_noise")


def feature_values(feature: str, *values: Any) -> tuple[str, ...]:
    """Display a feature's values alike: money in dollars, shares as percentages, counts whole
    (3 vs 4 orders, not 3.00 vs 4.00), scores with two decimals."""
    if feature in MONEY_FEATURES:
        return tuple(fmt.currency(v) for v in values)
    if feature.startswith(("cat_share_", "top_category=", "gender=", "income_band=")) or feature in FLAG_FEATURES:
        return tuple(fmt.percent(v) for v in values)
    whole = all(isinstance(v, (int, float)) and float(v).is_integer() for v in values if v is not None)
    big = any(abs(v) >= 10 for v in values if isinstance(v, (int, float)))
    return tuple(fmt.number(v, 0 if whole or big else 2) for v in values)


def persona_views(segments: dict[str, Any], drivers: dict[str, Any] | None,
                  reviews: Any = None, customers: Any = None,
                  clv: dict[int, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """Display values for every persona: card facts, profile table, drivers, quotes, actions,
    and its churn risk and lifetime value (``clv``: :func:`clv_view`'s ``by_segment``; None
    without CLV results)."""
    from segment_report.reports.actions import persona_actions

    population = segments.get("summary")
    value_drivers = {s["segment_id"]: s for s in (drivers or {}).get("segments", []) or []}
    membership = {m["segment_id"]: m for m in ((drivers or {}).get("membership") or {}).get("models", [])}
    out = []
    for seg in segments.get("segments", []):
        prof = seg["profile"]
        spend, senti, stab = prof["spend"], prof["sentiment"], seg["stability"]
        slug = f"{seg['id']}-{slugify(seg['name'])}"
        rows, key_rows = [], []
        for feat, vals in prof["features"].items():
            # category shares have their own table; the median of a yes/no flag says nothing
            if feat.startswith("cat_share_") or feat in FLAG_FEATURES or vals.get("median") is None:
                continue
            rows.append(Row((_feature_label(feat),
                             *feature_values(feat, vals["median"], vals.get("population_median")),
                             f"{round(vals['z'], 2) + 0.0:+.2f}" if vals.get("z") is not None else fmt.MISSING)))
            if feat in ("recency_days", "frequency", "monetary", "avg_order_value", "items_per_order",
                        "tenure_days", "age"):
                # the persona PDF's shorter profile; sentiment has its own figures there (the
                # medians of imputed sentiment columns equal everyone's and would mislead)
                key_rows.append(rows[-1])
        cats = tuple(Row((c["category"].title(), fmt.percent(c["mean_share"]), fmt.percent(c["population_share"]),
                          _lift(c.get("lift")))) for c in prof.get("top_categories", [])[:5])
        states = tuple(Row((s["name"], fmt.number(s["count"]), fmt.percent(s["share"]), _lift(s.get("lift"))))
                       for s in prof.get("top_states", [])[:5])
        vd = value_drivers.get(seg["id"], {}).get("drivers", [])[:5]
        value_rows = tuple(Row((d["label"], fmt.signed_currency(d["mean_shap"]))) for d in vd)
        md = membership.get(seg["id"], {}).get("features", [])[:5]
        member_rows = tuple(Row((d["label"], d.get("direction", ""),
                                 *feature_values(d.get("feature", ""), d.get("segment_value"), d.get("rest_value"))))
                            for d in md)
        quotes = []
        if reviews is not None and customers is not None and "positive_prob" in reviews.columns:
            ids = set(customers.loc[customers["segment_id"] == seg["id"], "customer_id"])
            mine = reviews[reviews["customer_id"].isin(ids) & reviews["text"].notna()
                           & reviews["text"].str.len().between(40, 400)].sort_values("review_id")
            for label in ("positive", "negative"):
                pick = mine[mine["label"] == label].head(1)
                for text in pick["text"]:
                    quotes.append({"label": label, "text": text})
        out.append({
            "id": seg["id"], "name": seg["name"], "slug": slug, "href": f"segments/{slug}.html",
            "clv": (clv or {}).get(seg["id"]),
            "size": fmt.plural(seg["size"], "customer"), "count": fmt.number(seg["size"]),
            "share": fmt.percent(seg["share"]), "spend_share_value": spend["share_of_total"],
            "spend_share": fmt.percent(spend["share_of_total"]),
            "median_spend": fmt.currency(spend["median_monetary"]),
            "median_aov": fmt.currency(spend["median_avg_order_value"]),
            "sentiment": fmt.number(senti.get("mean_positive_prob"), 2),
            "sentiment_words": _sentiment_words(senti.get("z")),
            "reviewers": fmt.percent(senti.get("share_with_reviews")),
            "confidence": stab.get("confidence") or "low",
            "stability": (f"bootstrap Jaccard {fmt.number(stab['jaccard_mean'], 2)} "
                          f"(lowest {fmt.number(stab.get('jaccard_min'), 2)})")
            if stab.get("jaccard_mean") is not None else "not measured (too few customers)",
            "description": seg["description"],
            "one_liner": (f"{seg['name']}: {fmt.plural(seg['size'], 'customer')} ({fmt.percent(seg['share'])}), "
                          f"{fmt.percent(spend['share_of_total'])} of spend, median spend "
                          f"{fmt.currency(spend['median_monetary'])}, sentiment {_sentiment_words(senti.get('z'))}"),
            "profile": Table("Profile against all customers", ("Feature", "Segment median", "All customers",
                                                               "Difference (z)"), tuple(rows),
                             (False, True, True, True)),
            "categories": Table("Category mix", ("Category", "Share of spend", "All customers", "Lift"),
                                cats, (False, True, True, True)),
            "states": Table("Largest states", ("State", "Customers", "Share", "Lift"), states,
                            (False, True, True, True)),
            "value_drivers": Table("What drives spend inside this persona (mean SHAP, $ per customer)",
                                   ("Feature", "Mean effect on predicted spend"), value_rows, (False, True)),
            "membership_drivers": Table("What sets this persona apart (top features of a one-vs-rest model)",
                                        ("Feature", "Direction", "This persona (typical)", "Everyone else"),
                                        member_rows, (False, False, True, True)),
            "quotes": quotes,
            "profile_key": Table("Profile against all customers", ("Feature", "Segment median",
                                                                   "All customers", "Difference (z)"),
                                 tuple(key_rows), (False, True, True, True)),
            "actions": [{"text": a.text, "evidence": a.evidence}
                        for a in persona_actions(seg, population, drivers,
                                                 ((clv or {}).get(seg["id"]) or {}).get("attention_evidence", ""))],
            "median_spend_all": fmt.currency(prof["features"].get("monetary", {}).get("population_median")),
            "median_aov_all": fmt.currency(prof["features"].get("avg_order_value", {}).get("population_median")),
            "sentiment_all": fmt.number(senti.get("population_mean_positive_prob"), 2),
        })
    return out


def personas_table(personas: list[dict[str, Any]]) -> Table:
    """One row per persona for overview tables (site and PDF)."""
    return Table("Personas", ("Persona", "Customers", "Share", "Share of spend", "Median spend",
                              "Sentiment", "Confidence"),
                 tuple(Row((p["name"], p["count"], p["share"], p["spend_share"], p["median_spend"],
                            p["sentiment"], p["confidence"])) for p in personas),
                 (False, True, True, True, True, True, False))


# --------------------------------------------------------------------------- drivers

def drivers_view(drivers: dict[str, Any] | None) -> dict[str, Any]:
    """Sentences (written from the findings), model quality, importance table and leakage notes
    of the value model."""
    if not drivers:
        return {"available": False, "narratives": [], "sentences": [], "notes": []}
    sentences = drivers_sentences(drivers)
    model = drivers.get("model") or {}
    rows = tuple(Row((str(g["rank"]), g["label"], fmt.percent(g.get("share"), 1),
                      fmt.currency(g.get("effect")) if g.get("effect") is not None else fmt.MISSING,
                      "within noise" if g.get("within_noise") else (g.get("direction") or "")))
                 for g in drivers.get("global_importance", [])[:10])
    return {
        "available": drivers.get("status") == "ok",
        "status": drivers.get("status"),
        "sentences": sentences,
        "narratives": [s.text for s in sentences],
        "overall": [s.text for s in sentences if s.kind not in ("segment_driver", "membership")],
        "per_segment": [s.text for s in of_kind(sentences, "segment_driver")],
        "membership": [s.text for s in of_kind(sentences, "membership")],
        "r2": fmt.number(model.get("r2_test"), 2),
        "mae": fmt.currency(model.get("mae_test")),
        "n_train": fmt.number(model.get("n_train")),
        "n_test": fmt.number(model.get("n_test")),
        "importance": Table("Drivers of spend (global)", ("Rank", "Feature", "Share of importance",
                                                          "High vs low effect", "Direction"),
                            rows, (True, False, True, True, False)),
        "groups": _driver_groups_table(drivers.get("group_importance", [])),
        "notes": [note_text(n) for n in drivers.get("notes", [])],
    }


def _driver_groups_table(groups: list[dict[str, Any]]) -> Table | None:
    """Driver groups (related measures' SHAP added up), when some group has several measures."""
    if not any(len(g["features"]) > 1 for g in groups):
        return None
    rows = tuple(Row((str(g["rank"]), g["label"], fmt.number(len(g["features"])),
                      fmt.percent(g["share"], 1), "within noise" if g["within_noise"] else "driver"))
                 for g in groups[:10])
    return Table("Drivers with related measures counted together", ("Rank", "Driver", "Measures",
                                                                    "Share of importance", "Verdict"),
                 rows, (True, False, True, True, False))


# --------------------------------------------------------------------------- geography

def geography_view(states: dict[str, Any] | None) -> dict[str, Any]:
    """State table with intervals, spatial statistics and the sentences written from the findings."""
    if not states:
        return {"available": False, "narrative": [], "sentences": []}
    sentences = geography_sentences(states)
    rows = []
    for st in sorted(states["states"], key=lambda s: (s["rank"] is None, s["rank"] or 0, s["name"])):
        if not st["customers"]:
            continue
        interval = (f"{st['ci_low']:.2f}–{st['ci_high']:.2f}" if st.get("ci_low") is not None else fmt.MISSING)
        rows.append(Row((st["name"], fmt.number(st["customers"]), fmt.number(st["reviewers"]),
                         fmt.number(st.get("mean_positive_prob"), 2), interval,
                         fmt.number(st.get("shrunk_positive_prob"), 2),
                         "insufficient data" if st["insufficient_data"] else (st.get("lisa_class") or ""),
                         str(st["rank"]) if st["rank"] is not None else "–")))
    spatial = states.get("spatial", {})
    return {
        "available": True,
        "sentences": sentences,
        "narrative": [s.text for s in sentences],
        "table": Table("Sentiment by state (states with customers; those with too little data are marked)",
                       ("State", "Customers", "Reviewers", "Mean", "95% interval", "Shrunk estimate",
                        "Spatial cluster", "Rank"), tuple(rows),
                       (False, True, True, True, True, True, False, True)),
        "spatial_note": (f"Spatial autocorrelation across states: global Moran's I {fmt.number(spatial['moran_i'], 2)} "
                         f"({fmt.pvalue(spatial.get('moran_p'))}, {fmt.significance(spatial.get('moran_p'))})."
                         if spatial.get("moran_i") is not None else "Spatial autocorrelation was not tested "
                         "(too few states with enough data).")
                        + (f" Local clusters: {multiple_testing_text(spatial)}." if spatial.get("alpha") is not None else ""),
    }


# --------------------------------------------------------------------------- month over month

def _change_words(rel: float | None, up: str = "up", down: str = "down") -> str:
    if rel is None:
        return "unchanged"
    if abs(rel) < 0.005:
        return "about unchanged"
    return f"{up if rel > 0 else down} {fmt.percent(abs(rel), 1 if abs(rel) < 0.1 else 0)}"


def _change_to(rel: float | None, value: str, up: str = "up", down: str = "down") -> str:
    """``up 4.2% to $1,200`` / ``about unchanged at $1,200``."""
    words = _change_words(rel, up, down)
    return f"{words} {'at' if words.endswith('unchanged') else 'to'} {value}"


def segments_summary(summary: dict[str, Any]) -> str:
    """One sentence on the segmentation: customers, personas, share that was noise."""
    return (f"{fmt.plural(summary['n_customers'], 'customer')} in {fmt.plural(summary['n_segments'], 'persona')}; "
            f"{fmt.percent(summary.get('noise_share'), 1)} were unclear (noise) and assigned to their most "
            "likely persona.")


def changes_view(changes: dict[str, Any] | None) -> dict[str, Any]:
    """What changed since the previous period: bullets, KPI and persona tables, migration matrix.

    ``available`` is False for a first run (no previous period in the output folder).
    """
    if not changes or not changes.get("previous_period"):
        return {"available": False, "bullets": []}
    prev = fmt.month(changes["previous_period"])
    k = changes["kpis"]
    bullets = [
        f"Revenue {_change_to(k['revenue']['relative'], fmt.currency(k['revenue']['current']))} "
        f"(from {fmt.currency(k['revenue']['previous'])}); active customers "
        f"{_change_to(k['customers']['relative'], fmt.number(k['customers']['current']))}.",
    ]
    mig = changes.get("migration")
    segs = changes.get("segments", [])
    if mig:
        t = mig["totals"]
        stayed_share = t["stayed"] / t["previous_customers"] if t["previous_customers"] else None
        bullets.append(f"{fmt.plural(t['new'], 'new customer')} and {fmt.number(t['lapsed'])} lapsed; "
                       f"{fmt.number(t['stayed'])} of {fmt.number(t['previous_customers'])} "
                       f"({fmt.percent(stayed_share)}) stayed in their persona and {fmt.number(t['moved'])} moved.")
        names = {n["key"]: n["name"] for n in mig["from"] + mig["to"]}
        moves = [f for f in mig["flows"] if f["from"] != f["to"] and f["from"] != "new" and f["to"] != "lapsed"]
        if moves:
            top = moves[0]
            bullets.append(f"Largest move: {fmt.plural(top['customers'], 'customer')} from "
                           f"{names[top['from']]} to {names[top['to']]}.")
    moving = [s for s in segs if s["customers"]["relative"] is not None and abs(s["customers"]["relative"]) >= 0.05]
    if moving:
        s = max(moving, key=lambda s: (abs(s["customers"]["relative"]), -s["segment_id"]))
        size = fmt.plural(s["customers"]["current"], "customer")
        bullets.append(f"{s['name']} {_change_to(s['customers']['relative'], size, 'grew', 'shrank')}; its spend "
                       f"{_change_words(s['spend']['relative'])}.")
    sent = k.get("mean_positive_prob", {})
    if sent.get("delta") is not None:
        bullets.append(f"Review sentiment {fmt.number(sent['current'], 2)} "
                       f"({fmt.delta(sent['delta'], 'number', 2)} from {fmt.number(sent['previous'], 2)}).")

    kpi_labels = (("customers", "Active customers", "number"), ("revenue", "Revenue", "currency"),
                  ("orders", "Orders", "number"), ("avg_order_value", "Average order value", "currency2"),
                  ("reviews", "Reviews", "number"), ("mean_positive_prob", "Review sentiment", "score"))

    def show(value: Any, kind: str) -> str:
        return {"number": lambda v: fmt.number(v), "currency": lambda v: fmt.currency(v),
                "currency2": lambda v: fmt.currency(v, digits=2), "score": lambda v: fmt.number(v, 2)}[kind](value)

    kpi_rows = tuple(Row((label, show(k[key]["current"], kind), show(k[key]["previous"], kind),
                          fmt.delta(k[key]["delta"], "number", 2) if kind == "score"
                          else fmt.delta(k[key]["relative"], "percent", 1)))
                     for key, label, kind in kpi_labels if key in k)
    seg_rows = tuple(Row((s["name"], fmt.number(s["customers"]["current"]), fmt.number(s["customers"]["previous"]),
                          fmt.delta(s["customers"]["delta"]), fmt.delta(s["spend"]["relative"], "percent", 1)))
                     for s in segs)
    out = {
        "available": True, "previous_label": prev, "bullets": bullets,
        "kpis": Table(f"Headline numbers, {prev} → this month", ("Measure", "This month", prev, "Change"),
                      kpi_rows, (False, True, True, True)),
        "segments": Table("Persona sizes (same persona id in both months)",
                          ("Persona", "Customers", prev, "Change", "Spend change"), seg_rows,
                          (False, True, True, True, True)),
        "migration": None, "legend": [],
    }
    if mig:
        codes = {n["key"]: (f"P{n['segment_id']}" if n["segment_id"] is not None else n["name"].split(" ")[0])
                 for n in mig["to"]}
        headers = ("From ↓ / to →", *(codes[n["key"]] for n in mig["to"]), "Total")
        rows = tuple(Row((f"P{n['segment_id']} {n['name']}" if n["segment_id"] is not None else n["name"],
                          *(fmt.number(c) for c in counts), fmt.number(sum(counts))))
                     for n, counts in zip(mig["from"], mig["counts"]))
        col_totals = [sum(col) for col in zip(*mig["counts"])]
        rows += (Row(("Total", *(fmt.number(c) for c in col_totals), fmt.number(sum(col_totals))),),)
        out["migration"] = Table(f"Customers by persona: {prev} (rows) → this month (columns)", headers, rows,
                                 (False, *([True] * (len(headers) - 1))))
        out["legend"] = [f"P{n['segment_id']} = {n['name']}" for n in mig["to"] if n["segment_id"] is not None]
        out["sankey"] = {
            "labels": [n["name"] for n in mig["from"] + mig["to"]],
            "source": [], "target": [], "value": [],
        }
        index_from = {n["key"]: i for i, n in enumerate(mig["from"])}
        index_to = {n["key"]: len(mig["from"]) + i for i, n in enumerate(mig["to"])}
        for f in mig["flows"]:
            out["sankey"]["source"].append(index_from[f["from"]])
            out["sankey"]["target"].append(index_to[f["to"]])
            out["sankey"]["value"].append(f["customers"])
    return out


# --------------------------------------------------------------------------- churn risk and lifetime value

def _clv_group_row(name: str, g: dict[str, Any], with_change: bool) -> Row:
    from segment_report.reports.narrative.clv import change_cells

    cells = (name, fmt.number(g["customers"]), fmt.number(g["at_risk"]), fmt.percent(g["at_risk_share"]),
             fmt.number(g["mean_p_active"], 2), fmt.number(g["expected_orders"]),
             fmt.currency(g["expected_value"]), fmt.currency(g["value_lost_to_risk"]))
    return Row(cells + (change_cells(g.get("change")) if with_change else ()))


def clv_view(clv: Any, previous_label: str = "") -> dict[str, Any]:
    """Churn risk and lifetime value (``results/clv.json``): the per-persona table, the page-1
    lines, the time-split check with what each number means, the methodology paragraph, and
    per persona its sentence (``by_segment``). ``available`` is False for a skipped stage
    (``reason`` says why) and for a run made before the stage existed (``present`` False)."""
    from segment_report.reports.narrative import clv as words

    out: dict[str, Any] = {"present": clv is not None, "available": False, "reason": "", "lead": "",
                           "first_page": [], "table": None, "validation": None, "calibration": None,
                           "caveat": "", "notes": [], "method": words.method_sentences(clv), "by_segment": {},
                           "lead_change": "", "table_note": "", "calibration_caption": "", "attention": None}
    if clv is None or clv.get("status") != "fitted":
        out["reason"] = words.skipped_reason(clv)
        return out
    settings, totals = clv["settings"], clv["totals"]
    versus = previous_label or "last month"
    segments = clv.get("segments") or []
    by_id = {s["segment_id"]: s for s in segments}
    with_change = any(g.get("change") for g in (*segments, totals))
    rows = tuple(_clv_group_row(s["segment_name"], s, with_change) for s in segments)
    rows += (_clv_group_row("All customers", totals, with_change),)
    horizon = fmt.plural(settings["horizon_months"], "month")
    out.update(
        available=True,
        lead=words.totals_sentence(totals, settings),
        lead_change=words.change_sentence(totals.get("change"), versus),
        table=Table(f"Churn risk and expected value per persona over the next {horizon}",
                    ("Persona", "Customers", "At risk", "At-risk share", "Mean p_active", "Expected orders",
                     "Expected value", "Value lost to risk", *(("At-risk change", "Value change") if with_change else ())),
                    rows, (False, True, True, True, True, True, True, True, *((True, True) if with_change else ()))),
        table_note=(f"At risk: customers with a {words.threshold_words(settings)}; at-risk share: their share of the persona. "
                    "Mean p_active: the persona's mean probability of still being active (0–1). Expected orders: "
                    f"purchase days expected over the next {horizon}. Expected value: the customers' CLV added up "
                    "(expected orders × expected order value). Value lost to risk: what they would add if every "
                    "one were certainly still active, less their CLV."
                    + (f" At-risk change and value change: against {versus} (last month's run), the at-risk "
                       "share in percentage points and the expected value in %."
                       if with_change else "")),
        notes=[note_text(n) for n in clv.get("notes", [])],
    )
    attention = by_id.get((clv.get("attention") or {}).get("segment_id"))
    out["first_page"] = [words.value_at_risk_sentence(totals, settings)]
    if attention is not None:
        out["first_page"].append(words.attention_sentence(attention, totals))
    out["attention"] = attention
    v = clv.get("validation")
    if v:
        out["validation"] = Table("How well the models predicted a hold-out period", ("Measure", "Value", "What it means"),
                                  tuple(Row(r) for r in words.validation_rows(v)), (False, True, False))
        out["calibration"] = Table("Calibration by decile of predicted orders (hold-out months)",
                                   ("Decile", "Customers", "Predicted purchase days", "Actual purchase days",
                                    "Relative error", "Predicted spend", "Actual spend"),
                                   tuple(Row((str(r["decile"]), fmt.number(r["customers"]),
                                              fmt.number(r["predicted_orders"], 2), fmt.number(r["actual_orders"], 2),
                                              fmt.percent(r.get("relative_error"), 1),
                                              fmt.currency(r["predicted_spend"]), fmt.currency(r["actual_spend"])))
                                         for r in v.get("calibration", [])),
                                   (True, True, True, True, True, True, True))
        out["calibration_caption"] = words.calibration_caption()
        out["caveat"] = words.VALIDATION_CAVEAT
    for sid, s in by_id.items():
        out["by_segment"][sid] = {"sentence": words.risk_sentence(s, settings),
                                  "change": words.change_sentence(s.get("change"), versus),
                                  "at_risk": fmt.percent(s["at_risk_share"]),
                                  "expected_value": fmt.compact_currency(s["expected_value"]),
                                  "lost": fmt.compact_currency(s["value_lost_to_risk"]),
                                  "horizon": horizon,
                                  "attention_evidence": (words.attention_evidence(s, settings)
                                                         if attention is not None and s is attention else "")}
    return out
