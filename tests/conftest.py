"""Shared fixtures: tiny retail tables written to tmp folders, and a CLI runner."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from segment_report.pipeline.cli import cli

RETAIL_HEADER = ["Transaction_ID", "Customer_ID", "Name", "Email", "Phone", "Address", "City",
                 "State", "Zipcode", "Country", "Age", "Gender", "Income", "Customer_Segment",
                 "Date", "Year", "Month", "Time", "Total_Purchases", "Amount", "Total_Amount",
                 "Product_Category", "Product_Brand", "Product_Type", "Feedback",
                 "Shipping_Method", "Payment_Method", "Order_Status", "Ratings", "products"]


def retail_row(tid: int, cid: str, *, date: str = "2026-09-18", state: str = "Ohio",
               country: str = "USA", qty: str = "2", amount: str = "10", total: str = "20",
               category: str = "Clothing", feedback: str = "", rating: str = "",
               name: str = "Jane Doe", age: str = "34") -> dict[str, str]:
    """One row in the public retail layout with sensible defaults."""
    first = name.split()[0].lower()
    return {"Transaction_ID": str(tid), "Customer_ID": cid, "Name": name,
            "Email": f"{first}.{cid}@example.com", "Phone": f"(555) 201-{int(cid) % 10000:04d}" if cid.isdigit() else "",
            "Address": f"{tid} Oak Street", "City": "Columbus", "State": state, "Zipcode": "43004",
            "Country": country, "Age": age, "Gender": "Female", "Income": "Medium",
            "Customer_Segment": "Regular", "Date": date, "Year": "2026", "Month": "September",
            "Time": "10:00:00", "Total_Purchases": qty, "Amount": amount, "Total_Amount": total,
            "Product_Category": category, "Product_Brand": "Acme", "Product_Type": "Shirt",
            "Feedback": feedback, "Shipping_Method": "Standard", "Payment_Method": "Card",
            "Order_Status": "Delivered", "Ratings": rating, "products": "shirt"}


def write_retail(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    """Write rows as a retail-layout CSV."""
    header = header or RETAIL_HEADER
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def small_retail(tmp_path: Path) -> Path:
    """A valid retail table: 6 customers over two months, a few reviews."""
    rows = []
    tid = 1
    for c in range(6):
        for k in range(3):
            month = 9 if k < 2 else 10
            rows.append(retail_row(tid, str(1000 + c), date=f"2026-{month:02d}-{10 + c}",
                                   qty=str(1 + k), amount="12.5", total=f"{12.5 * (1 + k):.2f}",
                                   category=["Clothing", "Books", "Electronics"][k],
                                   feedback="Lovely fabric, fits well" if k == 0 else "",
                                   rating="5" if k == 0 else "", name=f"Ann{c} Smith{c}"))
            tid += 1
    return write_retail(tmp_path / "retail.csv", rows)


#: What a fast test's run changes in the config: VADER instead of the transformer, and the
#: sentiment gate relaxed (VADER agrees with star ratings less than the shipped model).
FAST_SENTIMENT = {"sentiment": {"model": "vader"}, "gates": {"min_sentiment_macro_f1": 0.0}}
#: The same as keyword overrides of ``segment_report.run``.
FAST_OVERRIDES = {f"{section}__{key}": value for section, values in FAST_SENTIMENT.items()
                  for key, value in values.items()}


def use_vader(config: Path) -> Path:
    """Rewrite a config file in place so its runs score with VADER (see FAST_SENTIMENT)."""
    import yaml

    cfg = yaml.safe_load(config.read_text(encoding="utf-8")) if config.exists() else {}
    for section, values in FAST_SENTIMENT.items():
        cfg.setdefault(section, {}).update(values)
    config.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return config


@pytest.fixture
def vader_config(tmp_path: Path) -> Path:
    """A config file that only switches sentiment to VADER, for ``run --input ... --config``."""
    return use_vader(tmp_path / "vader.yaml")


@pytest.fixture
def runner() -> CliRunner:
    """A Click test runner (stderr kept separate)."""
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    """Run the CLI in-process and return the result (exit code, stdout, stderr)."""
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


CLI = [sys.executable, "-m", "segment_report"]


def pytest_collection_modifyitems(config, items):
    """Tests that use the real-model ``demo`` run are slow (the transformer scores every review)."""
    for item in items:
        if "demo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="session")
def _fast_tests_never_load_the_shipped_transformer(request):
    """The README promises that ``pytest -m "not slow"`` never loads the real model: in such a
    session, loading it fails the test (fixtures included) that did, naming it. Such a test is
    marked slow, or scores with VADER (``use_vader``) or a tiny checkpoint."""
    if "not slow" not in (request.config.getoption("markexpr") or ""):
        yield
        return
    from segment_report.pipeline.stages.sentiment import scorer as sentiment

    load = sentiment.load_adapter_model

    def guarded(path, *args, **kwargs):
        if Path(path).resolve() == Path(sentiment.SHIPPED_MODEL_DIR).resolve():
            raise AssertionError("a test run with -m 'not slow' loads the shipped transformer: "
                                 "mark the test slow or score with VADER (tests/conftest.py use_vader)")
        return load(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sentiment, "load_adapter_model", guarded)
        yield


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """``segment-report demo`` on 3,000 transactions, run once per test session (the installed CLI
    in a subprocess, the shipped transformer); returns the demo folder (``data/`` + two period
    folders). Tests that change a run must copy it first. Every test using it is marked slow."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    proc = subprocess.run([*CLI, "-q", "demo", "--out", str(out), "--transactions", "3000"],
                          capture_output=True, text=True, cwd=out.parent, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def fast_demo(tmp_path_factory) -> Path:
    """The demo's data and two months (3,000 transactions) run through the Python API with
    VADER in place of the transformer (FAST_SENTIMENT), so the fast tests get a complete run
    folder (every stage, every report) without loading the model. Same layout as :func:`demo`;
    tests that change a run must copy it first."""
    from segment_report import run
    from segment_report.pipeline.synthetic import GenerateConfig, generate_dataset

    out = tmp_path_factory.mktemp("fast-demo") / "demo"
    data = generate_dataset(GenerateConfig(n_transactions=3000, seed=42), out / "data")
    for period in ("2026-09", "2026-10"):
        run(data.config_file, period=period, out=out, **FAST_OVERRIDES)
    return out


def demo_run_dir(demo: Path) -> Path:
    """The demo's last period folder (the demo runs two months; the last shows what changed)."""
    run_dirs = sorted(p for p in demo.iterdir() if p.is_dir() and p.name != "data" and not p.name.startswith("."))
    assert [p.name for p in run_dirs] == ["2026-09", "2026-10"], run_dirs
    return run_dirs[-1]
