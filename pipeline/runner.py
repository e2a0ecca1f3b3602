"""The pipeline runner: one declared list of stages, each with what it writes into the run folder.

``run_pipeline`` ingests the inputs, resolves the period, runs every stage in order, saves
each stage's results as it finishes and records timings, versions and hashes in
``manifest.json`` and the outcome in ``status.json``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from segment_report.pipeline.changes import compare_periods, previous_run_dir
from segment_report.pipeline.config import Config, config_to_dict, load_config
from segment_report.pipeline.errors import QualityGateError, SegmentReportError
from segment_report.pipeline.features import Window, build_customer_features, resolve_window
from segment_report.pipeline.ingest import IngestResult, ingest
from segment_report.pipeline.log import logger
from segment_report.pipeline.publish import (RunLock, Terminated, remove_if_empty, publish, recover, staging_dir,
                              terminate_on_signals)
from segment_report.pipeline.readers import file_sha256
from segment_report.pipeline.gates import check_gates, gates_document
from segment_report.pipeline.runfolder import (RunFolder, library_versions, read_json, write_csv, write_json,
                                write_parquet)
from segment_report.reports.render import render_run


@dataclass
class RunContext:
    """What the stages share during one run: config, run folder and in-memory artefacts."""

    cfg: Config
    force: bool = False
    folder: RunFolder | None = None
    ingested: IngestResult | None = None
    input_hashes: dict[Path, str] = field(default_factory=dict)  # sha256 per input file, hashed once
    window: Window | None = None
    customers: pd.DataFrame | None = None
    reviews: pd.DataFrame | None = None
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One pipeline step: its name, the function and the run-folder files it writes."""

    name: str
    run: Callable[[RunContext], None]
    writes: tuple[str, ...]


# --------------------------------------------------------------------------- stages
# Each stage reads what earlier stages left in the context and writes its results into the
# staging run folder; heavy libraries are imported inside the stage that needs them.

def _stage_features(ctx: RunContext) -> None:
    assert ctx.ingested is not None and ctx.window is not None and ctx.folder is not None
    ing = ctx.ingested
    ctx.customers = build_customer_features(ing.transactions, ing.customers, ing.reviews, ctx.window)
    reviews = ing.reviews
    in_window = reviews["date"].isna() | ((reviews["date"] > ctx.window.start)
                                          & (reviews["date"] < ctx.window.end + pd.Timedelta(days=1)))
    ctx.reviews = reviews[in_window & reviews["customer_id"].isin(ctx.customers["customer_id"])]
    ctx.reviews = ctx.reviews.reset_index(drop=True)
    logger.info("features: %s customers with an order in %s", f"{len(ctx.customers):,}",
                ctx.window.label)


def _stage_sentiment(ctx: RunContext) -> None:
    from segment_report.pipeline.sentiment import run_sentiment_stage, save_sentiment_result

    assert ctx.customers is not None and ctx.reviews is not None and ctx.folder is not None
    result = run_sentiment_stage(ctx.reviews, ctx.customers["customer_id"], ctx.window.end,
                                 ctx.cfg.sentiment, Path(ctx.cfg.run.out_dir) / ".cache", ctx.cfg.seed,
                                 refresh=ctx.force)
    ctx.reviews = result.reviews
    per_customer = result.customers.drop(columns=["scored_reviews"], errors="ignore")
    ctx.customers = ctx.customers.merge(per_customer, on="customer_id", how="left")
    save_sentiment_result(result, ctx.folder.results)
    ctx.ingested.quality["review_text"] = result.text_quality


def _previous_segment_model(ctx: RunContext) -> tuple[Any, bool]:
    """The model to assign with: ``--reuse-model``, else last month's run's when
    ``segments.reuse_previous`` (refitting with ``--force``). Without reuse, last month's model
    still carries segment ids and names over."""
    from segment_report.pipeline.segments import SegmentModel

    reuse_from = ctx.cfg.segments.reuse_model
    if reuse_from is not None:
        return SegmentModel.load(Path(reuse_from) / "model" / "segments"), True
    previous = previous_run_dir(Path(ctx.cfg.run.out_dir), ctx.window.label) if ctx.window else None
    if previous is not None and (previous / "model" / "segments").exists():
        reuse = ctx.cfg.segments.reuse_previous and not ctx.force
        logger.info("segments: %s %s's model", "assigning with" if reuse else "refitting; ids follow",
                    previous.name)
        return SegmentModel.load(previous / "model" / "segments"), reuse
    return None, False


def _stage_segments(ctx: RunContext) -> None:
    from segment_report.pipeline.segments import save_segments_json, segment_customers

    assert ctx.customers is not None and ctx.folder is not None
    previous, reuse = _previous_segment_model(ctx)
    result = segment_customers(ctx.customers, ctx.cfg.segments, ctx.cfg.seed, previous=previous,
                               reuse=reuse)
    ctx.customers = ctx.customers.merge(result.assignments, on="customer_id", how="left")
    result.model.save(ctx.folder.root / "model" / "segments")
    save_segments_json(result, ctx.folder.result("segments.json"))
    write_csv(ctx.folder.root / "data" / "segments.csv",
              result.assignments[["customer_id", "segment_id", "segment_name", "membership_strength"]])
    logger.info("segments: %d personas", result.summary.get("n_segments", len(result.segments)))


def _stage_drivers(ctx: RunContext) -> None:
    from segment_report.pipeline.stages.drivers import explain_drivers, save_drivers

    assert ctx.customers is not None and ctx.folder is not None
    save_drivers(explain_drivers(ctx.customers, ctx.cfg.drivers, ctx.cfg.seed), ctx.folder.results)


def _stage_geography(ctx: RunContext) -> None:
    from segment_report.pipeline.stages.geography import analyse_geography, save_geography

    assert ctx.customers is not None and ctx.folder is not None
    save_geography(analyse_geography(ctx.customers, ctx.reviews, ctx.cfg.geography, ctx.cfg.seed),
                   ctx.folder.results)


def _stage_changes(ctx: RunContext) -> None:
    assert ctx.customers is not None and ctx.folder is not None and ctx.window is not None
    previous = previous_run_dir(Path(ctx.cfg.run.out_dir), ctx.window.label)
    n_reviews = len(ctx.reviews) if ctx.reviews is not None else 0
    write_json(ctx.folder.result("changes.json"),
               compare_periods(ctx.customers, n_reviews, ctx.window.label, previous))


STAGES: tuple[Stage, ...] = (
    Stage("features", _stage_features, ()),
    Stage("sentiment", _stage_sentiment, ("results/reviews.parquet", "results/sentiment.json",
                                          "results/customer_sentiment.parquet")),
    Stage("segments", _stage_segments, ("results/segments.json", "model/segments/",
                                        "data/segments.csv")),
    Stage("drivers", _stage_drivers, ("results/drivers.json", "results/shap_values.parquet")),
    Stage("geography", _stage_geography, ("results/states.json",)),
    Stage("changes", _stage_changes, ("results/changes.json",)),
)


# --------------------------------------------------------------------------- public API

@dataclass
class RunResult:
    """Outcome of a run: where it is and a one-line summary."""

    run_dir: Path
    customers: int
    seconds: float
    quality: dict[str, Any]
    segments: int = 0
    skipped: bool = False

    def summary(self) -> str:
        """What a person needs after a run: counts, and where to look."""
        t = self.quality["totals"]
        if self.skipped:
            return (f"up to date: {self.run_dir} was made from the same inputs, config and code "
                    "(nothing recomputed; --force re-runs it)")
        lines = [f"run succeeded in {self.seconds:.1f} s: {self.customers:,} customers in "
                 f"{self.segments} personas; {t['rows_kept']:,} of {t['rows_read']:,} rows kept, "
                 f"{t['rows_quarantined']:,} quarantined -> {self.run_dir}"]
        for label, rel in (("analyst site", "site/index.html"), ("executive PDF", "pdf/executive-summary.pdf")):
            if (self.run_dir / rel).exists():
                lines.append(f"  {label}: {self.run_dir / rel}")
        return "\n".join(lines)


@dataclass
class ValidationReport:
    """Outcome of ``validate``: counts and where the quarantine file is."""

    out_dir: Path
    ingested: IngestResult

    def summary(self) -> str:
        """Counts by reason and the files written."""
        q = self.ingested.quality
        lines = [f"validated: {self.ingested.summary()}"]
        for reason, count in q["quarantined_by_reason"].items():
            lines.append(f"  quarantined {count:,} x {reason}: {q['reason_descriptions'].get(reason, '')}")
        lines.append(f"wrote {self.out_dir / 'quarantine.csv'} and {self.out_dir / 'data_quality.json'}")
        return "\n".join(lines)


def _timed(ctx: RunContext, name: str, func: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    logger.debug("%s ...", name)
    out = func()
    ctx.timings[name] = round(time.perf_counter() - start, 3)
    return out


def validate_inputs(cfg: Config) -> ValidationReport:
    """Ingest and validate the inputs only; write quarantine.csv and data_quality.json to
    ``<run.out_dir>/validation/``. No modelling.

    Raises:
        InputDataError / ConfigError: fatal input or configuration problems.
    """
    result = ingest(cfg.input, cfg.privacy)
    out = Path(cfg.run.out_dir) / "validation"
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "quarantine.csv", result.quarantine)
    write_json(out / "data_quality.json", result.quality)
    return ValidationReport(out, result)


def _manifest(ctx: RunContext, started: dt.datetime, wall: float) -> dict[str, Any]:
    assert ctx.ingested is not None and ctx.window is not None
    return {
        "tool": "segment-report",
        "started_at": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "seed": ctx.cfg.seed,
        "period": ctx.window.as_dict(),
        "config": config_to_dict(ctx.cfg),
        "inputs": [{"file": str(p), "sha256": ctx.input_hashes[p], "bytes": p.stat().st_size}
                   for p in ctx.ingested.input_files],
        "row_counts": {**ctx.ingested.quality["totals"],
                       "customers_in_window": int(len(ctx.customers)) if ctx.customers is not None else 0,
                       "reviews": int(len(ctx.ingested.reviews))},
        "stage_seconds": ctx.timings,
        "versions": library_versions(),
        "stages": [{"name": "ingest", "writes": ["quarantine.csv", "results/data_quality.json"]},
                   *({"name": s.name, "writes": list(s.writes)} for s in STAGES),
                   {"name": "all stages", "writes": ["results/customers.parquet"]}],
    }


def _record_failure(final: RunFolder, stage: str, exc: BaseException, log: Path | None) -> None:
    """status.json of the published folder says the latest attempt failed; the report stays."""
    previous = final.root / "manifest.json"
    if isinstance(exc, SegmentReportError):
        reason, code = exc.message, exc.exit_code
    elif isinstance(exc, Terminated):
        reason, code = str(exc), 128 + exc.signum
    elif isinstance(exc, KeyboardInterrupt):
        reason, code = "interrupted", 130
    else:
        reason, code = f"{type(exc).__name__}: {exc}", 1
    final.root.mkdir(parents=True, exist_ok=True)
    final.write_status("failed", stage=stage, reason=reason, exit_code=code, extra={
        "report_kept": "the previous report in this folder is unchanged" if previous.exists()
        else "no report has been published for this period yet",
        "log": str(log) if log else None})


def _fingerprint(ctx: RunContext) -> str:
    """Hash of what determines a run's outputs: inputs, config (less the e-mail settings), tool
    version, period and the previous period's run (whose model and numbers this run builds on)."""
    import hashlib
    import json

    from segment_report.pipeline import __version__

    assert ctx.ingested is not None and ctx.window is not None
    previous = previous_run_dir(Path(ctx.cfg.run.out_dir), ctx.window.label)
    prev_print = read_json(previous / "manifest.json").get("fingerprint") if previous else None
    config = {k: v for k, v in config_to_dict(ctx.cfg).items() if k != "email"}  # delivery only
    # input files count by content (hashed above), not by where they are; nor does out_dir
    config["run"].pop("out_dir")
    for section in (config["input"], *(t for t in config["input"].values() if isinstance(t, dict))):
        section.pop("path", None)
    # the keyed hash of customer ids depends on the salt, which config_to_dict masks
    salt = ctx.cfg.privacy.salt or os.environ.get(ctx.cfg.privacy.salt_env, "")
    config["privacy"]["salt"] = hashlib.sha256(salt.encode()).hexdigest() if ctx.cfg.privacy.hash_customer_ids else None
    doc = {"inputs": [ctx.input_hashes[p] for p in ctx.ingested.input_files], "config": config,
           "version": __version__, "window": ctx.window.as_dict(), "previous": prev_print,
           "sentiment_model": _model_digest(ctx.cfg.sentiment.model)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _model_digest(spec: str) -> str:
    """What the sentiment model's weights are, so a new model is not taken for up to date."""
    from segment_report.pipeline.sentiment import SHIPPED_MODEL_DIR

    folder = SHIPPED_MODEL_DIR if spec.strip().lower() in ("default", "shipped") else Path(spec).expanduser()
    if not folder.is_dir():
        return spec  # vader: its version is part of the tool's dependencies
    return ",".join(f"{p.name}:{file_sha256(p)}" for p in sorted(folder.iterdir()) if p.is_file())


def _up_to_date(final: RunFolder, fingerprint: str) -> bool:
    """The published run of this period was made from the same inputs, config and code (a run
    whose only failure was the e-mail counts: its report is complete)."""
    if not (final.manifest.exists() and final.status.exists()):
        return False
    status = read_json(final.status)
    complete = (status.get("state") in ("succeeded", "held")
                or (status.get("state") == "failed" and status.get("stage") == "email"))
    return complete and read_json(final.manifest).get("fingerprint") == fingerprint


def run_pipeline(cfg: Config, force: bool = False, email: bool = False,
                 recipients: tuple[str, ...] = ()) -> RunResult:
    """Run every stage for the configured period, publish the run folder, check the quality
    gates and (with ``email``) send the executive PDF.

    The run is built in ``<out>/.staging/`` and swapped into ``<out>/<period>/`` only when every
    stage succeeded; a lock allows one run per period at a time. A failed or killed run leaves
    the published report untouched and records the failure in its ``status.json``. When the
    published run of the period was made from the same inputs, config and code, nothing is
    recomputed unless ``force`` (which also re-scores cached reviews and refits the segments
    instead of reusing last month's model).

    Returns:
        A :class:`RunResult` naming the run folder.

    Raises:
        SegmentReportError: bad inputs or configuration (exit 2), a concurrent run, and other
            expected failures.
        QualityGateError: a quality gate failed (exit 3); the report is published, marked held
            and not e-mailed.
        DeliveryError: the e-mail could not be sent (exit 4).
    """
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    ctx = RunContext(cfg, force=force)
    ctx.ingested = _timed(ctx, "ingest", lambda: ingest(cfg.input, cfg.privacy))
    ctx.input_hashes = {p: file_sha256(p) for p in ctx.ingested.input_files}
    ctx.window = resolve_window(ctx.ingested.transactions["date"], cfg.run.period, cfg.run.lookback_months)
    out, label = Path(cfg.run.out_dir), ctx.window.label
    final = RunFolder(out / label)
    with RunLock(out, label), terminate_on_signals():
        recover(out, label)
        fingerprint = _fingerprint(ctx)
        if not force and _up_to_date(final, fingerprint):
            logger.info("%s is up to date (same inputs, config and code); nothing recomputed "
                        "(--force re-runs it)", final.root)
            result = _existing_result(final, time.perf_counter() - t0)
        else:
            result = _run_stages(ctx, final, started, t0, fingerprint)
    _finish_gates_and_email(cfg, final, email, recipients)
    return result


def _existing_result(final: RunFolder, seconds: float) -> RunResult:
    manifest = read_json(final.manifest)
    segments = read_json(final.result("segments.json")) if final.result("segments.json").exists() else {}
    return RunResult(final.root, manifest["row_counts"]["customers_in_window"], seconds,
                     read_json(final.result("data_quality.json")),
                     len(segments.get("segments", [])), skipped=True)


def _run_stages(ctx: RunContext, final: RunFolder, started: dt.datetime, t0: float,
                fingerprint: str) -> RunResult:
    """Build the run in a staging folder and publish it; on any failure record it and re-raise."""
    assert ctx.ingested is not None and ctx.window is not None
    cfg, out, label = ctx.cfg, Path(ctx.cfg.run.out_dir), ctx.window.label
    ctx.folder = RunFolder(staging_dir(out, label)).create()
    handler = logging.FileHandler(ctx.folder.log, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    stage_name = "ingest"
    try:
        final.root.mkdir(parents=True, exist_ok=True)
        final.write_status("running", stage=stage_name, extra={"pid": os.getpid()})
        write_csv(ctx.folder.quarantine, ctx.ingested.quarantine)
        logger.info("ingest: %s", ctx.ingested.summary())
        for stage in STAGES:
            stage_name = stage.name
            final.write_status("running", stage=stage_name, extra={"pid": os.getpid()})
            _timed(ctx, stage.name, lambda: stage.run(ctx))
        # Written once, after every stage added its columns and counts (a failed run's
        # staging folder is discarded, so intermediate copies would serve nobody).
        write_parquet(ctx.folder.result("customers.parquet"), ctx.customers)
        write_json(ctx.folder.result("data_quality.json"), ctx.ingested.quality)
        gates = gates_document(check_gates(cfg.gates, _result_documents(ctx.folder)))
        write_json(ctx.folder.result("gates.json"), gates)
        manifest = {**_manifest(ctx, started, time.perf_counter() - t0), "fingerprint": fingerprint}
        write_json(ctx.folder.manifest, manifest)
        stage_name = "reports"
        final.write_status("running", stage=stage_name, extra={"pid": os.getpid()})
        _timed(ctx, "reports", lambda: render_run(ctx.folder.root, cfg.reports.formats))
        wall = time.perf_counter() - t0
        write_json(ctx.folder.manifest, {**_manifest(ctx, started, wall), "fingerprint": fingerprint})
        if gates["passed"]:
            ctx.folder.write_status("succeeded", exit_code=0, extra={"gates": gates})
        else:
            ctx.folder.write_status("held", stage="gates", reason=gates["reason"], exit_code=3,
                                    extra={"gates": gates})
        logger.removeHandler(handler)
        handler.close()
        publish(ctx.folder.root, out, label)
    except BaseException as exc:
        logger.removeHandler(handler)
        handler.close()
        kept_log = out / ".logs" / f"{label}-{started:%Y%m%dT%H%M%S}.log"
        kept_log.parent.mkdir(parents=True, exist_ok=True)
        if ctx.folder.log.exists():
            shutil.move(ctx.folder.log, kept_log)
        shutil.rmtree(ctx.folder.root, ignore_errors=True)
        remove_if_empty(ctx.folder.root.parent)
        _record_failure(final, stage_name, exc, kept_log)
        raise
    n_segments = int(ctx.customers["segment_id"].nunique()) if "segment_id" in ctx.customers else 0
    return RunResult(final.root, len(ctx.customers), wall, ctx.ingested.quality, n_segments)


def _result_documents(folder: RunFolder) -> dict[str, Any]:
    return {p.stem: read_json(p) for p in folder.results.glob("*.json")}


def _finish_gates_and_email(cfg: Config, final: RunFolder, email: bool, recipients: tuple[str, ...]) -> None:
    """Mark a run that failed a gate as held (exit 3, nothing sent); otherwise send if asked."""
    gates = read_json(final.result("gates.json")) if final.result("gates.json").exists() else {"passed": True}
    if not gates["passed"]:
        final.write_status("held", stage="gates", reason=gates["reason"], exit_code=3, extra={
            "gates": gates, "email": "not sent: a quality gate failed" if email else "not requested"})
        raise QualityGateError(f"report held back: {gates['reason']}",
                               fix=f"the report is published in {final.root} for review; fix the data or "
                                   "relax the gates in the config's 'gates' section, then run again")
    if not email:
        return
    from segment_report.reports.email import deliver

    try:
        done = deliver(final.root, cfg.email, recipients)
    except SegmentReportError as exc:
        final.write_status("failed", stage="email", reason=exc.message, exit_code=exc.exit_code, extra={
            "gates": gates, "report_kept": "this period's report is published; only the e-mail failed"})
        raise
    logger.info("%s", done)
    final.write_status("succeeded", exit_code=0, extra={
        "gates": gates, "email": done,
        "emailed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})


def run_demo(out_dir: Path, n_transactions: int = 20_000, seed: int = 42,
             overrides: dict[str, Any] | None = None) -> RunResult:
    """Generate the default synthetic dataset into ``out_dir/data`` and run the pipeline on it
    for its last two months, so the last month's report shows what changed; returns the last
    month's result. ``overrides`` are dotted config keys (e.g. ``{"sentiment.model": "vader"}``)."""
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    out_dir = Path(out_dir)
    gen = GenerateConfig(n_transactions=n_transactions, seed=seed)
    data = generate_dataset(gen, out_dir / "data")
    logger.info("demo data: %s", data.summary())
    last = pd.Period(gen.end_date, freq="M")
    overrides = {**(overrides or {}), "run.out_dir": str(out_dir), "seed": seed}
    logger.info("demo: running %s first, so that the %s report can show what changed", last - 1, last)
    run_pipeline(load_config(data.config_file, {**overrides, "run.period": str(last - 1)}))
    return run_pipeline(load_config(data.config_file, {**overrides, "run.period": str(last)}))
