"""The ingest stage: file readers (``readers``), personal-data scrubbing (``privacy``) and the
stage itself (``stage``: validate, normalise, quarantine bad rows).
"""
from segment_report.pipeline.stages.ingest.stage import IngestResult, ingest

__all__ = ["IngestResult", "ingest"]
