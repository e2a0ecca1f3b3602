"""Logging and progress bars shared by every command.

Messages go to stderr (and, during a run, to ``<run>/run.log``); stdout stays free for
results. Progress bars are drawn only on an interactive terminal, so cron logs stay clean.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

logger = logging.getLogger("segment_report")
_console = Console(stderr=True)
_state = {"quiet": False}


def setup_logging(verbosity: int = 0, quiet: bool = False) -> None:
    """Configure the ``segment_report`` logger: -q warnings only, default info, -v debug."""
    _state["quiet"] = quiet
    level = logging.WARNING if quiet else (logging.DEBUG if verbosity > 0 else logging.INFO)
    logger.handlers.clear()
    handler = RichHandler(console=_console, show_time=False, show_path=False, markup=False,
                          rich_tracebacks=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


@contextmanager
def progress_bar(description: str, total: int | None, unit: str = "rows") -> Iterator:
    """A progress bar context yielding ``advance(n)``; silent when quiet or not on a terminal."""
    disabled = _state["quiet"] or not sys.stderr.isatty()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, console=_console, disable=disabled, transient=False) as prog:
        task = prog.add_task(description, total=total, rate="")

        def advance(n: int = 1) -> None:
            prog.update(task, advance=n)
            elapsed = prog.tasks[task].elapsed or 0.0
            if elapsed > 0:
                prog.update(task, rate=f"{prog.tasks[task].completed / elapsed:,.0f} {unit}/s")

        yield advance

