"""Jinja2 templates (installed as the ``segment_report.templates`` package data)."""
