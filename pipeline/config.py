"""One configuration tree, validated once at the door.

The YAML file (``--config``) and command-line flags are merged into a plain dict, then
validated into the frozen pydantic models below. Unknown keys and wrong types are rejected
with a :class:`~segment_report.pipeline.errors.ConfigError` naming the key, what is allowed and what was
received. ``config.example.yaml`` in the repository documents every key.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from segment_report.pipeline.errors import ConfigError, check_reachable, os_error_to_input_error


class StrictModel(BaseModel):
    """Base for every config section: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- input

class RetailColumns(StrictModel):
    """Column names of the single retail table (defaults: the public Retail Transactional Dataset).

    Set a name to ``null`` when the file has no such column. ``name``, ``email``, ``phone``,
    ``address``, ``city`` and ``zipcode`` are personal data: they are read only to be dropped
    (and to scrub review text) and never reach any output.
    """

    transaction_id: str | None = "Transaction_ID"
    customer_id: str = "Customer_ID"
    name: str | None = "Name"
    email: str | None = "Email"
    phone: str | None = "Phone"
    address: str | None = "Address"
    city: str | None = "City"
    zipcode: str | None = "Zipcode"
    state: str | None = "State"
    country: str | None = "Country"
    age: str | None = "Age"
    gender: str | None = "Gender"
    income: str | None = "Income"
    date: str = "Date"
    quantity: str | None = "Total_Purchases"
    amount: str | None = "Amount"
    total: str | None = "Total_Amount"
    category: str | None = "Product_Category"
    brand: str | None = "Product_Brand"
    product_type: str | None = "Product_Type"
    shipping_method: str | None = "Shipping_Method"
    payment_method: str | None = "Payment_Method"
    order_status: str | None = "Order_Status"
    review_text: str | None = "Feedback"
    rating: str | None = "Ratings"


class CustomerColumns(StrictModel):
    """Column names of the customers file in mode ``tables``."""

    customer_id: str = "customer_id"
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    city: str | None = None
    zipcode: str | None = None
    state: str | None = "state"
    country: str | None = "country"
    age: str | None = "age"
    gender: str | None = "gender"
    income: str | None = "income"


class TransactionColumns(StrictModel):
    """Column names of the transactions file in mode ``tables``."""

    transaction_id: str | None = "transaction_id"
    customer_id: str = "customer_id"
    date: str = "date"
    quantity: str | None = "quantity"
    amount: str | None = None
    total: str | None = "total"
    category: str | None = "category"
    brand: str | None = None
    product_type: str | None = None
    shipping_method: str | None = None
    payment_method: str | None = None
    order_status: str | None = None


class ReviewColumns(StrictModel):
    """Column names of the reviews file in mode ``tables``."""

    review_id: str | None = "review_id"
    customer_id: str = "customer_id"
    date: str | None = "date"
    text: str = "text"
    rating: str | None = "rating"
    title: str | None = None


def _as_location(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


#: where an input is: a local file, glob or folder, or an fsspec URL (``s3://bucket/exports/``);
#: kept as text, since a Path would turn ``s3://b/k`` into ``s3:/b/k``
Location = Annotated[str, BeforeValidator(_as_location)]


class TableFile(StrictModel):
    """One input (a file, a glob, a folder of parts or a URL) and its column mapping."""

    path: Location
    columns: dict[str, str | None] = Field(default_factory=dict)


class InputConfig(StrictModel):
    """Where the data comes from and how to read it."""

    mode: Literal["retail_table", "tables"] = "retail_table"
    path: Location | None = None
    columns: RetailColumns = RetailColumns()
    customers: TableFile | None = None
    transactions: TableFile | None = None
    reviews: TableFile | None = None
    encoding: str = "utf-8"
    date_format: str = "auto"
    dayfirst: bool = False
    us_country_names: tuple[str, ...] = ("usa", "us", "u.s.", "u.s.a.", "united states",
                                         "united states of america", "america")
    extra_pii_columns: tuple[str, ...] = ()
    max_field_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)

    @field_validator("date_format")
    @classmethod
    def _check_date_format(cls, value: str) -> str:
        if value == "auto":
            return value
        import pandas as pd

        try:  # an unknown directive (%Q) only fails when a date is parsed: fail here instead
            pd.to_datetime(pd.Series(["2026-09-18"]), format=value, errors="coerce")
        except ValueError as exc:
            raise ValueError(f"must be 'auto' or a strptime format such as '%d/%m/%Y' ({exc})") from None
        return value

    @model_validator(mode="after")
    def _check_mode_files(self) -> InputConfig:
        if self.mode == "tables":
            missing = [k for k in ("customers", "transactions") if getattr(self, k) is None]
            if missing:
                raise ValueError(
                    f"mode 'tables' needs input.customers and input.transactions "
                    f"(input.reviews is optional); missing: {', '.join('input.' + m for m in missing)}"
                )
            for key, cls in (("customers", CustomerColumns), ("transactions", TransactionColumns),
                             ("reviews", ReviewColumns)):
                table = getattr(self, key)
                if table is None:
                    continue
                unknown = sorted(set(table.columns) - set(cls.model_fields))
                if unknown:
                    raise ValueError(
                        f"input.{key}.columns has unknown key(s) {unknown}; "
                        f"allowed: {sorted(cls.model_fields)}"
                    )
        return self

    def table_columns(self, table: Literal["customers", "transactions", "reviews"]) -> BaseModel:
        """The validated column mapping of one file in mode ``tables``."""
        cls = {"customers": CustomerColumns, "transactions": TransactionColumns,
               "reviews": ReviewColumns}[table]
        spec = getattr(self, table)
        return cls(**(spec.columns if spec else {}))


class PrivacyConfig(StrictModel):
    """Customer-id pseudonymisation and how review text is scrubbed of phone numbers. Names,
    e-mails, phones and addresses are always dropped.

    ``phone_regions``: regions (ISO 3166 codes, e.g. ``US``, ``GB``, ``DE``) whose national
    formats libphonenumber looks for in review text; numbers written with ``+`` or ``00`` are
    found whatever the list. ``phone_leniency``: how sure libphonenumber must be
    (``strict_grouping``: a valid number whose digits are grouped as the region writes them,
    so "sizes 32 34 36 38 40" is not a Los Angeles number; ``valid``: any valid number;
    ``possible``: any of a possible length). A fallback catches long digit runs either way.
    """

    hash_customer_ids: bool = False
    salt: str | None = None
    salt_env: str = "SEGMENT_REPORT_SALT"
    phone_regions: tuple[str, ...] = ("US",)
    phone_leniency: Literal["possible", "valid", "strict_grouping", "exact_grouping"] = "strict_grouping"

    @field_validator("phone_regions")
    @classmethod
    def _check_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import phonenumbers

        value = tuple(v.upper() for v in value)
        unknown = [v for v in value if v not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown region(s) {unknown}: use ISO 3166 codes such as US, GB, DE")
        return value


class RunConfig(StrictModel):
    """Which period to analyse and where to write.

    ``spreadsheet_safe_csv``: CSV files (``data/segments.csv``, ``quarantine.csv``, ``sentiment
    score`` output) get a single quote before any text cell a spreadsheet would run as a
    formula (one starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return); ``false``
    writes cells as they are, for machine consumers.
    """

    out_dir: Path = Path("reports-out")
    period: str = "last"
    lookback_months: int = Field(12, ge=1, le=120)
    spreadsheet_safe_csv: bool = True

    @field_validator("period")
    @classmethod
    def _check_period(cls, value: str) -> str:
        import re

        if value not in ("last", "all") and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            raise ValueError("must be 'last', 'all' or a month like '2026-10'")
        return value


# --------------------------------------------------------------------------- stages

class SentimentConfig(StrictModel):
    """Review sentiment model and scoring (see pipeline/stages/sentiment/labels.py for the label rules).

    ``model``: ``default`` (shipped MiniLM + LoRA), ``vader`` or a local Hugging Face checkpoint
    folder. ``batch_size``: texts per forward pass for ~128-token texts (shorter texts are packed
    more per batch); ``null`` = 8 on CPU (measured fastest on 2 cores), 64 on a GPU.
    ``precision``: ``fp32``, ``bf16`` or ``int8`` (dynamic quantisation, CPU only); ``auto`` = fp32
    on a GPU; on a CPU bf16 where it has native bf16 instructions (AVX512-BF16 / AMX), else int8
    for a model whose card carries a measured int8 neutral band (the shipped one), else fp32.
    ``neutral_band``: ``[low, high]`` on positive_prob labelled neutral for 2-class models
    (``null``: the model card's tuned band). ``fine_tune``: fine-tune on the run's rated reviews
    and keep the better model on a held-out split (``fine_tune_test_size`` of the rated reviews,
    at most ``fine_tune_epochs`` epochs / ``fine_tune_max_minutes`` minutes). ``adapt_prior``:
    adjust the shipped (or a self-trained) model's scores to the scored reviews' own share of
    positive reviews, estimated by EM (see ``pipeline.sentiment.estimate_positive_share``).
    """

    model: str = "default"
    batch_size: int | None = Field(None, ge=1, le=4096)
    max_length: int = Field(256, ge=8, le=512)
    precision: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    threads: int | None = Field(None, ge=1)
    cache: bool = True
    cache_dir: Path | None = None
    fine_tune: bool = False
    fine_tune_epochs: int = Field(3, ge=1, le=50)
    fine_tune_max_minutes: float = Field(30.0, gt=0)
    fine_tune_test_size: float = Field(0.2, gt=0.0, lt=0.9)
    neutral_band: tuple[float, float] | None = None
    negative_ratings: tuple[int, ...] = (1, 2)
    neutral_ratings: tuple[int, ...] = (3,)
    positive_ratings: tuple[int, ...] = (4, 5)
    recency_half_life_days: float = Field(90.0, gt=0)
    adapt_prior: bool = True

    @model_validator(mode="after")
    def _check_sentiment(self) -> SentimentConfig:
        if self.neutral_band is not None:
            low, high = self.neutral_band
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(f"sentiment.neutral_band must be [low, high] with "
                                 f"0 <= low <= high <= 1; got {list(self.neutral_band)}")
        seen: dict[int, str] = {}
        for name in ("negative_ratings", "neutral_ratings", "positive_ratings"):
            for r in getattr(self, name):
                if r in seen:
                    raise ValueError(f"rating {r} is in both sentiment.{seen[r]} and "
                                     f"sentiment.{name}; each rating may map to one label only")
                seen[r] = name
        return self


class SegmentsConfig(StrictModel):
    """Customer features -> UMAP -> HDBSCAN -> personas."""

    features: tuple[str, ...] | None = None
    n_components: int = Field(8, ge=2, le=50)
    n_neighbors: int = Field(30, ge=2)
    min_dist: float = Field(0.0, ge=0.0, le=1.0)
    min_segments: int = Field(4, ge=1)
    max_segments: int = Field(10, ge=1)
    min_cluster_size: int | None = Field(None, ge=2)
    min_samples: int | None = Field(None, ge=1)
    assign_noise: bool = True
    fit_sample_size: int = Field(20000, ge=100)
    n_epochs: int | None = Field(None, ge=10)
    stability_runs: int = Field(5, ge=0)
    stability_sample_size: int = Field(2000, ge=100)
    deterministic: bool = True
    reuse_model: Path | None = None
    reuse_previous: bool = True

    @model_validator(mode="after")
    def _check_range(self) -> SegmentsConfig:
        if self.min_segments > self.max_segments:
            raise ValueError(
                f"segments.min_segments ({self.min_segments}) must be <= "
                f"segments.max_segments ({self.max_segments})"
            )
        return self


class DriversConfig(StrictModel):
    """RandomForest spend model explained with SHAP.

    Depth 8 (not deeper) keeps TreeSHAP fast: its cost grows with leaves x depth^2 per tree,
    and depth 12 made SHAP for 2,000 rows take ~70 s on 2 cores against ~7 s at depth 8.
    Each tree sees ``max_samples`` of the training rows, at most ``max_tree_rows``: at 100k
    customers 5,000 rows per tree halve the fit time for the same held-out R² (0.965 vs 0.966).
    ``shap_sample_size`` customers are explained (stratified by segment, at least
    ``shap_min_per_segment`` each); ``bootstrap_reps`` resamples give ``ci_level`` intervals.
    Features are "within noise" when their mean |SHAP| interval reaches the random-probe floor,
    their effect interval includes zero, or their share of importance is below ``min_share``.
    Leakage: a feature, or a pair's product / ratio / sum, scoring >= ``leakage_r2`` against the
    target on ``leakage_sample_size`` rows is excluded (plus ``exclude_features``).
    ``target_label`` names the target in the report sentences; ``currency_symbol`` is the
    symbol of every amount in every report of the run.
    """

    target: str = "monetary"
    target_label: str = "spend"
    currency_symbol: str = "$"
    exclude_features: tuple[str, ...] = ()
    n_estimators: int = Field(300, ge=10)
    max_depth: int | None = Field(8, ge=1)
    min_samples_leaf: int = Field(5, ge=1)
    max_samples: float | None = Field(0.3, gt=0.0, le=1.0)
    max_tree_rows: int | None = Field(5000, ge=100)
    max_features: float = Field(0.5, gt=0.0, le=1.0)
    n_jobs: int = -1
    shap_sample_size: int = Field(2000, ge=50)
    shap_min_per_segment: int = Field(50, ge=1)
    shap_backend: Literal["auto", "cpu", "gpu"] = "auto"
    bootstrap_reps: int = Field(200, ge=20)
    ci_level: float = Field(0.95, gt=0.5, lt=1.0)
    top_n: int = Field(5, ge=1, le=20)
    min_share: float = Field(0.02, ge=0.0, lt=1.0)
    leakage_r2: float = Field(0.98, gt=0.5, le=1.0)
    leakage_sample_size: int = Field(10000, ge=100)
    max_category_levels: int = Field(12, ge=2)
    test_size: float = Field(0.25, gt=0.0, lt=0.9)
    min_customers: int = Field(50, ge=10)
    membership: bool = True
    membership_n_estimators: int = Field(60, ge=10)
    membership_max_depth: int | None = Field(6, ge=1)
    membership_sample_size: int = Field(10000, ge=100)
    membership_shap_rows: int = Field(600, ge=50)
    membership_min_size: int = Field(10, ge=2)


class GeographyConfig(StrictModel):
    """Per-state sentiment, shrinkage and spatial autocorrelation.

    ``min_customers``: states with fewer customers are greyed out, never ranked or tested.
    ``permutations``: conditional permutations for Moran's I and LISA pseudo p-values.
    ``alpha``: significance level; local p-values are Benjamini-Hochberg FDR-adjusted at it.
    ``value_column``: the customer sentiment column mapped (``positive_prob`` or
    ``positive_prob_recent``). ``islands``: what to do with regions that share no border
    (Alaska, Hawaii): ``exclude`` them from Moran's I / LISA, or link each to its
    ``nearest`` region. ``lisa_engine``: ``numpy`` draws the LISA permutations in numpy
    (esda's own ``esda`` engine compiles numba code for ~12 s per process on a 2-core machine).
    ``geojson`` + ``key_column`` (+ optional ``name_column``): any other
    GeoJSON whose key values are matched against the customers' ``region_column``.
    """

    min_customers: int = Field(30, ge=1)
    permutations: int = Field(9999, ge=99)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    value_column: Literal["positive_prob", "positive_prob_recent"] = "positive_prob"
    islands: Literal["exclude", "nearest"] = "exclude"
    lisa_engine: Literal["numpy", "esda"] = "numpy"
    geojson: Path | None = None
    key_column: str | None = None
    name_column: str | None = None
    region_column: str = "state"

    @model_validator(mode="after")
    def _check_geojson_key(self) -> GeographyConfig:
        if self.geojson is not None and not self.key_column:
            raise ValueError("geography.geojson needs geography.key_column (the property that "
                             "names each region, e.g. 'PRENAME' for Canadian provinces)")
        return self


class ReportsConfig(StrictModel):
    """Which reports ``run`` publishes, and their title."""

    formats: tuple[Literal["html", "pdf", "quarto"], ...] = ("html", "pdf", "quarto")
    title: str = "Customer segments"


class EmailConfig(StrictModel):
    """Delivery of the executive PDF by SMTP.

    Host, port, user, from-address and TLS mode may also come from the environment
    (SEGMENT_REPORT_SMTP_HOST, _PORT, _USER, _FROM, _TLS), which wins over this file. The
    password is read only from the environment variable ``password_env`` or the file
    ``password_file``, never from a flag or this file.
    """

    to: tuple[str, ...] = ()
    from_address: str = "segment-report@localhost"
    subject: str = "Customer segments report, {period}"
    smtp_host: str = "localhost"
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str | None = None
    tls: Literal["starttls", "ssl", "none"] = "starttls"
    password_env: str = "SEGMENT_REPORT_SMTP_PASSWORD"
    password_file: Path | None = None
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(2.0, ge=0)
    attach_personas: bool = False
    site_url: str | None = None


class ClvConfig(StrictModel):
    """Churn risk and customer lifetime value from each customer's purchase history up to the
    window end: a Modified BG/NBD model for orders and dropout and a Gamma-Gamma model for
    order value (pymc-marketing, fitted by MAP). Time is counted in days; orders on the same
    day count once.

    ``at_risk_below``: a customer whose probability of still being active is below this is
    at risk. ``holdout_months``: the time-split check fits on the history up to this many
    months before the window end and compares its predictions with what happened after
    (at most the history less one month).
    The stage is skipped (with a note, no numbers) when the purchase history is shorter than
    ``min_history_months`` or has fewer than ``min_repeat_customers`` customers with a second
    order. The models are fitted on a seeded sample of at most ``fit_sample_size`` customers
    (their 4 + 3 population parameters are well determined long before that); every
    customer is scored.
    """

    enabled: bool = True
    horizon_months: int = Field(6, ge=1, le=36)
    monthly_discount_rate: float = Field(0.0, ge=0.0, le=0.2)
    at_risk_below: float = Field(0.5, gt=0.0, lt=1.0)
    holdout_months: int = Field(3, ge=1, le=36)
    min_history_months: int = Field(4, ge=2)
    min_repeat_customers: int = Field(100, ge=10)
    fit_sample_size: int = Field(20000, ge=500)

    @model_validator(mode="after")
    def _check_holdout(self) -> ClvConfig:
        """An explicit hold-out must leave history to fit on."""
        if self.holdout_months >= self.min_history_months:
            raise ValueError(f"clv.holdout_months ({self.holdout_months}) must be less than "
                             f"clv.min_history_months ({self.min_history_months}): the check needs "
                             "history before the hold-out months to fit on")
        return self

    def holdout_for(self, history_months: int) -> int:
        """The hold-out months of the time-split check for a history of ``history_months``."""
        return max(1, min(self.holdout_months, history_months - 1))


class GatesConfig(StrictModel):
    """Quality gates checked after every run. A run that fails one is still published (so
    analysts can see why) but marked ``held`` in status.json, exits with code 3 and is not
    e-mailed. ``null`` switches a single gate off; ``enabled: false`` switches all off.
    """

    enabled: bool = True
    min_customers: int | None = Field(50, ge=1)
    max_quarantined_share: float | None = Field(0.10, ge=0.0, le=1.0)
    min_segment_stability: float | None = Field(0.6, ge=0.0, le=1.0)
    min_value_model_r2: float | None = Field(0.2, le=1.0)
    min_sentiment_macro_f1: float | None = Field(0.5, ge=0.0, le=1.0)
    min_rated_reviews: int = Field(50, ge=1)


class DaskConfig(StrictModel):
    """Where ``engine: dask`` runs (README "Running on a cluster").

    ``scheduler``: the address of a running Dask scheduler (``tcp://host:8786``); empty starts
    a LocalCluster of ``n_workers`` worker processes (default: one per core) with
    ``threads_per_worker`` threads and ``memory_limit`` each (``auto``: the machine's memory
    shared out, or e.g. ``6GB``). ``connect_timeout_s``: how long to wait for the scheduler
    before giving up with exit code 2.
    """

    scheduler: str | None = None
    n_workers: int | None = Field(None, ge=1, le=512)
    threads_per_worker: int = Field(1, ge=1, le=64)
    memory_limit: str = "auto"
    connect_timeout_s: float = Field(10.0, gt=0, le=600)


class Config(StrictModel):
    """The whole configuration tree."""

    seed: int = 42
    #: ``local`` runs every stage in this process; ``dask`` runs the partitioned stages on a
    #: Dask cluster (``dask`` section), with the same run folder.
    engine: Literal["local", "dask"] = "local"
    dask: DaskConfig = DaskConfig()
    input: InputConfig = InputConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    run: RunConfig = RunConfig()
    sentiment: SentimentConfig = SentimentConfig()
    segments: SegmentsConfig = SegmentsConfig()
    drivers: DriversConfig = DriversConfig()
    geography: GeographyConfig = GeographyConfig()
    clv: ClvConfig = ClvConfig()
    reports: ReportsConfig = ReportsConfig()
    email: EmailConfig = EmailConfig()
    gates: GatesConfig = GatesConfig()


# --------------------------------------------------------------------------- loading

def set_dotted(tree: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Set ``tree['a']['b'] = value`` for ``dotted_key='a.b'``, creating sections as needed."""
    parts = dotted_key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML config file into a dict, with clear errors for missing or malformed files."""
    path = Path(path)
    check_reachable(path, "config file", role="config")
    if not path.exists():
        raise ConfigError("config file not found", file=str(path),
                          expected="a YAML file", fix="check the path given to --config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:  # a folder, no permission, a name too long...
        raise os_error_to_input_error(exc, "config file", role="config", path=path) from None
    except UnicodeDecodeError:
        raise ConfigError("config file is not UTF-8 text", file=str(path),
                          expected="a UTF-8 YAML file", fix="re-save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}", file=str(path),
                          expected="a YAML mapping of sections (see config.example.yaml)",
                          fix="fix the YAML syntax (indentation, colons, quotes)") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"the top level is a {type(data).__name__}, not a mapping", file=str(path),
                          expected="a YAML mapping such as 'seed: 42'",
                          fix="start the file with section keys (see config.example.yaml)")
    return data


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Config
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
        # unwrap Optional[Model]
        for arg in getattr(model, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                model = arg
    return sorted(getattr(model, "model_fields", {}))


def _format_validation_error(exc: ValidationError, source: str) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        received = err.get("input")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"unknown key '{key}'{hint}; allowed keys here: {', '.join(allowed)}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"'{key}': {msg}; got {received!r}")
    return ConfigError(
        "invalid configuration:\n  - " + "\n  - ".join(lines),
        file=source,
        expected="keys and values as documented in config.example.yaml",
        fix="correct the listed keys in the config file or flags",
    )


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load and validate the configuration.

    Args:
        path: optional YAML file; relative input paths in it are resolved against its folder.
        overrides: dotted keys from command-line flags (``{"run.period": "2026-10"}``); ``None``
            values are ignored so unset flags never override the file.

    Returns:
        The validated, frozen :class:`Config`.

    Raises:
        ConfigError: the file is missing or malformed, a key is unknown or a value invalid.
    """
    raw: dict[str, Any] = read_yaml(path) if path is not None else {}
    raw = copy.deepcopy(raw)
    if path is not None:
        _resolve_relative_paths(raw, Path(path).resolve().parent)
    return validate_config(raw, overrides, str(path) if path else "command-line options")


def validate_config(raw: dict[str, Any] | Config, overrides: dict[str, Any] | None = None,
                    source: str = "the configuration passed in") -> Config:
    """Validate a config tree (a dict in the YAML's shape, or a Config) with dotted overrides.

    Raises:
        ConfigError: a key is unknown or a value invalid; ``source`` names where it came from.
    """
    raw = raw.model_dump() if isinstance(raw, Config) else copy.deepcopy(raw)
    for key, value in (overrides or {}).items():
        if value is not None:
            set_dotted(raw, key, value)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise _format_validation_error(exc, source) from None


def _resolve_relative_paths(raw: dict[str, Any], base: Path) -> None:
    """Paths written in a config file are relative to that file, not to the working directory
    (``run.out_dir`` excepted: output goes where the command is run)."""

    def fix(section: Any, key: str) -> None:
        if isinstance(section, dict) and isinstance(section.get(key), str):
            value = section[key]
            if key == "model" and value in ("default", "vader"):
                return
            if "://" in value:  # a URL (s3://, file://) is where it says
                return
            if not Path(value).is_absolute():
                section[key] = str(base / value)

    inp = raw.get("input")
    fix(inp, "path")
    if isinstance(inp, dict):
        for table in ("customers", "transactions", "reviews"):
            fix(inp.get(table), "path")
    for section, key in (("geography", "geojson"), ("segments", "reuse_model"),
                         ("email", "password_file"), ("sentiment", "cache_dir"),
                         ("sentiment", "model")):
        fix(raw.get(section), key)


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """A JSON-serialisable copy of the config (for manifest.json); secrets are masked."""
    data = cfg.model_dump(mode="json")
    if data.get("privacy", {}).get("salt"):
        data["privacy"]["salt"] = "***"
    return data
