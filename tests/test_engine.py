"""Inputs in parts and the Dask engine: the same tables whichever way the data comes and runs.

The Dask tests use a LocalCluster of two worker *processes* (not threads), so that anything
that does not pickle, or that depends on the process (Python's salted ``hash``), shows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from segment_report.pipeline.config import InputConfig, PrivacyConfig, load_config
from segment_report.pipeline.engine import DaskExecutor, LocalExecutor
from segment_report.pipeline.stages.features import build_customer_features, build_features_partitioned, resolve_window
from segment_report.pipeline.stages.ingest.sources import input_parts
from segment_report.pipeline.stages.ingest.stage import ingest
from tests.conftest import invoke

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, shared by the module's tests."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        yield local


@pytest.fixture(scope="module")
def dask_executor(cluster):
    with distributed.Client(cluster) as client:
        yield DaskExecutor(client, slots=2)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Path:
    """A messy generated retail table (duplicates, invalid rows) and the same rows as three
    parts, dealt out in turn so that duplicates and customers span parts."""
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    root = tmp_path_factory.mktemp("parts")
    data = generate_dataset(GenerateConfig(n_transactions=3000, months=6, seed=3, messy=True), root / "one")
    single = data.data_files["retail_table"]
    raw = pd.read_csv(single, dtype=str, keep_default_na=False)
    parts = root / "parts"
    parts.mkdir()
    for i in range(3):
        raw.iloc[i::3].to_csv(parts / f"part-{i}.csv", index=False)
    (parts / "_SUCCESS").write_text("")
    return single


def _retail(path: Path) -> InputConfig:
    return InputConfig(mode="retail_table", path=path)


def _by_id(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def test_input_parts_file_glob_folder(messy):
    parts = messy.parent.parent / "parts"
    assert input_parts(messy, "retail table") == [(messy, messy.name)]
    folder = input_parts(parts, "retail table")
    assert [label for _, label in folder] == ["part-0.csv", "part-1.csv", "part-2.csv"]  # _SUCCESS skipped
    assert input_parts(Path(f"{parts}/part-*.csv"), "retail table") == folder


def test_parts_give_the_tables_of_one_file(messy):
    """The parts' rows are the file's rows (in another order): every kept table, every
    quarantined row and every count is the same; duplicates across parts are found."""
    one = ingest(_retail(messy), PrivacyConfig())
    many = ingest(_retail(messy.parent.parent / "parts"), PrivacyConfig())
    assert one.quality["files"]["retail_table"]["duplicates_dropped"] > 0
    for key in ("rows_read", "rows_kept", "duplicates_dropped", "rows_quarantined"):
        assert many.quality["totals"][key] == one.quality["totals"][key], key
    assert many.quality["quarantined_by_reason"] == one.quality["quarantined_by_reason"]
    assert many.quality["missing_values"] == one.quality["missing_values"]
    pd.testing.assert_frame_equal(_by_id(many.transactions, "transaction_id"),
                                  _by_id(one.transactions, "transaction_id"))
    pd.testing.assert_frame_equal(many.customers, one.customers)
    pd.testing.assert_frame_equal(_by_id(many.reviews, "review_id"), _by_id(one.reviews, "review_id"))
    parts = many.quality["files"]["retail_table"]["parts"]
    assert [p["file"] for p in parts] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    assert sum(p["rows_kept"] for p in parts) == one.quality["totals"]["rows_kept"]
    assert set(many.quarantine["source_file"]) <= {"part-0.csv", "part-1.csv", "part-2.csv"}
    content = [c for c in one.quarantine.columns if c not in ("source_file", "row")]
    key = ["reason_code", "Transaction_ID", "Customer_ID", "Date", "Total_Amount"]
    pd.testing.assert_frame_equal(_by_id(many.quarantine[content].sort_values(key), "reason_code"),
                                  _by_id(one.quarantine[content].sort_values(key), "reason_code"))


def test_customer_repeated_in_a_later_part_is_quarantined(tmp_path):
    """Mode tables: a customer id seen in an earlier part of the customers table is rejected
    as duplicate_customer_id, as it would be in one file."""
    folder = tmp_path / "customers"
    folder.mkdir()
    (folder / "a.csv").write_text("customer_id,age,state\nc1,30,Ohio\nc2,40,Texas\n")
    (folder / "b.csv").write_text("customer_id,age,state\nc2,41,Texas\nc3,50,Iowa\nc1,30,Ohio\n")
    tx = tmp_path / "tx.csv"
    tx.write_text("transaction_id,customer_id,date,total\nt1,c1,2026-09-01,10\nt2,c3,2026-09-02,20\n")
    cfg = InputConfig(mode="tables", customers={"path": folder}, transactions={"path": tx})
    result = ingest(cfg, PrivacyConfig())
    assert list(result.customers["customer_id"]) == ["c1", "c2", "c3"]
    assert result.customers.set_index("customer_id").loc["c2", "age"] == 40  # the first copy wins
    assert result.quality["files"]["customers"]["duplicates_dropped"] == 1  # b.csv's c1 row repeats a.csv's
    rejected = result.quarantine[result.quarantine["reason_code"] == "duplicate_customer_id"]
    assert list(zip(rejected["source_file"], rejected["row"])) == [("b.csv", 1)]


def test_dask_ingest_equals_local(messy, dask_executor):
    """Every part read and normalised on worker processes gives exactly the local tables."""
    parts = messy.parent.parent / "parts"
    local = ingest(_retail(parts), PrivacyConfig(), LocalExecutor())
    remote = ingest(_retail(parts), PrivacyConfig(), dask_executor)
    for name in ("transactions", "customers", "reviews", "quarantine"):
        pd.testing.assert_frame_equal(getattr(remote, name), getattr(local, name))
    assert remote.quality == local.quality


def test_dask_features_equal_local(messy, dask_executor):
    """Customer features on slices of customers, on the workers, equal the one-process table."""
    ingested = ingest(_retail(messy), PrivacyConfig())
    window = resolve_window(ingested.transactions["date"], "last", 12)
    local = build_customer_features(ingested.transactions, ingested.customers, ingested.reviews, window)
    remote = build_features_partitioned(dask_executor, ingested.transactions, ingested.customers,
                                        ingested.reviews, window, n_slices=5)
    pd.testing.assert_frame_equal(remote, local)


def test_worker_error_is_the_users_error(tmp_path, dask_executor):
    """A bad part read on a worker is reported as on one machine: the file, the problem, exit 2."""
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.csv").write_text("Customer_ID,Date,Total_Amount\nc1,2026-09-01,10\n")
    (folder / "b.csv").write_text("Customer_ID,Total_Amount\nc2,20\n")
    from segment_report.pipeline.errors import InputDataError

    with pytest.raises(InputDataError) as caught:
        ingest(_retail(folder), PrivacyConfig(), dask_executor)
    assert caught.value.exit_code == 2
    assert "b.csv" in caught.value.message and "'Date'" in caught.value.message


def test_unreachable_scheduler_is_exit_2(runner, small_retail, tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text("dask:\n  connect_timeout_s: 1\n")
    result = invoke(runner, "validate", "--config", config, "--input", small_retail, "--out", tmp_path / "out",
                    "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.output


def test_engine_flags(runner, small_retail, tmp_path):
    result = invoke(runner, "validate", "--input", small_retail, "--engine", "local", "--scheduler", "tcp://x:1")
    assert result.exit_code == 2 and "--scheduler is only used with --engine dask" in result.output
    cfg = load_config(None, {"engine": "dask", "dask.memory_limit": "2GB"})
    assert cfg.engine == "dask" and cfg.dask.scheduler is None


def test_dask_assignment_equals_local(dask_executor):
    """Customers outside the fitted sample are assigned in fixed chunks: on the workers they
    get exactly the segments, strengths and map positions they get in this process."""
    import numpy as np

    from segment_report.pipeline.stages.segments.clustering import Segmenter, predict_in_chunks

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, size=(4, 5))
    X = np.vstack([c + rng.normal(0, 1, size=(250, 5)) for c in centres])
    rng.shuffle(X)
    seg = Segmenter(min_segments=2, max_segments=6, random_state=1, n_epochs=50).fit(X[:500])
    local = predict_in_chunks(seg, X[500:], chunk=120)
    remote = predict_in_chunks(seg, X[500:], dask_executor, chunk=120)
    assert seg.n_segments_ >= 2
    for a, b in zip(local, remote):
        np.testing.assert_array_equal(a, b)


def test_dask_scores_equal_local(tmp_path, dask_executor, monkeypatch):
    """Reviews scored on the workers (the scorer, network included, sent to each) get exactly
    the local scores: the texts go through the network in the same fixed chunks, whose
    padding is what moves bf16 scores."""
    from segment_report.pipeline.config import SentimentConfig
    from segment_report.pipeline.stages.sentiment import scorer as scoring
    from tests.test_sentiment import NEGATIVE, POSITIVE, _tiny_checkpoint

    monkeypatch.setattr(scoring, "SCORE_CHUNK", 40)
    ckpt = _tiny_checkpoint(tmp_path / "ckpt", {0: "NEGATIVE", 1: "POSITIVE"})
    texts = [f"{t} {'really ' * (i % 7)}{i}" for i, t in enumerate((POSITIVE + NEGATIVE) * 25)]
    scorer = scoring.SentimentScorer(SentimentConfig(model=str(ckpt), precision="fp32"), None, device="cpu")
    local, local_quality, _ = scorer.score(texts, progress=None)
    remote, remote_quality, _ = scorer.score(texts, progress=None, executor=dask_executor)
    pd.testing.assert_frame_equal(remote, local)
    assert remote_quality == local_quality
    assert local["positive_prob"].nunique() > 10


_TIMING_KEYS = ("seconds", "texts_per_s", "timings", "created_unix", "wall")


def _without_timings(value):
    """A results document less what measures time (which differs run to run on any engine)."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if not any(t in k for t in _TIMING_KEYS) and not k.endswith("_s")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


@pytest.mark.slow
def test_run_on_dask_equals_local(tmp_path, cluster):
    """The whole run, local and on two worker processes, from monthly parts of messy data:
    every results document (less timings), the customer table, segments.csv and the
    quarantine are the same."""
    import json

    from segment_report import run
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset
    from tests.conftest import FAST_OVERRIDES

    data = generate_dataset(GenerateConfig(n_transactions=4000, months=6, seed=5, messy=True), tmp_path / "data")
    raw = pd.read_csv(data.data_files["retail_table"], dtype=str, keep_default_na=False)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(4):
        raw.iloc[i::4].to_csv(parts / f"export-{i}.csv", index=False)
    local = run(data.config_file, period="2026-10", out=tmp_path / "local", input=parts, **FAST_OVERRIDES)
    remote = run(data.config_file, period="2026-10", out=tmp_path / "dask", input=parts,
                 scheduler=cluster.scheduler_address, **FAST_OVERRIDES)
    manifest = json.loads((remote.path / "manifest.json").read_text())
    assert manifest["engine"]["name"] == "dask" and manifest["engine"]["workers"] == 2
    for doc in sorted((local.path / "results").glob("*.json")):
        mine = json.loads(doc.read_text())
        theirs = json.loads((remote.path / "results" / doc.name).read_text())
        assert _without_timings(theirs) == _without_timings(mine), doc.name
    for table in ("customers", "reviews", "shap_values"):
        pd.testing.assert_frame_equal(pd.read_parquet(remote.path / "results" / f"{table}.parquet"),
                                      pd.read_parquet(local.path / "results" / f"{table}.parquet"))
    for csv in ("data/segments.csv", "quarantine.csv"):
        assert (remote.path / csv).read_bytes() == (local.path / csv).read_bytes(), csv


class _KillOnStart(distributed.WorkerPlugin):
    """A worker plugin: the worker running a task whose name starts with ``prefix`` dies on
    the spot (``os._exit``), the first time only (a marker file says it happened) or always."""

    def __init__(self, prefix: str, marker: str, always: bool = False) -> None:
        self.prefix, self.marker, self.always = prefix, marker, always

    def transition(self, key, start, finish, **kwargs) -> None:
        import os

        name = key[0] if isinstance(key, tuple) else str(key)
        if finish == "executing" and name.startswith(self.prefix) and (self.always or not os.path.exists(self.marker)):
            Path(self.marker).touch()
            os._exit(1)


@pytest.fixture
def fresh_cluster():
    """A cluster of its own for a test that kills its workers."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as local:
        yield local


@pytest.mark.slow
def test_run_survives_a_killed_worker(tmp_path, fresh_cluster):
    """A worker killed while it reads an input part: Dask runs the part again on a live
    worker, the run succeeds and its tables are those of a local run."""
    from segment_report import run
    from tests.conftest import FAST_OVERRIDES

    parts = tmp_path / "parts"
    parts.mkdir()
    _parts_of_generated(tmp_path, parts)
    marker = tmp_path / "killed"
    with distributed.Client(fresh_cluster) as client:
        client.register_plugin(_KillOnStart("_retail_part", str(marker)))
        remote = run(None, period="2026-10", out=tmp_path / "dask", input=parts,
                     scheduler=fresh_cluster.scheduler_address, **FAST_OVERRIDES)
    assert marker.exists()  # a worker did die
    local = run(None, period="2026-10", out=tmp_path / "local", input=parts, **FAST_OVERRIDES)
    pd.testing.assert_frame_equal(pd.read_parquet(remote.path / "results" / "customers.parquet"),
                                  pd.read_parquet(local.path / "results" / "customers.parquet"))


@pytest.mark.slow
def test_workers_that_keep_dying_fail_the_run_cleanly(tmp_path, fresh_cluster, runner):
    """Every worker that computes customer features dies: after Dask's retries the run fails
    with exit 1 and a message, the published report is untouched and status.json says so."""
    from segment_report import run
    from tests.conftest import FAST_OVERRIDES, use_vader

    parts = tmp_path / "parts"
    parts.mkdir()
    _parts_of_generated(tmp_path, parts)
    published = run(None, period="2026-10", out=tmp_path / "out", input=parts, **FAST_OVERRIDES)
    before = (published.path / "results" / "segments.json").read_bytes()
    config = use_vader(tmp_path / "cfg.yaml")
    with distributed.Client(fresh_cluster) as client:
        client.register_plugin(_KillOnStart("build_customer_features", str(tmp_path / "killed"), always=True))
        result = invoke(runner, "run", "--config", config, "--input", parts, "--out", tmp_path / "out",
                        "--period", "2026-10", "--force", "--scheduler", fresh_cluster.scheduler_address)
    assert result.exit_code == 1, result.output
    assert "the Dask workers running a task kept dying" in result.stderr and "Traceback" not in result.output
    assert (published.path / "results" / "segments.json").read_bytes() == before
    status = (published.path / "status.json").read_text()
    assert '"failed"' in status and '"stage": "features"' in status
    assert "previous report in this folder is unchanged" in status


def _parts_of_generated(tmp_path: Path, parts: Path) -> None:
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    data = generate_dataset(GenerateConfig(n_transactions=2000, months=4, seed=9), tmp_path / "data")
    raw = pd.read_csv(data.data_files["retail_table"], dtype=str, keep_default_na=False)
    for i in range(3):
        raw.iloc[i::3].to_csv(parts / f"p{i}.csv", index=False)


def test_url_inputs_through_fsspec(messy, dask_executor):
    """A folder given as a URL is listed and fetched through fsspec, on the workers too
    (file:// here; s3://, gs://, abfs:// the same once their package is installed), and a
    part in memory:// reads as well: the same tables as the local folder."""
    import fsspec

    parts = messy.parent.parent / "parts"
    local = ingest(_retail(parts), PrivacyConfig())
    by_url = ingest(_retail(f"file://{parts}/"), PrivacyConfig(), dask_executor)
    for name in ("transactions", "customers", "reviews", "quarantine"):
        pd.testing.assert_frame_equal(getattr(by_url, name), getattr(local, name))
    assert [f["file"] for f in by_url.inputs] == [f"file://{parts}/part-{i}.csv" for i in range(3)]
    assert [f["sha256"] for f in by_url.inputs] == [f["sha256"] for f in local.inputs]

    memory = fsspec.filesystem("memory")
    for i in range(3):
        memory.pipe(f"/exports/part-{i}.csv", (parts / f"part-{i}.csv").read_bytes())
    in_memory = ingest(_retail("memory://exports/part-*.csv"), PrivacyConfig())
    pd.testing.assert_frame_equal(in_memory.transactions, local.transactions)
    assert in_memory.quality["files"]["retail_table"]["file"] == "part-*.csv (3 parts)"


def test_url_problems_are_input_errors():
    from segment_report.pipeline.errors import InputDataError

    with pytest.raises(InputDataError, match="file not found") as missing:
        ingest(_retail("memory://nowhere/retail.csv"), PrivacyConfig())
    assert missing.value.file == "memory://nowhere/retail.csv"
    with pytest.raises(InputDataError, match="not installed|cannot be read") as unknown:
        ingest(_retail("nosuchprotocol://bucket/retail.csv"), PrivacyConfig())
    assert "nosuchprotocol://bucket/retail.csv" in unknown.value.message


def test_object_storage_without_its_package_says_what_to_install():
    import importlib.util

    from segment_report.pipeline.errors import InputDataError

    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed here")
    with pytest.raises(InputDataError, match="not installed") as caught:
        ingest(_retail("s3://bucket/exports/"), PrivacyConfig())
    assert "pip install s3fs" in caught.value.message


def test_local_cluster_leaves_this_process_environment_alone(monkeypatch):
    """A nanny puts its workers' OMP_NUM_THREADS=1 into the environment of the process that
    starts it, which changed the client's UMAP layout; the engine puts it back."""
    import os

    from segment_report.pipeline.engine import open_executor

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = dict(os.environ)
    with open_executor(load_config(None, {"engine": "dask", "dask.n_workers": 1})) as executor:
        assert dict(os.environ) == before
        assert executor.gather(executor.map(os.getenv, ["OMP_NUM_THREADS"])) == ["1"]  # the worker's own
    assert dict(os.environ) == before


def test_readers_take_results_as_partitioned_datasets(fast_demo, tmp_path):
    """A cluster may write a table too big for one file as a Parquet dataset (a folder of
    parts): load_run and render read it as they read one file."""
    import shutil

    from segment_report import load_run, render
    from segment_report.pipeline.io.store import load_previous_run

    run_dir = tmp_path / "2026-10"
    shutil.copytree(fast_demo / "2026-10", run_dir)
    original = {}
    for name in ("customers", "reviews"):
        file = run_dir / "results" / f"{name}.parquet"
        original[name] = pd.read_parquet(file)
        file.unlink()
        file.mkdir()
        half = len(original[name]) // 2
        original[name].iloc[:half].to_parquet(file / "part-0.parquet")
        original[name].iloc[half:].to_parquet(file / "part-1.parquet")
    loaded = load_run(run_dir)
    pd.testing.assert_frame_equal(loaded.customers.reset_index(drop=True), original["customers"])
    assert render(loaded, "html")
    previous = load_previous_run(tmp_path, "2026-11")  # what November's comparison reads
    pd.testing.assert_frame_equal(previous.customers.reset_index(drop=True), original["customers"])
    assert previous.n_reviews == len(original["reviews"]) > 0
