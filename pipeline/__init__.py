"""The computation side of segment-report: configuration, ingest, synthetic data, the
analysis stages, the runner, the Python API and the CLI. Presentation lives in the sibling
package ``segment_report.reports``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segment-report")
except PackageNotFoundError:  # pragma: no cover - the package is always installed to be imported
    __version__ = "0.0.0+unknown"
