"""Churn risk and customer lifetime value (see ``stage.py`` for ``results/clv.json``)."""

from segment_report.pipeline.stages.clv.stage import ClvResult, estimate_clv

__all__ = ["ClvResult", "estimate_clv"]
