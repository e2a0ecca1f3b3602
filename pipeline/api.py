"""The Python API: run the pipeline, re-render a run and load a finished run in a notebook.

```python
from segment_report import run, load_run
r = run("segment-report.yaml", period="2026-10", out="reports-out")
r.segments            # one row per persona
r.customers.head()    # one row per customer
r                     # in Jupyter: a summary table with links to the site and the PDF
```

The ``segment-report`` command is a thin layer over these functions; they raise the same
:class:`~segment_report.pipeline.errors.SegmentReportError` subclasses (with ``exit_code``)
that the CLI turns into messages.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from segment_report.pipeline.config import Config, load_config
from segment_report.pipeline.io.store import RunFolder, RunResults, load_results, read_json


class Run:
    """A finished run folder ``<out>/<period>/``, its results loaded on first use.

    Attributes:
        path: the run folder.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._folder = RunFolder(self.path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @cached_property
    def results(self) -> RunResults:
        """Every file of ``results/``, loaded once (raises InputDataError for a non-run folder)."""
        return load_results(self.path)

    @property
    def period(self) -> str:
        """The analysed month, e.g. ``"2026-10"`` (``"all"`` for a whole-history run)."""
        return str(self.manifest["period"]["period"])

    @property
    def manifest(self) -> dict[str, Any]:
        """``manifest.json``: config, input hashes, row counts, versions, seconds per stage."""
        return self.results.manifest

    @property
    def status(self) -> dict[str, Any]:
        """``status.json``: state (succeeded / held / failed / running), reason, exit code."""
        return read_json(self._folder.status) if self._folder.status.exists() else {}

    @property
    def customers(self) -> pd.DataFrame:
        """One row per customer: features, sentiment, segment and membership strength."""
        return self.results.customers

    @property
    def reviews(self) -> pd.DataFrame | None:
        """One row per review in the window (text scrubbed of personal data) with its score."""
        return self.results.reviews

    @property
    def segments(self) -> pd.DataFrame:
        """One row per persona: id, name, description, size, share, stability."""
        rows = [{"segment_id": s["id"], "name": s["name"], "description": s["description"],
                 "size": s["size"], "share": s["share"],
                 "mean_membership_strength": s.get("mean_membership_strength"),
                 "stability": (s.get("stability") or {}).get("jaccard_mean")}
                for s in self._document("segments").get("segments", [])]
        return pd.DataFrame(rows, columns=["segment_id", "name", "description", "size", "share",
                                           "mean_membership_strength", "stability"])

    @property
    def drivers(self) -> pd.DataFrame:
        """The spend model's drivers, most important first: SHAP importance, interval, direction."""
        cols = ["rank", "feature", "label", "mean_abs_shap", "ci_low", "ci_high", "share",
                "direction", "within_noise"]
        rows = self._document("drivers").get("global_importance", [])
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)

    @property
    def states(self) -> pd.DataFrame:
        """Per US state: customers, mean and shrunk sentiment with intervals, LISA class."""
        cols = ["code", "name", "customers", "reviewers", "mean_positive_prob", "ci_low", "ci_high",
                "shrunk_positive_prob", "spend_per_customer", "insufficient_data", "lisa_class",
                "hotspot"]
        rows = self._document("states").get("states", [])
        return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)

    @property
    def changes(self) -> pd.DataFrame:
        """Headline numbers this month and, when last month's run exists, last month's and the change."""
        kpis = self._document("changes").get("kpis", {})
        frame = pd.DataFrame([{"kpi": k, **v} for k, v in kpis.items()])
        return frame.reindex(columns=["kpi", "current", "previous", "delta", "relative"])

    @property
    def site_path(self) -> Path:
        """The analyst site's front page (opens from disk)."""
        return self.path / "site" / "index.html"

    @property
    def pdf_path(self) -> Path:
        """The executive PDF."""
        return self.path / "pdf" / "executive-summary.pdf"

    @property
    def persona_pdf_paths(self) -> list[Path]:
        """One PDF per persona, in segment order."""
        return sorted((self.path / "pdf" / "personas").glob("*.pdf"))

    def _document(self, name: str) -> Mapping[str, Any]:
        return getattr(self.results, name) or {}

    def _repr_html_(self) -> str:
        """A summary for Jupyter: state, counts, the personas and links to the outputs."""
        esc = html.escape
        status = self.status.get("state", "unknown")
        totals = self.results.data_quality.get("totals", {})
        head = (f"<p><b>segment-report run {esc(self.period)}</b> ({esc(str(status))}): "
                f"{len(self.customers):,} customers, {totals.get('rows_kept', 0):,} of "
                f"{totals.get('rows_read', 0):,} rows kept, {totals.get('rows_quarantined', 0):,} "
                f"quarantined.</p>")
        seg = self.segments
        table = "".join(
            f"<tr><td>{int(r.segment_id)}</td><td>{esc(str(r.name))}</td>"
            f"<td style='text-align:right'>{int(r.size):,}</td>"
            f"<td style='text-align:right'>{r.share:.1%}</td></tr>" for r in seg.itertuples())
        links = " · ".join(f"<a href='{esc(p.as_uri())}'>{label}</a>"
                           for label, p in (("analyst site", self.site_path), ("executive PDF", self.pdf_path))
                           if p.exists())
        return (head + "<table><thead><tr><th>id</th><th>persona</th><th>customers</th>"
                f"<th>share</th></tr></thead><tbody>{table}</tbody></table><p>{links}</p>")


def _config(config: Config | str | Path | Mapping[str, Any] | None, overrides: dict[str, Any]) -> Config:
    """A validated Config from a Config, a YAML path, a dict in the YAML's shape or None (defaults)."""
    from segment_report.pipeline.config import validate_config

    if isinstance(config, (Config, Mapping)):
        source = "the Config passed in" if isinstance(config, Config) else "the dict passed in"
        return validate_config(config if isinstance(config, Config) else dict(config), overrides, source)
    return load_config(Path(config) if config is not None else None, overrides)


def run(config: Config | str | Path | Mapping[str, Any] | None = None, *, period: str | None = None,
        out: str | Path | None = None, input: str | Path | None = None, force: bool = False,
        email: bool = False, recipients: tuple[str, ...] = (), engine: str | None = None,
        scheduler: str | None = None, **overrides: Any) -> Run:
    """Run the whole pipeline for one period and publish its reports.

    Args:
        config: a YAML config path, a dict in the same shape, a :class:`Config`, or None for
            the defaults (then ``input`` is needed).
        period: ``YYYY-MM``, ``"last"`` or ``"all"`` (overrides ``run.period``).
        out: output root; the run folder is ``out/period`` (overrides ``run.out_dir``).
        input: a retail table (overrides ``input.path``).
        force: recompute an up-to-date period, re-score cached reviews, refit the segments.
        email: e-mail the executive PDF when the quality gates pass.
        recipients: addresses for ``email`` (default ``email.to``).
        engine: ``"local"`` or ``"dask"`` (overrides ``engine``).
        scheduler: the address of a running Dask scheduler (overrides ``dask.scheduler`` and
            implies ``engine="dask"``); ``engine="dask"`` without it starts a LocalCluster.
        **overrides: any config key in dotted form with ``__`` for the dots, e.g.
            ``segments__min_cluster_size=40``.

    Returns:
        The published :class:`Run`.

    Raises:
        ConfigError / InputDataError: bad configuration or inputs (exit code 2).
        QualityGateError: a gate held the report back (exit 3); the run is still published.
        DeliveryError: the e-mail failed (exit 4).
    """
    from segment_report.pipeline.runner import run_pipeline

    flat = {k.replace("__", "."): v for k, v in overrides.items()}
    flat.update({"run.period": period, "run.out_dir": out, "input.path": input,
                 "engine": "dask" if scheduler else engine, "dask.scheduler": scheduler})
    result = run_pipeline(_config(config, flat),
                          force=force, email=email, recipients=tuple(recipients))
    return Run(result.run_dir)


def render(run: Run | str | Path, formats: str | tuple[str, ...] = ("html", "pdf", "quarto")) -> list[Path]:
    """Re-render a run's reports from its ``results/`` (nothing is recomputed).

    Args:
        run: a :class:`Run` or a run folder.
        formats: any of ``html``, ``pdf``, ``quarto`` (a tuple or ``"html,pdf"``).

    Returns:
        The files written.
    """
    from segment_report.reports.render import parse_formats, render_run

    return render_run(run.path if isinstance(run, Run) else Path(run), parse_formats(formats))


def load_run(path: str | Path) -> Run:
    """Open a finished run folder without recomputing anything.

    Raises:
        InputDataError: the folder is not a finished run folder.
    """
    loaded = Run(path)
    loaded.results  # noqa: B018 - fail here, with a clear message, rather than on first use
    return loaded
