"""``python -m segment_report``: the same as the ``segment-report`` command."""

from segment_report.pipeline.cli import main

main()
