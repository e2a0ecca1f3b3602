"""The ``segment-report`` command line: a thin layer over the Python API.

Every command turns :class:`~segment_report.pipeline.errors.SegmentReportError` into a short message on
stderr and its exit code (0 ok, 1 internal error, 2 bad input or configuration, 3 held by a
quality gate, 4 delivery failed). ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click

from segment_report.pipeline import __version__
from segment_report.pipeline.errors import EXIT_INTERNAL, SegmentReportError, is_disk_error, os_error_to_input_error
from segment_report.pipeline.log import setup_logging
from segment_report.pipeline.io.publish import Terminated


class _Group(click.Group):
    """A click group that turns domain errors into clean messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SegmentReportError as exc:
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(f"error: {exc.message}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Terminated as exc:
            click.echo(f"error: {exc}; the previously published report is unchanged", err=True)
            ctx.exit(128 + exc.signum)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for users
            if ctx.find_root().params.get("debug"):
                raise
            if isinstance(exc, OSError) and (exc.filename is not None or is_disk_error(exc)):
                # a path the user gave (or the disk it is on) is unusable: bad input, not a bug
                error = os_error_to_input_error(exc, "cannot use this path", role="path")
                click.echo(f"error: {error.message}", err=True)
                ctx.exit(error.exit_code)
            click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
                       "  run again with --debug for the traceback and report it", err=True)
            ctx.exit(EXIT_INTERNAL)


def _example(text: str) -> str:
    """Help epilog with an example, kept verbatim by click (\b)."""
    return "\b\nExample:\n  " + text.strip().replace("\n", "\n  ")


def config_options(func: Callable) -> Callable:
    """Options shared by the commands that read inputs: config file, input, output, seed."""

    @click.option("--config", "config_path", type=click.Path(path_type=Path),
                  help="YAML configuration file (see config.example.yaml).")
    @click.option("--input", "input_path", metavar="PATH",
                  help="Retail table: a CSV or Parquet file, a glob ('exports/*.csv'), a folder of "
                       "parts, or a URL (s3://bucket/exports/); overrides input.path.")
    @click.option("--out", "out_dir", type=click.Path(path_type=Path),
                  help="Output root; the run folder is OUT/PERIOD. Overrides run.out_dir.")
    @click.option("--period", help="Month to analyse: YYYY-MM, 'last' or 'all'. Overrides run.period.")
    @click.option("--seed", type=int, help="Random seed. Overrides seed.")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def engine_options(func: Callable) -> Callable:
    """--engine and --scheduler: where the partitioned work runs (README "Running on a cluster")."""

    @click.option("--engine", type=click.Choice(["local", "dask"]),
                  help="local: in this process (default); dask: on a Dask cluster. Overrides engine.")
    @click.option("--scheduler", metavar="ADDRESS",
                  help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --engine dask); "
                       "without it --engine dask starts a cluster on this machine. Overrides dask.scheduler.")
    @functools.wraps(func)
    def wrapper(*args: Any, engine: str | None, scheduler: str | None, **kwargs: Any) -> Any:
        if scheduler and engine == "local":
            raise click.UsageError("--scheduler is only used with --engine dask")
        return func(*args, engine_overrides={"engine": "dask" if scheduler else engine,
                                             "dask.scheduler": scheduler}, **kwargs)

    return wrapper


def _load(config_path: Path | None, **overrides: Any):
    from segment_report.pipeline.config import load_config

    return load_config(config_path, overrides)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=_example("segment-report demo --out ./segment-report-demo"))
@click.version_option(__version__, "--version", prog_name="segment-report")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (debug messages).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
def cli(quiet: bool, verbose: int, debug: bool) -> None:
    """segment-report: explainable customer personas from retail data.

    Turns transactions, customer records and review text into named customer segments,
    explains what drives customer value, maps sentiment by state, and publishes an analyst
    site, executive PDFs and e-mail. Exit codes: 0 ok, 1 internal error, 2 bad input or
    configuration, 3 held by a quality gate, 4 delivery failed.
    """
    setup_logging(verbose, quiet)


@cli.command(epilog=_example("segment-report generate --out data/ --transactions 50000 --messy"))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder to write the data, its config and the ground truth into.")
@click.option("--mode", type=click.Choice(["retail_table", "tables"]), default="retail_table",
              show_default=True, help="One retail table, or customers + transactions + reviews.")
@click.option("--transactions", "n_transactions", type=click.IntRange(1_000, 10_000_000),
              default=20_000, show_default=True, help="Number of transactions (1k to 10M).")
@click.option("--months", type=click.IntRange(1, 60), default=6, show_default=True,
              help="Months of history, ending with --end.")
@click.option("--end", "end_date", default="2026-10-31", show_default=True,
              help="Last day of the generated history (YYYY-MM-DD).")
@click.option("--personas", "n_personas", type=click.IntRange(4, 7), default=5, show_default=True,
              help="Number of planted latent personas.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--messy", is_flag=True, help="Inject real-world mess and a known number of invalid rows.")
@click.option("--parts", type=click.Choice(["none", "monthly"]), default="none", show_default=True,
              help="monthly: write the transactions (and reviews) as a folder of one CSV per month.")
def generate(out_dir: Path, mode: str, n_transactions: int, months: int, end_date: str,
             n_personas: int, seed: int, messy: bool, parts: str) -> None:
    """Generate synthetic retail data with planted, documented ground truth."""
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    cfg = GenerateConfig(mode=mode, n_transactions=n_transactions, months=months,
                         end_date=end_date, n_personas=n_personas, seed=seed, messy=messy, parts=parts)
    result = generate_dataset(cfg, out_dir)
    click.echo(f"wrote {result.summary()}")


@cli.command(epilog=_example("segment-report validate --input data/retail_data.csv --out reports-out"))
@config_options
@engine_options
def validate(config_path: Path | None, input_path: str | None, out_dir: Path | None,
             period: str | None, seed: int | None, engine_overrides: dict[str, Any]) -> None:
    """Check inputs against the contract and write quarantine.csv; no modelling."""
    from segment_report.pipeline.runner import validate_inputs

    cfg = _load(config_path, **{"input.path": input_path, "run.out_dir": out_dir,
                                "run.period": period, "seed": seed, **engine_overrides})
    report = validate_inputs(cfg)
    click.echo(report.summary())


@cli.command(epilog=_example(
    "segment-report run --config segment-report.yaml --period 2026-10\n"
    "segment-report run --config segment-report.yaml --period last --email --to cfo@example.com\n"
    "segment-report run --config segment-report.yaml --period 2026-11 --reuse-model reports-out/2026-10\n"
    "segment-report run --config segment-report.yaml --engine dask --scheduler tcp://10.0.0.5:8786"))
@config_options
@engine_options
@click.option("--reuse-model", type=click.Path(path_type=Path),
              help="A previous run folder: assign customers to its segments instead of refitting.")
@click.option("--deterministic/--no-deterministic", default=None,
              help="Seeded single-thread UMAP (default on; measured no slower on 2 cores).")
@click.option("--force", is_flag=True,
              help="Recompute everything: re-run an up-to-date period, re-score cached reviews, refit "
                   "the segments instead of reusing last month's model.")
@click.option("--email", "send_email", is_flag=True,
              help="After a successful run whose quality gates pass, e-mail the executive PDF "
                   "(recipients: --to or email.to).")
@click.option("--to", "recipients", multiple=True, help="Recipient for --email (repeatable).")
@click.option("--no-gates", is_flag=True,
              help="Do not check the quality gates (gates.enabled: false): never hold the report back.")
def run(config_path: Path | None, input_path: str | None, out_dir: Path | None,
        period: str | None, seed: int | None, reuse_model: Path | None,
        deterministic: bool | None, force: bool, send_email: bool, recipients: tuple[str, ...],
        no_gates: bool, engine_overrides: dict[str, Any]) -> None:
    """Run the full pipeline for a period, then publish the reports.

    Exit codes: 0 ok, 1 internal error, 2 bad input or configuration, 3 a quality gate held the
    report back (published, marked held, not e-mailed), 4 the e-mail could not be sent.
    """
    from segment_report.pipeline.runner import run_pipeline

    cfg = _load(config_path, **{"input.path": input_path, "run.out_dir": out_dir,
                                "run.period": period, "seed": seed,
                                "segments.reuse_model": reuse_model,
                                "segments.deterministic": deterministic,
                                "gates.enabled": False if no_gates else None, **engine_overrides})
    if recipients and not send_email:
        raise click.UsageError("--to is only used with --email")
    result = run_pipeline(cfg, force=force, email=send_email, recipients=recipients)
    click.echo(result.summary())


@cli.command(epilog=_example("segment-report demo --out ./segment-report-demo"))
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              default=Path("segment-report-demo"), show_default=True,
              help="Folder for the generated data and the run.")
@click.option("--transactions", "n_transactions", type=click.IntRange(1_000, 2_000_000),
              default=20_000, show_default=True, help="Size of the generated dataset.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
def demo(out_dir: Path, n_transactions: int, seed: int) -> None:
    """Generate a default dataset and run the pipeline on it: the one-command tour."""
    from segment_report.pipeline.runner import run_demo

    result = run_demo(out_dir, n_transactions=n_transactions, seed=seed)
    click.echo(result.summary())


@cli.command(epilog=_example("segment-report render --run reports-out/2026-10 --format html,pdf"))
@click.option("--run", "run_dir", type=click.Path(path_type=Path), required=True,
              help="An existing run folder.")
@click.option("--format", "formats", default="html,pdf,quarto", show_default=True,
              help="Comma-separated output formats: html, pdf, quarto.")
def render(run_dir: Path, formats: str) -> None:
    """Re-render the reports of an existing run from its results/ (nothing is recomputed)."""
    from segment_report.reports.render import parse_formats, render_run

    written = render_run(run_dir, parse_formats(formats))
    click.echo(f"rendered {len(written)} files into {run_dir}")


@cli.command(epilog=_example(
    "segment-report email --run reports-out/2026-10 --to cfo@example.com --to coo@example.com\n"
    "segment-report email --run reports-out/2026-10 --to cfo@example.com --dry-run"))
@click.option("--run", "run_dir", type=click.Path(path_type=Path), required=True,
              help="An existing run folder (with pdf/executive-summary.pdf).")
@click.option("--to", "recipients", multiple=True, help="Recipient address (repeatable); default email.to.")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="YAML configuration file; its 'email' section sets the SMTP server.")
@click.option("--subject", help="Subject line; {period} is replaced by the month. Overrides email.subject.")
@click.option("--attach-personas/--no-attach-personas", default=None,
              help="Also attach the persona PDFs. Overrides email.attach_personas.")
@click.option("--dry-run", is_flag=True, help="Write the .eml file instead of sending.")
@click.option("--eml", "eml_path", type=click.Path(path_type=Path),
              help="Where --dry-run writes the message (default RUN/email/message.eml).")
def email(run_dir: Path, recipients: tuple[str, ...], config_path: Path | None, subject: str | None,
          attach_personas: bool | None, dry_run: bool, eml_path: Path | None) -> None:
    """Send an existing run's executive PDF and summary by e-mail.

    SMTP host, port, user, from-address and TLS mode come from the config's 'email' section or
    the SEGMENT_REPORT_SMTP_* environment variables; the password only from
    $SEGMENT_REPORT_SMTP_PASSWORD (or email.password_env / email.password_file). Exit code 4
    when sending fails after the configured retries.
    """
    from segment_report.reports.email import deliver

    cfg = _load(config_path, **{"email.subject": subject, "email.attach_personas": attach_personas})
    click.echo(deliver(run_dir, cfg.email, recipients, dry_run, eml_path))


@cli.group(cls=_Group, epilog=_example("segment-report sentiment score reviews.csv --text-col text"))
def sentiment() -> None:
    """The sentiment model on its own: score | train | evaluate."""


def _sentiment_options(func: Callable) -> Callable:
    """Model options shared by 'sentiment score' and 'sentiment evaluate'."""

    @click.option("--config", "config_path", type=click.Path(path_type=Path),
                  help="YAML configuration file; its 'sentiment' section is used.")
    @click.option("--model", help="'default' (shipped), 'vader' or a local Hugging Face checkpoint folder.")
    @click.option("--batch-size", type=int, help="Texts per forward pass (sentiment.batch_size).")
    @click.option("--max-length", type=int, help="Truncation in tokens (sentiment.max_length).")
    @click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "int8"]),
                  help="Model arithmetic (sentiment.precision); int8 is CPU only.")
    @click.option("--adapt-prior/--no-adapt-prior", default=None,
                  help="Adjust scores to the file's own share of positive texts (sentiment.adapt_prior).")
    @click.option("--threads", type=int, help="CPU threads for the model (sentiment.threads).")
    @click.option("--cache-dir", type=click.Path(path_type=Path),
                  help="Persistent score cache folder; re-scoring the same texts is then instant.")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def _sentiment_cfg(config_path: Path | None, **flags: Any):
    return _sentiment_full_cfg(config_path, **flags).sentiment


def _sentiment_full_cfg(config_path: Path | None, **flags: Any):
    return _load(config_path, **{f"sentiment.{k}": v for k, v in flags.items()})


def _prior_line(scorer: Any) -> str | None:
    """What the label-shift adjustment did to a scored file, in one line (None: not used)."""
    from segment_report.reports.views import prior_fact

    return f"share of positive texts: {prior_fact(scorer.prior)}" if scorer.prior else None


@sentiment.command("score", epilog=_example(
    "segment-report sentiment score reviews.csv --text-col text --out scored.parquet\n"
    "segment-report sentiment score reviews.parquet --text-col body --model vader"))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--text-col", required=True, help="Column holding the review text.")
@click.option("--title-col", help="Optional review-title column, scored joined with the text ('title. text').")
@click.option("--out", "out_path", type=click.Path(path_type=Path),
              help="Output CSV or Parquet (by extension). Default: FILE's folder, "
                   "FILE-stem.scored.csv (or .parquet for a Parquet input).")
@_sentiment_options
def sentiment_score(file: Path, text_col: str, title_col: str | None, out_path: Path | None,
                    config_path: Path | None, model: str | None, batch_size: int | None, max_length: int | None,
                    precision: str | None, adapt_prior: bool | None, threads: int | None,
                    cache_dir: Path | None) -> None:
    """Add positive_prob and label to every row of a review file.

    positive_prob is the model's probability that the review is positive (NaN for texts with
    nothing to score); label is negative / neutral / positive, or unscorable. A summary
    (label counts, reviews/s, text-quality counts) is printed to stdout.
    """
    from segment_report.pipeline.stages.sentiment.cache import score_cache
    from segment_report.pipeline.stages.sentiment.files import read_table, require_column, write_table
    from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer
    from segment_report.pipeline.stages.sentiment.text import review_texts

    full_cfg = _sentiment_full_cfg(config_path, model=model, batch_size=batch_size, max_length=max_length,
                                   precision=precision, adapt_prior=adapt_prior, threads=threads)
    cfg = full_cfg.sentiment
    df = read_table(file)
    require_column(df, text_col, "--text-col", file)
    if title_col:
        require_column(df, title_col, "--title-col", file)
    with score_cache(cfg, cache_dir) as cache:
        scorer = SentimentScorer(cfg, cache)
        scores, quality, stats = scorer.score(review_texts(df, text_col, title_col))
    df = df.copy()
    df["positive_prob"] = scores["positive_prob"].to_numpy()
    df["label"] = scores["label"].to_numpy()
    if out_path is None:
        ext = ".parquet" if file.suffix.lower() == ".parquet" else ".csv"
        out_path = file.with_name(f"{file.stem}.scored{ext}")
    write_table(df, out_path, full_cfg.run.spreadsheet_safe_csv)
    rate = stats.as_dict()["texts_per_s"]
    click.echo(f"scored {stats.texts} rows ({stats.unique_texts} distinct texts, {stats.cached} from "
               f"cache) with {scorer.model_id} in {stats.seconds:.1f} s"
               + (f" ({rate:.0f} texts/s)" if rate else ""))
    if line := _prior_line(scorer):
        click.echo(line)
    counts = df["label"].value_counts()
    click.echo("labels: " + ", ".join(f"{k} {int(v)}" for k, v in counts.items()))
    flagged = {k: v for k, v in quality.items() if v and k not in ("texts",)}
    if flagged:
        click.echo("text quality: " + ", ".join(f"{k} {v}" for k, v in flagged.items()))
    click.echo(f"wrote {out_path}")


@sentiment.command("train", epilog=_example(
    "segment-report sentiment train --reviews reviews.csv --text-col text --rating-col rating --out model/\n"
    "# reproduce the shipped model:\n"
    "segment-report sentiment train --reviews womens_clothing_reviews.csv --text-col 'Review Text' \\\n"
    "    --rating-col Rating --title-col Title --out model/"))
@click.option("--reviews", type=click.Path(path_type=Path), required=True, help="Labelled reviews.")
@click.option("--text-col", required=True, help="Column holding the review text.")
@click.option("--rating-col", required=True, help="Column holding the 1-5 star rating.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Model folder.")
@click.option("--title-col", help="Optional review-title column; titles become extra examples.")
@click.option("--join-titles", is_flag=True,
              help="Also train on 'title. text' (how reviews with a title are scored).")
@click.option("--epochs", type=int, default=8, show_default=True, help="Maximum epochs (early stopping may end sooner).")
@click.option("--max-minutes", type=float, help="Stop training after this many minutes, keeping the best checkpoint.")
@click.option("--max-length", type=int, default=128, show_default=True, help="Truncation in tokens.")
@click.option("--max-steps", type=int, help="Stop after this many optimiser steps (reproduces a time-limited run).")
@click.option("--from-shipped", is_flag=True, help="Continue from the shipped adapter instead of a fresh one.")
@click.option("--lora-r", type=int, default=16, show_default=True, help="LoRA rank (alpha is twice the rank).")
@click.option("--majority-ratio", type=float, default=1.0, show_default=True,
              help="Examples of the larger class per example of the rarest class in each epoch "
                   "(the loss is re-weighted, so the classes still count equally).")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (splits, sampling, init).")
@click.option("--threads", type=int, help="CPU threads for training.")
def sentiment_train(reviews: Path, text_col: str, rating_col: str, out_dir: Path,
                    title_col: str | None, join_titles: bool, epochs: int, max_minutes: float | None,
                    max_length: int, max_steps: int | None, from_shipped: bool, lora_r: int,
                    majority_ratio: float, seed: int, threads: int | None) -> None:
    """Fine-tune the sentiment model on rated reviews.

    Ratings 1-2 are negative and 4-5 positive (3 only tunes the neutral band). A stratified
    20 % test split is held out, 10 % of the rest drives early stopping; training draws a
    class-balanced sample every epoch. OUT receives the LoRA adapter, model_card.json and
    MODEL_CARD.md with the test metrics; use it with sentiment.model: OUT.
    """
    from segment_report.pipeline.stages.sentiment.files import read_table
    from segment_report.pipeline.stages.sentiment.model import SHIPPED_MODEL_DIR
    from segment_report.pipeline.stages.sentiment.train import TrainConfig, train_sentiment_model

    df = read_table(reviews)
    cfg = TrainConfig(epochs=epochs, seed=seed, threads=threads, max_length=max_length,
                      max_steps=max_steps, time_budget_s=max_minutes * 60 if max_minutes else None,
                      join_titles=join_titles, lora_r=lora_r, lora_alpha=2 * lora_r,
                      majority_ratio=majority_ratio)
    result = train_sentiment_model(df, text_col, rating_col, out_dir, title_col=title_col, cfg=cfg,
                                   init_adapter=SHIPPED_MODEL_DIR if from_shipped else None,
                                   training_data=f"{reviews.name} ({text_col}"
                                                 + (f" + {title_col}" if title_col else "") + ")")
    test = result.card["metrics"]["test_split"]
    click.echo(f"stopped: {result.card['training']['stop_reason']}")
    click.echo(f"held-out test, negative vs positive: macro-F1 {test['binary']['macro_f1']:.4f}, "
               f"accuracy {test['binary']['accuracy']:.4f} (n={test['binary']['n']})")
    click.echo(f"held-out test, 3 classes: macro-F1 {test['three_class']['macro_f1']:.4f} "
               f"(n={test['three_class']['n']}); neutral band {result.card['neutral_band']}")
    titled = result.card["metrics"].get("test_split_title_and_text")
    if titled:
        click.echo(f"held-out test, title + text, negative vs positive: macro-F1 "
                   f"{titled['binary']['macro_f1']:.4f}, accuracy {titled['binary']['accuracy']:.4f}")
    click.echo(f"wrote {out_dir} (use it with sentiment.model: {out_dir})")


@sentiment.command("evaluate", epilog=_example(
    "segment-report sentiment evaluate reviews.csv --text-col text --label-col label\n"
    "segment-report sentiment evaluate reviews.csv --text-col text --label-col stars --model vader"))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--text-col", required=True, help="Column holding the review text.")
@click.option("--label-col", required=True,
              help="True label: words (negative/neutral/positive, neg/pos) or 1-5 ratings.")
@click.option("--title-col", help="Optional review-title column, scored joined with the text ('title. text').")
@_sentiment_options
def sentiment_evaluate(file: Path, text_col: str, label_col: str, title_col: str | None,
                       config_path: Path | None, model: str | None, batch_size: int | None, max_length: int | None,
                       precision: str | None, adapt_prior: bool | None, threads: int | None,
                       cache_dir: Path | None) -> None:
    """Print accuracy, macro-F1 and the confusion matrix on labelled reviews.

    Ratings map to labels with sentiment.negative_ratings / neutral_ratings / positive_ratings.
    Without a neutral class in the truth the prediction is binary (positive_prob >= 0.5).
    """
    from segment_report.pipeline.stages.sentiment.cache import score_cache
    from segment_report.pipeline.stages.sentiment.evaluate import evaluate_labels
    from segment_report.pipeline.stages.sentiment.files import read_table, require_column
    from segment_report.pipeline.stages.sentiment.labels import labels_from_column
    from segment_report.pipeline.stages.sentiment.scorer import SentimentScorer
    from segment_report.pipeline.stages.sentiment.text import review_texts

    cfg = _sentiment_cfg(config_path, model=model, batch_size=batch_size, max_length=max_length,
                         precision=precision, adapt_prior=adapt_prior, threads=threads)
    df = read_table(file)
    require_column(df, text_col, "--text-col", file)
    require_column(df, label_col, "--label-col", file)
    if title_col:
        require_column(df, title_col, "--title-col", file)
    true = labels_from_column(df[label_col], cfg)
    keep = true.notna().to_numpy()
    with score_cache(cfg, cache_dir) as cache:
        scorer = SentimentScorer(cfg, cache)
        scores, _, stats = scorer.score(review_texts(df.loc[keep], text_col, title_col))
    m = evaluate_labels(true[keep].reset_index(drop=True), scores)
    click.echo(f"model {scorer.model_id}; {m['n']} labelled rows ({int((~keep).sum())} without a "
               f"usable label skipped, {m['unscorable']} unscorable texts); {m['mode']}")
    if line := _prior_line(scorer):
        click.echo(line)
    click.echo(f"accuracy {m['accuracy']:.4f}")
    click.echo(f"macro-F1 {m['macro_f1']:.4f}")
    for lab, pc in m["per_class"].items():
        click.echo(f"  {lab:<9} precision {pc['precision']:.4f}  recall {pc['recall']:.4f}  "
                   f"F1 {pc['f1']:.4f}  n {pc['support']}")
    labels = m["confusion_matrix"]["labels"]
    width = max(len(x) for x in labels) + 2
    click.echo("confusion matrix (rows true, columns predicted):")
    click.echo(" " * width + "".join(f"{x:>{width}}" for x in labels))
    for lab, row in zip(labels, m["confusion_matrix"]["rows_true_cols_pred"]):
        click.echo(f"{lab:<{width}}" + "".join(f"{v:>{width}}" for v in row))


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="segment-report")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
