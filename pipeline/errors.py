"""Domain errors. The library raises these; the CLI turns them into a message and an exit code."""

from __future__ import annotations

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
