"""The typed, versioned contract of a run folder: one pydantic model per JSON file.

Every document carries ``schema_version``. The store validates a document against its model
when a stage's result is written (a stage cannot drift from the contract unnoticed) and when
a run is loaded (an old or foreign run folder gets a clear message, not a KeyError deep in a
report). Reports read these models; keys that are detail of one stage and read by one view
are typed as plain mappings and documented where they are built.

A change that removes or renames a key, or changes its meaning, bumps that document's
``SCHEMA_VERSION`` here; adding a key does not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

#: A JSON number: an int stays an int (counts), a float a float.
Number = int | float

class Record(BaseModel):
    """Base of every results model: typed attributes, plus read-only mapping access
    (``doc["key"]``, ``doc.get("key")``, ``dict(doc)``) so the views can read a document the way
    it is written on disk."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields or key in (self.model_extra or {}):
            return getattr(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when the document has no such key."""
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in type(self).model_fields or key in (self.model_extra or {}))

    def keys(self) -> list[str]:
        """The document's keys, as written on disk."""
        return [*type(self).model_fields, *(self.model_extra or {})]

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(key, value)`` pairs, as written on disk."""
        return ((k, getattr(self, k)) for k in self.keys())

    def values(self) -> list[Any]:
        """The document's values, in key order."""
        return [getattr(self, k) for k in self.keys()]

    def __iter__(self) -> Iterator[str]:  # type: ignore[override] - mapping iteration, like a dict
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())


# Views, pandas and Jinja read a document as the mapping it is on disk (``pd.DataFrame(rows)``,
# ``dict(doc)``); registering makes ``isinstance(doc, Mapping)`` say so.
Mapping.register(Record)


class Document(Record):
    """A whole results file: its ``FILE`` name in the run folder and its ``schema_version``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    FILE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: int = Field(1, description="version of this document's layout")


# --------------------------------------------------------------------------- manifest, status

class InputFile(Record):
    file: str
    sha256: str
    bytes: int


class StageRecord(Record):
    name: str
    reads: list[str] = []
    writes: list[str] = []


class Manifest(Document):
    """``manifest.json``: what made the run (config, inputs, versions, seed) and how long it took."""

    FILE: ClassVar[str] = "manifest.json"
    tool: Literal["segment-report"] = "segment-report"
    started_at: str
    wall_seconds: Number
    seed: int
    period: dict[str, Any]
    config: dict[str, Any]
    inputs: list[InputFile]
    row_counts: dict[str, int]
    stage_seconds: dict[str, Number]
    versions: dict[str, str]
    stages: list[StageRecord]
    fingerprint: str | None = None
    #: what ran the partitioned work: ``name`` (local | dask), workers, threads; for dask the
    #: scheduler and the dashboard link (absent in runs made before engines)
    engine: dict[str, Any] | None = None


class Status(Document):
    """``status.json``: the state of the latest attempt for the period."""

    model_config = ConfigDict(extra="allow", frozen=True)
    FILE: ClassVar[str] = "status.json"
    state: Literal["running", "succeeded", "failed", "held"]
    stage: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    updated_at: str


# --------------------------------------------------------------------------- results/

class Totals(Record):
    rows_read: int
    rows_kept: int
    duplicates_dropped: int = 0
    rows_quarantined: int


class DataQuality(Document):
    """``results/data_quality.json``: rows read / kept / quarantined by reason, missing values."""

    model_config = ConfigDict(extra="allow", frozen=True)
    FILE: ClassVar[str] = "results/data_quality.json"
    mode: str
    totals: Totals
    files: dict[str, Any]
    quarantined_by_reason: dict[str, int]
    reason_descriptions: dict[str, str]
    missing_values: dict[str, Any]
    customers: int
    reviews: int


class SentimentDoc(Document):
    """``results/sentiment.json``: the model card, scoring counts and agreement with ratings."""

    FILE: ClassVar[str] = "results/sentiment.json"
    model: dict[str, Any]
    scoring: dict[str, Any]
    customers: dict[str, Any]
    label_counts: dict[str, int]
    agreement_with_ratings: dict[str, Any] | None = None
    seconds: Number
    text_quality: dict[str, Any]


class Stability(Record):
    jaccard_mean: Number | None = None
    jaccard_min: Number | None = None
    confidence: str | None = None


class Segment(Record):
    id: int
    name: str
    description: str
    size: int
    share: Number
    noise_share: Number | None = None
    mean_membership_strength: Number | None = None
    profile: dict[str, Any]
    stability: Stability | None = None
    carry_over: dict[str, Any] | None = None


class Note(Record):
    """A diagnostic a stage emits (``segment_report.pipeline.stages.findings.note``): a ``code``
    from the stage's closed list and the numbers or names it needs;
    ``segment_report.reports.narrative.notes`` words it."""

    code: str
    params: dict[str, Any] = {}


class SegmentsSummary(Record):
    mode: str
    seed: int
    n_customers: int
    n_segments: int
    features: list[str]
    stability: dict[str, Any] | None = None
    warnings: list[Note] = []


class SegmentsDoc(Document):
    """``results/segments.json``: the personas, their profiles and stability."""

    FILE: ClassVar[str] = "results/segments.json"
    SCHEMA_VERSION: ClassVar[int] = 2  # 2: summary.warnings are notes (code + params), not text
    summary: SegmentsSummary
    segments: list[Segment]


class Finding(Record):
    """What a stage's results say, as data (``segment_report.pipeline.stages.findings``): the
    reports choose findings by ``kind`` and put them into words."""

    id: str
    kind: str
    numbers: dict[str, Any] = {}
    sources: dict[str, str] = {}
    refs: dict[str, Any] = {}


class DriverImportance(Record):
    feature: str
    label: str
    rank: int
    mean_abs_shap: Number
    ci_low: Number | None = None
    ci_high: Number | None = None
    share: Number
    within_noise: bool = False


class DriversDoc(Document):
    """``results/drivers.json``: the spend model, SHAP importance and what it found."""

    model_config = ConfigDict(extra="allow", frozen=True)
    FILE: ClassVar[str] = "results/drivers.json"
    # 2: findings replace the stage's sentences; 3: notes and dropped features are codes + params
    SCHEMA_VERSION: ClassVar[int] = 3
    status: str
    target: str
    n_customers: int
    notes: list[Note] = []
    global_importance: list[DriverImportance] = []
    group_importance: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    findings: list[Finding] = []


class StateRow(Record):
    code: str
    name: str
    customers: int
    reviewers: int | None = None
    mean_positive_prob: Number | None = None
    ci_low: Number | None = None
    ci_high: Number | None = None
    shrunk_positive_prob: Number | None = None
    insufficient_data: bool
    lisa_class: str | None = None
    hotspot: bool = False


class StatesDoc(Document):
    """``results/states.json``: sentiment per US state, intervals, shrinkage, spatial statistics."""

    model_config = ConfigDict(extra="allow", frozen=True)
    FILE: ClassVar[str] = "results/states.json"
    # 2: findings replace the stage's sentences; 3: method names and skip reason are codes
    SCHEMA_VERSION: ClassVar[int] = 3
    value_column: str
    min_customers: int
    coverage: dict[str, Any]
    national: dict[str, Any]
    spatial: dict[str, Any]
    states: list[StateRow]
    findings: list[Finding] = []


class KpiChange(Record):
    current: Number | None
    previous: Number | None = None
    delta: Number | None = None
    relative: Number | None = None


class ChangesDoc(Document):
    """``results/changes.json``: headline numbers and, with last month's run, their change and
    the persona migration matrix."""

    FILE: ClassVar[str] = "results/changes.json"
    SCHEMA_VERSION: ClassVar[int] = 2  # 2: notes are codes + params, not text
    period: str
    previous_period: str | None = None
    previous_run: dict[str, Any] | None = None
    kpis: dict[str, KpiChange]
    segments: list[dict[str, Any]] = []
    migration: dict[str, Any] | None = None
    notes: list[Note] = []


class ClvDoc(Document):
    """``results/clv.json``: churn risk and lifetime value per persona, the models and their
    time-split check (see ``segment_report.pipeline.stages.clv.stage``)."""

    FILE: ClassVar[str] = "results/clv.json"
    status: Literal["fitted", "skipped"]
    settings: dict[str, Any]
    history: dict[str, Any]
    model: dict[str, Any] | None = None
    totals: dict[str, Any] | None = None
    segments: list[dict[str, Any]] = []
    attention: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    notes: list[Note] = []


class Gate(Record):
    name: str
    passed: bool
    value: Number | None = None
    threshold: Number
    higher_is_better: bool
    context: dict[str, Any] = {}


class GatesDoc(Document):
    """``results/gates.json``: the quality gates, their values and whether the run passed."""

    FILE: ClassVar[str] = "results/gates.json"
    SCHEMA_VERSION: ClassVar[int] = 2  # 2: numbers only; reports.narrative.gates writes the words
    passed: bool
    failed: list[str] = []
    gates: list[Gate] = []


#: Every JSON document of a run folder, by the name the runner and the reports use.
DOCUMENTS: Mapping[str, type[Document]] = {
    "manifest": Manifest, "status": Status, "data_quality": DataQuality, "sentiment": SentimentDoc,
    "segments": SegmentsDoc, "drivers": DriversDoc, "states": StatesDoc, "changes": ChangesDoc,
    "clv": ClvDoc, "gates": GatesDoc,
}
