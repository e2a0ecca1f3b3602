"""Safe publishing: build a run in a staging folder, swap it into place, one run per folder.

- ``RunLock``: an exclusive lock file per period (``<out>/.locks/<period>.lock`` with pid and
  host). A second run on the same folder stops with a clear message; a lock left by a process
  that no longer exists is detected and taken over.
- ``publish``: the finished staging folder replaces ``<out>/<period>/`` with two renames; a
  failed or killed run never touches the published report (only its ``status.json`` records
  the failed attempt).
- ``terminate_on_signals``: SIGTERM / SIGHUP become an exception so the failure is recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from segment_report.pipeline.errors import EXIT_BAD_INPUT, SegmentReportError, os_errors_as
from segment_report.pipeline.log import logger


class RunLockedError(SegmentReportError):
    """Another live run holds the lock on this output folder (exit code 2)."""

    exit_code = EXIT_BAD_INPUT


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM or SIGHUP."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by signal {signal.Signals(signum).name}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Exclusive lock on one run folder, created atomically with O_EXCL."""

    def __init__(self, out_dir: Path, label: str) -> None:
        self.path = Path(out_dir) / ".locks" / f"{label}.lock"
        self.label = label
        self._held = False

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`RunLockedError`; stale locks are taken over.

        Raises:
            RunLockedError: a live run holds the lock.
            OutputError: the output folder cannot be written (read-only, full, no permission).
        """
        with os_errors_as("cannot write the output folder", role="output", path=self.path.parent):
            return self._acquire()

    def _acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read()
                same_host = holder.get("host") == socket.gethostname()
                pid = int(holder.get("pid", 0) or 0)
                if same_host and pid and not _pid_alive(pid):
                    logger.warning("removing stale lock of run %s (process %s no longer exists)",
                                   self.label, pid)
                    self.path.unlink(missing_ok=True)
                    continue
                raise RunLockedError(
                    f"another run is writing period {self.label} "
                    f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
                    f"started {holder.get('started_at', '?')})",
                    file=str(self.path),
                    expected="one run at a time per output folder",
                    fix="wait for that run to finish; if it is gone for good, delete the lock file") from None
            try:
                with os.fdopen(fd, "w") as handle:
                    json.dump(info, handle)
            except BaseException:
                # e.g. a full disk: an empty lock would block every later run of this period
                self.path.unlink(missing_ok=True)
                raise
            self._held = True
            return self
        raise RunLockedError("could not take the run lock", file=str(self.path))

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        if self._held:
            self._held = False
            try:
                self.path.unlink(missing_ok=True)
            except OSError as exc:  # never hide the run's own outcome behind a cleanup failure
                logger.warning("could not remove the run lock %s: %s", self.path, exc.strerror)
                return
            remove_if_empty(self.path.parent)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def staging_dir(out_dir: Path, label: str) -> Path:
    """A fresh private folder to build a run in, on the same filesystem as the target.

    Raises:
        OutputError: the folder cannot be created (read-only or full disk, no permission).
    """
    path = Path(out_dir) / ".staging" / f"{label}-{os.getpid()}"
    with os_errors_as("cannot create the staging folder", role="output", path=path):
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    return path


def recover(out_dir: Path, label: str) -> None:
    """Restore a published folder if a previous swap was interrupted between its two renames.

    Raises:
        OutputError: the folder cannot be renamed (read-only file system, no permission).
    """
    final = Path(out_dir) / label
    trash = Path(out_dir) / ".trash" / label
    if not final.exists() and trash.exists():
        with os_errors_as("cannot restore the previous report", role="output", path=trash):
            os.rename(trash, final)
        logger.warning("restored the previous report of %s after an interrupted publish", label)
    elif trash.exists():
        shutil.rmtree(trash, ignore_errors=True)


def publish(staging: Path, out_dir: Path, label: str) -> Path:
    """Move a finished staging folder to ``<out>/<label>``, replacing the previous report.

    Raises:
        OutputError: a rename failed; the previous report is put back where it was.
    """
    final = Path(out_dir) / label
    trash = Path(out_dir) / ".trash" / label
    with os_errors_as("cannot publish the run", role="output", path=final):
        trash.parent.mkdir(parents=True, exist_ok=True)
        if trash.exists():
            shutil.rmtree(trash)
        if final.exists():
            os.rename(final, trash)
        try:
            os.rename(staging, final)
        except OSError:
            if trash.exists() and not final.exists():
                os.rename(trash, final)  # put the previous report back before failing
            raise
    shutil.rmtree(trash, ignore_errors=True)
    remove_if_empty(trash.parent, staging.parent)
    return final


def remove_if_empty(*folders: Path) -> None:
    """Keep the output root tidy: drop bookkeeping folders nothing else is using."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass


@contextmanager
def terminate_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` for the duration of a run."""
    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: leave signals alone
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
