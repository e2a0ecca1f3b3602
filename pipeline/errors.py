"""Domain errors. The library raises these; the CLI turns them into a message and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_HELD = 3
EXIT_DELIVERY = 4


class SegmentReportError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = EXIT_INTERNAL

    def __init__(self, problem: str, *, file: str | None = None, expected: str | None = None,
                 fix: str | None = None) -> None:
        self.problem = problem
        self.file = file
        self.expected = expected
        self.fix = fix
        super().__init__(self.message)

    def __reduce__(self):
        # raised on a cluster's worker, it travels to the client whole (file, expected, fix)
        import functools

        return functools.partial(type(self), self.problem, file=self.file, expected=self.expected,
                                 fix=self.fix), ()

    @property
    def message(self) -> str:
        """The full multi-line message: file, problem, what was expected, the fix."""
        lines = []
        lines.append(f"{self.file}: {self.problem}" if self.file else self.problem)
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class EngineError(SegmentReportError):
    """The cluster failed under the run: its workers died or it went away (exit code 1)."""

    exit_code = EXIT_INTERNAL


class InputDataError(SegmentReportError):
    """An input file is missing, unreadable or unusable as a whole (exit code 2)."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(SegmentReportError):
    """The configuration file or a flag is invalid (exit code 2)."""

    exit_code = EXIT_BAD_INPUT


class QualityGateError(SegmentReportError):
    """A quality gate held the report back (exit code 3)."""

    exit_code = EXIT_HELD


class DeliveryError(SegmentReportError):
    """Sending the report failed (exit code 4)."""

    exit_code = EXIT_DELIVERY


class OutputError(SegmentReportError):
    """The output folder cannot be written: missing permission, read-only or full disk, a file
    where a folder should be (exit code 2: the user chose the path, it is not a bug)."""

    exit_code = EXIT_BAD_INPUT


#: errno name -> (what is wrong, the fix), for the paths a user gives (config, inputs, output).
_OS_ERRORS: dict[str, tuple[str, str]] = {
    "ENOENT": ("does not exist", "check the path; create the missing folder or fix the name"),
    "EISDIR": ("is a folder, not a file", "point to a file (for --config a YAML file, for --input "
                                         "a CSV or Parquet file), not the folder containing it"),
    "ENOTDIR": ("a part of the path is a file, not a folder",
                "choose a path whose parent parts are folders, not files"),
    "EACCES": ("permission denied", "give this user access to the path, or choose another path"),
    "EPERM": ("operation not permitted", "give this user access to the path, or choose another path"),
    "EROFS": ("is on a read-only file system",
              "choose an output folder on a writable disk (--out / run.out_dir)"),
    "ENOSPC": ("no space left on the device",
               "free disk space, or choose an output folder on a disk with room (--out / run.out_dir)"),
    "EDQUOT": ("disk quota exceeded", "free space within your quota, or choose another output folder"),
    "EFBIG": ("file too large for the file system", "choose an output folder on another file system"),
    "ENAMETOOLONG": ("name too long for the file system",
                     "use a shorter path (each name at most 255 bytes)"),
    "EEXIST": ("already exists and is not a folder", "remove or rename it, or choose another path"),
    "ELOOP": ("has too many levels of symbolic links", "fix the symbolic links in the path"),
    "EIO": ("input/output error from the disk", "check the disk (or network share) and try again"),
    "ETXTBSY": ("is busy", "close the program using the file and try again"),
    "EMFILE": ("too many open files", "raise the open-file limit (ulimit -n) and try again"),
    "ENFILE": ("too many open files in the system", "close other programs and try again"),
}

_ROLE_ERRORS: dict[str, type[SegmentReportError]] = {"input": InputDataError, "config": ConfigError,
                                                     "output": OutputError, "path": InputDataError}
_ROLE_EXPECTED = {"input": "a readable file", "config": "a readable YAML file",
                  "output": "a folder this user can create and write, on a disk with free space",
                  "path": "a path this user can read or write, on a disk with free space"}


def os_error_to_input_error(exc: OSError, what: str, *, role: str = "input",
                            path: object | None = None) -> SegmentReportError:
    """The exit-2 error for an OS error on a path the user gave.

    Args:
        exc: the OS error (its ``errno`` picks the message and fix, its ``filename`` the file).
        what: what the path is for, e.g. ``"config file"`` or ``"output folder"``.
        role: ``"input"`` (InputDataError), ``"config"`` (ConfigError), ``"output"`` (OutputError)
            or ``"path"`` (InputDataError, for a path whose purpose is not known).
        path: the path to name when the error carries none.

    Returns:
        An InputDataError, ConfigError or OutputError (exit code 2) naming the file, the
        problem, what was expected and a fix for that errno.
    """
    import errno as errno_module

    name = errno_module.errorcode.get(exc.errno or -1, "")
    problem, fix = _OS_ERRORS.get(name, (exc.strerror or str(exc), "check the path and try again"))
    filename = exc.filename if exc.filename is not None else path
    if isinstance(filename, bytes):
        filename = filename.decode("utf-8", "replace")
    detail = f" ({name})" if name else ""
    if name == "ENOTDIR" and filename is not None:
        blocker = _file_in_the_way(str(filename))
        if blocker:
            fix = f"'{blocker}' is a file: choose a path below a folder, or move that file away"
    cls = _ROLE_ERRORS.get(role, InputDataError)
    return cls(f"{what}: {problem}{detail}", file=str(filename) if filename is not None else None,
               expected=_ROLE_EXPECTED.get(role, "a usable path"), fix=fix)


def _file_in_the_way(path: str) -> str | None:
    """The first part of ``path`` that exists and is not a folder (the cause of ENOTDIR)."""
    import os

    parts = os.path.normpath(path).split(os.sep)
    for i in range(1, len(parts) + 1):
        head = os.sep.join(parts[:i]) or os.sep
        if os.path.lexists(head) and not os.path.isdir(head):
            return head
    return None


#: errnos that say the disk, not the program, is at fault, whatever path they name.
DISK_ERRNOS = frozenset({"ENOSPC", "EDQUOT", "EROFS", "EFBIG", "EIO"})


def is_disk_error(exc: OSError) -> bool:
    """Whether ``exc`` is a full, read-only or failing disk (never a bug in segment-report)."""
    import errno as errno_module

    return errno_module.errorcode.get(exc.errno or -1, "") in DISK_ERRNOS


def check_reachable(path: object, what: str, *, role: str = "input") -> None:
    """Raise the exit-2 error for any reason but "not found" that ``path`` cannot be looked at
    (a file where a folder should be, a name too long, no permission); ``Path.exists()``
    answers False for all of these and hides why. A missing path is left to the caller."""
    import os

    try:
        os.stat(path)  # type: ignore[arg-type]
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise os_error_to_input_error(exc, what, role=role, path=path) from None


@contextmanager
def os_errors_as(what: str, *, role: str = "input", path: object | None = None) -> Iterator[None]:
    """Turn an OSError raised in the block into :func:`os_error_to_input_error`'s exit-2 error."""
    try:
        yield
    except OSError as exc:
        raise os_error_to_input_error(exc, what, role=role, path=path) from exc
