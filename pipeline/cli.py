"""The ``segment-report`` command line: a thin layer over the Python API.

Every command turns :class:`~pipeline.errors.SegmentReportError` into a short message on
stderr and its exit code (0 ok, 1 internal error, 2 bad input or configuration, 3 held by a
quality gate, 4 delivery failed). ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click

from pipeline import __version__
from pipeline.errors import EXIT_INTERNAL, NotYetAvailableError, SegmentReportError
from pipeline.log import logger, setup_logging


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
        except Exception as exc:  # noqa: BLE001 - the last line of defence for users
            if ctx.find_root().params.get("debug"):
                raise
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
    @click.option("--input", "input_path", type=click.Path(path_type=Path),
                  help="Retail table (CSV or Parquet); overrides input.path.")
    @click.option("--out", "out_dir", type=click.Path(path_type=Path),
                  help="Output root; the run folder is OUT/PERIOD. Overrides run.out_dir.")
    @click.option("--period", help="Month to analyse: YYYY-MM, 'last' or 'all'. Overrides run.period.")
    @click.option("--seed", type=int, help="Random seed. Overrides seed.")
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def _load(config_path: Path | None, **overrides: Any):
    from pipeline.config import load_config

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
@click.option("--transactions", "n_transactions", type=click.IntRange(1_000, 2_000_000),
              default=20_000, show_default=True, help="Number of transactions (1k to 2M).")
@click.option("--months", type=click.IntRange(1, 60), default=6, show_default=True,
              help="Months of history, ending with --end.")
@click.option("--end", "end_date", default="2026-10-31", show_default=True,
              help="Last day of the generated history (YYYY-MM-DD).")
@click.option("--personas", "n_personas", type=click.IntRange(4, 7), default=5, show_default=True,
              help="Number of planted latent personas.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--messy", is_flag=True, help="Inject real-world mess and a known number of invalid rows.")
def generate(out_dir: Path, mode: str, n_transactions: int, months: int, end_date: str,
             n_personas: int, seed: int, messy: bool) -> None:
    """Generate synthetic retail data with planted, documented ground truth."""
    from pipeline.synthetic import GenerateConfig, generate_dataset

    cfg = GenerateConfig(mode=mode, n_transactions=n_transactions, months=months,
                         end_date=end_date, n_personas=n_personas, seed=seed, messy=messy)
    result = generate_dataset(cfg, out_dir)
    click.echo(f"wrote {result.summary()}")


@cli.command(epilog=_example("segment-report validate --input data/retail_data.csv --out reports-out"))
@config_options
def validate(config_path: Path | None, input_path: Path | None, out_dir: Path | None,
             period: str | None, seed: int | None) -> None:
    """Check inputs against the contract and write quarantine.csv; no modelling."""
    from pipeline.runner import validate_inputs

    cfg = _load(config_path, **{"input.path": input_path, "run.out_dir": out_dir,
                                "run.period": period, "seed": seed})
    report = validate_inputs(cfg)
    click.echo(report.summary())


@cli.command(epilog=_example("segment-report run --config segment-report.yaml --period 2026-10"))
@config_options
def run(config_path: Path | None, input_path: Path | None, out_dir: Path | None,
        period: str | None, seed: int | None) -> None:
    """Run the full pipeline for a period, then publish the reports."""
    from pipeline.runner import run_pipeline

    cfg = _load(config_path, **{"input.path": input_path, "run.out_dir": out_dir,
                                "run.period": period, "seed": seed})
    result = run_pipeline(cfg)
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
    from pipeline.runner import run_demo

    result = run_demo(out_dir, n_transactions=n_transactions, seed=seed)
    click.echo(result.summary())


@cli.command(epilog=_example("segment-report render --run reports-out/2026-10 --format html,pdf"))
@click.option("--run", "run_dir", type=click.Path(path_type=Path), required=True,
              help="An existing run folder.")
@click.option("--format", "formats", default="html,pdf,quarto", show_default=True,
              help="Comma-separated output formats.")
def render(run_dir: Path, formats: str) -> None:
    """Re-render the reports of an existing run from its results/."""
    raise NotYetAvailableError(
        "'render' is not available yet: the reports (HTML site, Quarto, PDFs) have not landed",
        fix="use 'segment-report run'; its results/ folder will be renderable once reports land")


@cli.command(epilog=_example("segment-report email --run reports-out/2026-10 --to cfo@example.com"))
@click.option("--run", "run_dir", type=click.Path(path_type=Path), required=True,
              help="An existing run folder.")
@click.option("--to", "recipients", multiple=True, help="Recipient address (repeatable).")
@click.option("--dry-run", is_flag=True, help="Write the .eml file instead of sending.")
def email(run_dir: Path, recipients: tuple[str, ...], dry_run: bool) -> None:
    """Send an existing run's executive PDF and summary by e-mail."""
    raise NotYetAvailableError(
        "'email' is not available yet: e-mail delivery has not landed",
        fix="share the run folder by hand for now")


@cli.group(cls=_Group, epilog=_example("segment-report sentiment score reviews.csv --text-col text"))
def sentiment() -> None:
    """The sentiment model on its own: score | train | evaluate."""


@sentiment.command("score", epilog=_example("segment-report sentiment score reviews.csv --text-col text --out scored.parquet"))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--text-col", required=True, help="Column holding the review text.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), help="Output CSV or Parquet.")
def sentiment_score(file: Path, text_col: str, out_path: Path | None) -> None:
    """Add positive_prob and label to every row of a review file."""
    raise NotYetAvailableError("'sentiment score' is not available yet: the sentiment model has not landed")


@sentiment.command("train", epilog=_example("segment-report sentiment train --reviews reviews.csv --text-col text --rating-col rating --out model/"))
@click.option("--reviews", type=click.Path(path_type=Path), required=True, help="Labelled reviews.")
@click.option("--text-col", required=True, help="Column holding the review text.")
@click.option("--rating-col", required=True, help="Column holding the 1-5 star rating.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Model folder.")
def sentiment_train(reviews: Path, text_col: str, rating_col: str, out_dir: Path) -> None:
    """Fine-tune the sentiment model on rated reviews."""
    raise NotYetAvailableError("'sentiment train' is not available yet: the sentiment model has not landed")


@sentiment.command("evaluate", epilog=_example("segment-report sentiment evaluate reviews.csv --text-col text --label-col label"))
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--text-col", required=True, help="Column holding the review text.")
@click.option("--label-col", required=True, help="Column holding the true label.")
def sentiment_evaluate(file: Path, text_col: str, label_col: str) -> None:
    """Print accuracy, macro-F1 and the confusion matrix on labelled reviews."""
    raise NotYetAvailableError("'sentiment evaluate' is not available yet: the sentiment model has not landed")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="segment-report")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
