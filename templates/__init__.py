"""Jinja2 templates (installed as the ``reports.templates`` package data)."""
