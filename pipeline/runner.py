"""The pipeline runner: the stages declared once, as data, with what each reads and writes.

``run_pipeline`` ingests the inputs, resolves the period, asks the store for what the stages
need from earlier runs (last month's results and segment model), runs every stage in order on
named in-memory artefacts, then the store writes every artefact that has a place in the run
folder (``store.ARTEFACT_FILES``) and records timings, versions and hashes in
``manifest.json`` and the outcome in ``status.json``. Stages do no I/O.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segment_report.pipeline.config import Config, config_to_dict, load_config
from segment_report.pipeline.errors import (QualityGateError, SegmentReportError, is_disk_error,
                                            os_error_to_input_error,
                                            os_errors_as)
from segment_report.pipeline.engine import Executor, open_executor
from segment_report.pipeline.stages.features import (build_customer_features, build_features_partitioned,
                                                     resolve_window)
from segment_report.pipeline.stages.ingest.stage import IngestResult, ingest
from segment_report.pipeline.io.geometry import load_regions
from segment_report.pipeline.io.publish import (RunLock, Terminated, publish, recover, remove_if_empty,
                                                staging_dir, terminate_on_signals)
from segment_report.pipeline.io.store import (RunFolder, library_versions, load_previous_run,
                                              previous_run_dir, read_json, save_artefacts, write_csv,
                                              write_json)
from segment_report.pipeline.log import logger
from segment_report.reports.narrative.gates import gates_reason
from segment_report.pipeline.stages.ingest.readers import file_sha256

Artefacts = dict[str, Any]


@dataclass(frozen=True)
class Stage:
    """One pipeline step: a function of the run's config and the artefacts it ``reads`` that
    returns exactly the artefacts it ``writes`` (names in the run's artefact table)."""

    name: str
    run: Callable[..., Artefacts]
    reads: tuple[str, ...]
    writes: tuple[str, ...]


# --------------------------------------------------------------------------- stages
# Thin adapters from named artefacts to each stage's own function; heavy libraries are
# imported inside the stage that needs them.

def _features(cfg: Config, transactions: pd.DataFrame, customer_records: pd.DataFrame,
              review_records: pd.DataFrame, window: Any, executor: Executor) -> Artefacts:
    if executor.slots > 1:  # slices of customers, two per worker thread so that none waits long
        customers = build_features_partitioned(executor, transactions, customer_records, review_records,
                                               window, 2 * executor.slots)
    else:
        customers = build_customer_features(transactions, customer_records, review_records, window)
    dated = review_records["date"]
    in_window = dated.isna() | ((dated > window.start) & (dated < window.end + pd.Timedelta(days=1)))
    reviews = review_records[in_window & review_records["customer_id"].isin(customers["customer_id"])]
    logger.info("features: %s customers with an order in %s", f"{len(customers):,}", window.label)
    return {"customers": customers, "reviews": reviews.reset_index(drop=True)}


def _sentiment(cfg: Config, customers: pd.DataFrame, reviews: pd.DataFrame, window: Any,
               sentiment_state: Any, data_quality: dict[str, Any], executor: Executor) -> Artefacts:
    from segment_report.pipeline.stages.sentiment.stage import run_sentiment_stage

    result = run_sentiment_stage(reviews, customers["customer_id"], window.end, cfg.sentiment,
                                 sentiment_state.scores, cfg.seed, refresh=sentiment_state.refresh,
                                 work_dir=sentiment_state.folder, executor=executor)
    per_customer = result.customers.drop(columns=["scored_reviews"], errors="ignore")
    return {"customers": customers.merge(per_customer, on="customer_id", how="left"),
            "reviews": result.reviews, "customer_sentiment": result.customers,
            "sentiment": {**result.report, "text_quality": result.text_quality},
            "data_quality": {**data_quality, "review_text": result.text_quality}}


def _segments(cfg: Config, customers: pd.DataFrame, previous_segment_model: Any, executor: Executor) -> Artefacts:
    from segment_report.pipeline.stages.segments.stage import segment_customers

    previous, reuse = previous_segment_model
    result = segment_customers(customers, cfg.segments, cfg.seed, previous=previous, reuse=reuse,
                               executor=executor)
    logger.info("segments: %d personas", result.summary.get("n_segments", len(result.segments)))
    return {"customers": customers.merge(result.assignments, on="customer_id", how="left"),
            "segment_model": result.model, "segments": result.to_json(),
            "segment_assignments": result.assignments[["customer_id", "segment_id", "segment_name",
                                                       "membership_strength"]]}


def _drivers(cfg: Config, customers: pd.DataFrame, executor: Executor) -> Artefacts:
    from segment_report.pipeline.stages.drivers import explain_drivers

    result = explain_drivers(customers, cfg.drivers, cfg.seed, executor)
    return {"drivers": result.report, "shap_values": result.shap}


def _clv(cfg: Config, customers: pd.DataFrame, transactions: pd.DataFrame, window: Any,
         previous_run: Any, segment_assignments: pd.DataFrame) -> Artefacts:
    from segment_report.pipeline.stages.clv import estimate_clv
    from segment_report.pipeline.stages.clv.stage import SCORE_COLUMNS

    result = estimate_clv(transactions, customers[["customer_id", "segment_id", "segment_name"]], window.end,
                          cfg.clv, cfg.seed, previous_run.customers if previous_run is not None else None)
    logger.info("clv: %s", result.doc["status"])
    scores = result.scores.astype({c: "float64" for c in SCORE_COLUMNS})
    return {"customers": customers.merge(scores, on="customer_id", how="left"),
            "segment_assignments": segment_assignments.merge(scores, on="customer_id", how="left"),
            "clv": result.doc}


def _geography(cfg: Config, customers: pd.DataFrame, reviews: pd.DataFrame, regions: Any) -> Artefacts:
    from segment_report.pipeline.stages.geography import analyse_geography

    return {"states": analyse_geography(customers, reviews, cfg.geography, cfg.seed, regions).report}


def _changes(cfg: Config, customers: pd.DataFrame, reviews: pd.DataFrame, window: Any,
             previous_run: Any) -> Artefacts:
    from segment_report.pipeline.stages.changes import compare_periods

    return {"changes": compare_periods(customers, len(reviews), window.label, previous_run)}


def _gates(cfg: Config, **documents: Any) -> Artefacts:
    from segment_report.pipeline.stages.gates import check_gates, gates_document

    return {"gates": gates_document(check_gates(cfg.gates, documents))}


#: What the runner hands the stages before the first one runs (see ``_inputs``).
INPUTS: tuple[str, ...] = ("transactions", "customer_records", "review_records", "quarantine", "data_quality",
                           "window", "sentiment_state", "previous_segment_model", "previous_run", "regions",
                           "executor")

STAGES: tuple[Stage, ...] = (
    Stage("features", _features, ("transactions", "customer_records", "review_records", "window", "executor"),
          ("customers", "reviews")),
    Stage("sentiment", _sentiment, ("customers", "reviews", "window", "sentiment_state", "data_quality",
                                    "executor"),
          ("customers", "reviews", "customer_sentiment", "sentiment", "data_quality")),
    Stage("segments", _segments, ("customers", "previous_segment_model", "executor"),
          ("customers", "segment_model", "segments", "segment_assignments")),
    Stage("drivers", _drivers, ("customers", "executor"), ("drivers", "shap_values")),
    # after drivers: the value model must not see the CLV columns (they predict spend)
    Stage("clv", _clv, ("customers", "transactions", "window", "previous_run", "segment_assignments"),
          ("customers", "segment_assignments", "clv")),
    Stage("geography", _geography, ("customers", "reviews", "regions"), ("states",)),
    Stage("changes", _changes, ("customers", "reviews", "window", "previous_run"), ("changes",)),
    Stage("gates", _gates, ("data_quality", "sentiment", "segments", "drivers", "changes"), ("gates",)),
)


@dataclass(frozen=True)
class SentimentState:
    """What the sentiment stage keeps between runs, opened by the runner: the score cache (None
    when ``sentiment.cache`` is off), the folder a fine-tuned model goes to, and whether to
    ignore cached scores (``--force``)."""

    scores: Any
    folder: Path
    refresh: bool = False


def _previous_segment_model(cfg: Config, label: str, force: bool) -> tuple[Any, bool]:
    """The model to assign with: ``--reuse-model``, else last month's run's when
    ``segments.reuse_previous`` (refitting with ``--force``). Without reuse, last month's model
    still carries segment ids and names over."""
    from segment_report.pipeline.stages.segments.model import SegmentModel

    if cfg.segments.reuse_model is not None:
        return SegmentModel.load(Path(cfg.segments.reuse_model) / "model" / "segments"), True
    previous = previous_run_dir(Path(cfg.run.out_dir), label)
    if previous is not None and (previous / "model" / "segments").exists():
        reuse = cfg.segments.reuse_previous and not force
        logger.info("segments: %s %s's model", "assigning with" if reuse else "refitting; ids follow",
                    previous.name)
        return SegmentModel.load(previous / "model" / "segments"), reuse
    return None, False


def _run_stages(cfg: Config, data: Artefacts, timings: dict[str, float],
                on_stage: Callable[[str], None]) -> Artefacts:
    """Run every stage on the artefacts; each gets exactly what it reads and must return what
    it writes."""
    for stage in STAGES:
        on_stage(stage.name)
        start = time.perf_counter()
        out = stage.run(cfg, **{name: data[name] for name in stage.reads})
        if set(out) != set(stage.writes):
            raise AssertionError(f"stage {stage.name} returned {sorted(out)}, declared {sorted(stage.writes)}")
        data.update(out)
        timings[stage.name] = round(time.perf_counter() - start, 3)
    return data


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


def validate_inputs(cfg: Config) -> ValidationReport:
    """Ingest and validate the inputs only; write quarantine.csv and data_quality.json to
    ``<run.out_dir>/validation/``. No modelling.

    Raises:
        InputDataError / ConfigError: fatal input or configuration problems.
        OutputError: the output folder cannot be written.
    """
    with open_executor(cfg) as executor:
        result = ingest(cfg.input, cfg.privacy, executor)
    out = Path(cfg.run.out_dir) / "validation"
    with os_errors_as("cannot create the output folder", role="output", path=out):
        out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "quarantine.csv", result.quarantine, cfg.run.spreadsheet_safe_csv)
    write_json(out / "data_quality.json", result.quality)
    return ValidationReport(out, result)


@dataclass
class _Run:
    """What one run knows before its stages: config, ingested inputs, their hashes, the window."""

    cfg: Config
    force: bool
    ingested: IngestResult
    window: Any
    timings: dict[str, float]
    executor: Executor

    @property
    def out(self) -> Path:
        return Path(self.cfg.run.out_dir)


def _manifest(run: _Run, data: Artefacts, started: dt.datetime, wall: float, fingerprint: str) -> dict[str, Any]:
    customers = data.get("customers")
    return {
        "tool": "segment-report",
        "started_at": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "seed": run.cfg.seed,
        "period": run.window.as_dict(),
        "config": config_to_dict(run.cfg),
        "inputs": run.ingested.inputs,
        "row_counts": {**run.ingested.quality["totals"],
                       "customers_in_window": int(len(customers)) if customers is not None else 0,
                       "reviews": int(len(run.ingested.reviews))},
        "stage_seconds": run.timings,
        "engine": run.executor.describe(),
        "versions": library_versions(),
        "stages": [{"name": "ingest", "reads": ["input files"],
                    "writes": ["transactions", "customer_records", "review_records", "quarantine", "data_quality"]},
                   *({"name": s.name, "reads": list(s.reads), "writes": list(s.writes)} for s in STAGES)],
        "fingerprint": fingerprint,
    }


def _output_error(exc: BaseException, out: Path) -> SegmentReportError | None:
    """The exit-2 error for an OS error while writing the run: a full, read-only or failing disk
    anywhere, or any OS error on a path inside the output folder. Other errors are left alone
    (an OS error elsewhere, e.g. on a file shipped with segment-report, is a bug: exit 1)."""
    if not isinstance(exc, OSError):
        return None
    inside = False
    if exc.filename is not None:
        try:
            inside = Path(os.fsdecode(exc.filename)).resolve().is_relative_to(Path(out).resolve())
        except (OSError, ValueError):
            inside = False
    if not (inside or is_disk_error(exc)):
        return None
    where = "" if exc.filename is None else f" into the output folder {out}"  # else it is the file named
    return os_error_to_input_error(exc, f"cannot write the run{where}", role="output", path=out)


def _keep_log(staging: RunFolder, kept: Path) -> Path | None:
    """Move a failed run's log to ``kept`` (``<out>/.logs/``); ``None`` when that fails too
    (e.g. the disk is full or read-only), so the original error is the one reported."""
    if not staging.log.exists():
        return None
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging.log, kept)
    except OSError as exc:
        logger.warning("could not keep the failed run's log in %s: %s", kept.parent, exc.strerror)
        return None
    return kept


def _record_failure(final: RunFolder, stage: str, exc: BaseException, log: Path | None) -> None:
    """status.json of the published folder says the latest attempt failed; the report stays.

    When the disk is full or read-only this is not possible: a warning is logged, the
    previous status.json is left as it was, and the original error is the one reported.
    """
    try:
        _write_failure(final, stage, exc, log)
    except (OSError, SegmentReportError) as problem:
        logger.warning("could not record the failed run in %s: %s", final.status,
                       problem.message if isinstance(problem, SegmentReportError) else problem)


def _write_failure(final: RunFolder, stage: str, exc: BaseException, log: Path | None) -> None:
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


def _fingerprint(run: _Run) -> str:
    """Hash of what determines a run's outputs: inputs, config (less the e-mail settings), tool
    version, period and the previous period's run (whose model and numbers this run builds on)."""
    import hashlib
    import json

    from segment_report.pipeline import __version__

    previous = previous_run_dir(run.out, run.window.label)
    prev_print = read_json(previous / "manifest.json").get("fingerprint") if previous else None
    # e-mail is delivery only; the engine changes where the work runs, not its outputs
    config = {k: v for k, v in config_to_dict(run.cfg).items() if k not in ("email", "engine", "dask")}
    # input files count by content (hashed above), not by where they are; nor does out_dir
    config["run"].pop("out_dir")
    for section in (config["input"], *(t for t in config["input"].values() if isinstance(t, dict))):
        section.pop("path", None)
    # the keyed hash of customer ids depends on the salt, which config_to_dict masks
    privacy = run.cfg.privacy
    salt = privacy.salt or os.environ.get(privacy.salt_env, "")
    config["privacy"]["salt"] = hashlib.sha256(salt.encode()).hexdigest() if privacy.hash_customer_ids else None
    doc = {"inputs": [f["sha256"] for f in run.ingested.inputs], "config": config,
           "version": __version__, "window": run.window.as_dict(), "previous": prev_print,
           "sentiment_model": _model_digest(run.cfg.sentiment.model)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _model_digest(spec: str) -> str:
    """What the sentiment model's weights are, so a new model is not taken for up to date."""
    from segment_report.pipeline.stages.sentiment.model import SHIPPED_MODEL_DIR

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
    timings: dict[str, float] = {}
    with open_executor(cfg) as executor:
        ingested = ingest(cfg.input, cfg.privacy, executor)
        timings["ingest"] = round(time.perf_counter() - t0, 3)
        window = resolve_window(ingested.transactions["date"], cfg.run.period, cfg.run.lookback_months)
        run = _Run(cfg, force, ingested, window, timings, executor)
        final = RunFolder(run.out / window.label)
        with RunLock(run.out, window.label), terminate_on_signals():
            recover(run.out, window.label)
            fingerprint = _fingerprint(run)
            if not force and _up_to_date(final, fingerprint):
                logger.info("%s is up to date (same inputs, config and code); nothing recomputed "
                            "(--force re-runs it)", final.root)
                result = _existing_result(final, time.perf_counter() - t0)
            else:
                result = _build_and_publish(run, final, started, t0, fingerprint)
    _finish_gates_and_email(cfg, final, email, recipients)
    return result


def _existing_result(final: RunFolder, seconds: float) -> RunResult:
    manifest = read_json(final.manifest)
    segments = read_json(final.result("segments.json")) if final.result("segments.json").exists() else {}
    return RunResult(final.root, manifest["row_counts"]["customers_in_window"], seconds,
                     read_json(final.result("data_quality.json")),
                     len(segments.get("segments", [])), skipped=True)


def _cache_dir(run: _Run) -> Path:
    """The persistent cache folder: ``sentiment.cache_dir``, else ``<out>/.cache``."""
    configured = run.cfg.sentiment.cache_dir
    return Path(configured) if configured is not None else run.out / ".cache"


def _inputs(run: _Run, scores: Any) -> Artefacts:
    """The artefacts the stages start from: the ingested tables, and what the store holds of
    earlier runs (``scores``: the open sentiment score cache)."""
    cfg, label = run.cfg, run.window.label
    ing = run.ingested
    data = {"transactions": ing.transactions, "customer_records": ing.customers,
            "review_records": ing.reviews, "quarantine": ing.quarantine, "data_quality": ing.quality,
            "window": run.window,
            "sentiment_state": SentimentState(scores, _cache_dir(run), refresh=run.force),
            "previous_segment_model": _previous_segment_model(cfg, label, run.force),
            "previous_run": load_previous_run(run.out, label),
            "regions": load_regions(cfg.geography.geojson, cfg.geography.key_column, cfg.geography.name_column),
            "executor": run.executor}
    assert tuple(data) == INPUTS
    return data


def _build_and_publish(run: _Run, final: RunFolder, started: dt.datetime, t0: float,
                       fingerprint: str) -> RunResult:
    """Build the run in a staging folder and publish it; on any failure record it and re-raise."""
    out, label = run.out, run.window.label
    staging = RunFolder(staging_dir(out, label)).create()
    with os_errors_as("cannot write the run log", role="output", path=staging.log):
        handler = logging.FileHandler(staging.log, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    current = ["ingest"]

    def on_stage(name: str) -> None:
        current[0] = name
        final.write_status("running", stage=name, extra={"pid": os.getpid()})

    try:
        final.root.mkdir(parents=True, exist_ok=True)
        on_stage("ingest")
        logger.info("ingest: %s", run.ingested.summary())
        from segment_report.pipeline.stages.sentiment.cache import score_cache

        with score_cache(run.cfg.sentiment, _cache_dir(run)) as scores:
            data = _run_stages(run.cfg, _inputs(run, scores), run.timings, on_stage)
        save_artefacts(staging, data, run.cfg.run.spreadsheet_safe_csv)
        staging.write_document("manifest", _manifest(run, data, started, time.perf_counter() - t0, fingerprint))
        on_stage("reports")
        start = time.perf_counter()
        from segment_report.reports.render import render_run

        render_run(staging.root, run.cfg.reports.formats)
        run.timings["reports"] = round(time.perf_counter() - start, 3)
        wall = time.perf_counter() - t0
        staging.write_document("manifest", _manifest(run, data, started, wall, fingerprint))
        gates = data["gates"]
        if gates["passed"]:
            staging.write_status("succeeded", exit_code=0, extra={"gates": gates})
        else:
            staging.write_status("held", stage="gates", reason=gates_reason(gates), exit_code=3,
                                 extra={"gates": gates})
        logger.removeHandler(handler)
        handler.close()
        publish(staging.root, out, label)
    except BaseException as exc:
        logger.removeHandler(handler)
        handler.close()
        error = _output_error(exc, out)
        kept_log = _keep_log(staging, out / ".logs" / f"{label}-{started:%Y%m%dT%H%M%S}.log")
        shutil.rmtree(staging.root, ignore_errors=True)
        remove_if_empty(staging.root.parent)
        _record_failure(final, current[0], error or exc, kept_log)
        if error is not None:
            raise error from exc
        raise
    customers = data["customers"]
    n_segments = int(customers["segment_id"].nunique()) if "segment_id" in customers else 0
    return RunResult(final.root, len(customers), wall, run.ingested.quality, n_segments)


def _finish_gates_and_email(cfg: Config, final: RunFolder, email: bool, recipients: tuple[str, ...]) -> None:
    """Mark a run that failed a gate as held (exit 3, nothing sent); otherwise send if asked."""
    gates = read_json(final.result("gates.json")) if final.result("gates.json").exists() else {"passed": True}
    if not gates["passed"]:
        reason = gates_reason(gates)
        final.write_status("held", stage="gates", reason=reason, exit_code=3, extra={
            "gates": gates, "email": "not sent: a quality gate failed" if email else "not requested"})
        raise QualityGateError(f"report held back: {reason}",
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


def run_demo(out_dir: Path, n_transactions: int = 20_000, seed: int = 42) -> RunResult:
    """Generate the default synthetic dataset into ``out_dir/data`` and run the pipeline on it
    for its last two months, so the last month's report shows what changed; returns the last
    month's result."""
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    out_dir = Path(out_dir)
    gen = GenerateConfig(n_transactions=n_transactions, seed=seed)
    data = generate_dataset(gen, out_dir / "data")
    logger.info("demo data: %s", data.summary())
    last = pd.Period(gen.end_date, freq="M")
    overrides = {"run.out_dir": str(out_dir), "seed": seed}
    logger.info("demo: running %s first, so that the %s report can show what changed", last - 1, last)
    run_pipeline(load_config(data.config_file, {**overrides, "run.period": str(last - 1)}))
    return run_pipeline(load_config(data.config_file, {**overrides, "run.period": str(last)}))
