"""segment-report: explainable customer personas from retail data.

The computation side: configuration, ingest, synthetic data and the analysis stages.
Presentation lives in the sibling package ``reports``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("segment-report")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
