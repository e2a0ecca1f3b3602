"""The Dask engine against the local one: same outputs, seconds per stage, peak memory of every process.

Usage::

    python benchmarks/bench_engine.py --transactions 1000000 --work /tmp/bench-engine
    python benchmarks/bench_engine.py --data ref/ --engines local,dask1,dask2 --vader
    python benchmarks/bench_engine.py --data big/ --engines dask2 --memory-limit 6GB --vader

The data are ``segment-report generate --transactions N --months 12`` unless ``--data`` names a
folder that ``generate`` wrote (its ``segment-report.yaml`` is read; ``--parts`` splits the
retail table into one CSV per month first). Every engine runs the same period with every
default in a fresh process (``python -m segment_report run``); ``local`` is ``engine: local``,
``daskN`` a LocalCluster of N single-threaded workers (``--memory-limit`` each). While it runs,
the process tree is sampled every 0.5 s (psutil) for the peak RSS of every process: the client,
each worker, each nanny.

Then the outputs of every engine are compared with the first one's: row counts and the
quarantine file, the customer feature table (``results/customers.parquet``), the KPIs in
``segments.json`` / ``changes.json`` / ``data_quality.json`` and the segment of every customer
(``data/segments.csv``). ``--vader`` scores with VADER instead of the transformer (to keep a
10M run within the hour); ``--json`` writes everything to a file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import yaml

STAGES = ("ingest", "features", "sentiment", "segments", "drivers", "clv", "geography", "changes",
          "gates", "reports")
TIMING_KEYS = ("seconds", "texts_per_s", "timings", "created_unix", "wall")


def generate(out: Path, transactions: int, seed: int, parts: bool) -> Path:
    subprocess.run([sys.executable, "-m", "segment_report", "-q", "generate", "--out", str(out),
                    "--transactions", str(transactions), "--months", "12", "--seed", str(seed),
                    "--parts", "monthly" if parts else "none"], check=True)
    return out


def split_monthly(data: Path) -> Path | None:
    """The retail table of a single-file dataset as one CSV per month of its Date column (read
    as text, order kept); ``None`` when the dataset already is in parts."""
    if not (data / "retail_data.csv").exists():
        return None
    import pyarrow.csv as pacsv

    parts = data / "retail_parts"
    if parts.exists():
        return parts
    parts.mkdir()
    table = pacsv.read_csv(data / "retail_data.csv", convert_options=pacsv.ConvertOptions(
        column_types={}, strings_can_be_null=False, auto_dict_encode=False))
    frame = table.to_pandas().astype(str)
    month = pd.to_datetime(frame["Date"], errors="coerce", format="mixed").dt.strftime("%Y-%m").fillna("undated")
    for label, rows in frame.groupby(month, sort=True):
        rows.to_csv(parts / f"{label}.csv", index=False)
    return parts


def config_for(data: Path, engine: str, vader: bool, memory_limit: str, input_path: Path | None) -> dict:
    """The data's config with absolute input paths and the engine's settings."""
    cfg = yaml.safe_load((data / "segment-report.yaml").read_text())
    inp = cfg["input"]
    if input_path is not None:
        inp["path"] = str(input_path)
    for section in (inp, *(v for v in inp.values() if isinstance(v, dict))):
        if "path" in section and not Path(section["path"]).is_absolute():
            section["path"] = str(data / section["path"])
    if vader:
        cfg.setdefault("sentiment", {})["model"] = "vader"
    if engine != "local":
        cfg["engine"] = "dask"
        cfg["dask"] = {"n_workers": int(engine.removeprefix("dask")), "threads_per_worker": 1,
                       "memory_limit": memory_limit}
    return cfg


def _role(proc: psutil.Process, root: int) -> str:
    if proc.pid == root:
        return "client"
    cmd = " ".join(proc.cmdline())
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "spawn_main" in cmd:
        return "worker"
    return f"{proc.name()} ({cmd[:60]})"


def run_monitored(cmd: list[str], log: Path) -> dict:
    """Run ``cmd``; the peak RSS of every process of its tree, sampled every 0.5 s."""
    peaks: dict[int, tuple[str, int]] = {}
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            root = psutil.Process(proc.pid)
            while not done.is_set():
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    break
                for p in tree:
                    try:
                        rss = p.memory_info().rss
                        role = peaks.get(p.pid, (None, 0))[0] or _role(p, proc.pid)
                        peaks[p.pid] = (role, max(rss, peaks.get(p.pid, ("", 0))[1]))
                    except psutil.Error:
                        pass
                done.wait(0.5)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        code = proc.wait()
        done.set()
        thread.join()
    wall = time.perf_counter() - t0
    processes = sorted(({"pid": pid, "role": role, "peak_rss_mb": round(rss / 2**20)} for pid, (role, rss)
                        in peaks.items()), key=lambda p: -p["peak_rss_mb"])
    return {"exit_code": code, "wall_s": round(wall, 1), "processes": processes,
            "peak_rss_mb_client": next((p["peak_rss_mb"] for p in processes if p["role"] == "client"), None),
            "peak_rss_mb_worker_max": max((p["peak_rss_mb"] for p in processes if p["role"] == "worker"),
                                          default=None),
            "peak_rss_mb_sum": sum(p["peak_rss_mb"] for p in processes)}


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if not any(t in k for t in TIMING_KEYS) and not k.endswith("_s")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def compare(reference: Path, other: Path) -> dict:
    """What agrees between two run folders."""
    out: dict = {}
    for doc in ("data_quality", "segments", "changes", "drivers", "clv", "states", "sentiment"):
        a, b = (json.loads((run / "results" / f"{doc}.json").read_text()) for run in (reference, other))
        out[f"{doc}.json"] = _without_timings(a) == _without_timings(b)
    out["quarantine.csv"] = (reference / "quarantine.csv").read_bytes() == (other / "quarantine.csv").read_bytes()
    a, b = (pd.read_parquet(run / "results" / "customers.parquet") for run in (reference, other))
    out["customers.parquet"] = a.equals(b)
    if not out["customers.parquet"] and a.shape == b.shape:
        num = a.select_dtypes("number").columns
        out["customers.parquet max abs diff"] = float((a[num] - b[num]).abs().max().max())
    a, b = (pd.read_csv(run / "data" / "segments.csv", dtype=str) for run in (reference, other))
    out["segments.csv"] = a.equals(b)
    if len(a) == len(b):
        out["segment ids agree"] = float((a["segment_id"] == b["segment_id"]).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a folder written by segment-report generate")
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=Path("bench-engine"))
    parser.add_argument("--engines", default="local,dask2", help="comma-separated: local, dask1, dask2, ...")
    parser.add_argument("--period", default="2026-10")
    parser.add_argument("--parts", action="store_true",
                        help="read the retail table as one CSV per month (generate --parts monthly, or "
                             "split a --data folder's single file)")
    parser.add_argument("--vader", action="store_true", help="score with VADER instead of the transformer")
    parser.add_argument("--memory-limit", default="auto", help="memory per Dask worker, e.g. 6GB")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    data = args.data or generate(args.work / "data", args.transactions, args.seed, args.parts)
    input_path = split_monthly(data) if args.parts else None
    results: dict = {"data": str(data), "parts": args.parts, "vader": args.vader, "runs": {}}
    first = None
    for engine in args.engines.split(","):
        out = args.work / f"out-{engine}"
        cfg_file = args.work / f"{engine}.yaml"
        cfg_file.write_text(yaml.safe_dump(config_for(data, engine, args.vader, args.memory_limit, input_path)))
        cmd = [sys.executable, "-m", "segment_report", "run", "--config", str(cfg_file), "--out", str(out),
               "--period", args.period, "--force"]
        print(f"running {engine} ...", flush=True)
        measured = run_monitored(cmd, args.work / f"{engine}.log")
        run_dir = out / args.period
        manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").exists() else {}
        measured["stage_seconds"] = manifest.get("stage_seconds", {})
        measured["engine"] = manifest.get("engine")
        measured["customers"] = manifest.get("row_counts", {}).get("customers_in_window")
        if first is None:
            first = run_dir
        elif measured["exit_code"] in (0, 3):  # 3: published, held by a quality gate
            measured["same_as_" + args.engines.split(",")[0]] = compare(first, run_dir)
        results["runs"][engine] = measured
        print(json.dumps({k: v for k, v in measured.items() if k != "processes"}, indent=1), flush=True)
        print("  processes:", ", ".join(f"{p['role']} {p['peak_rss_mb']} MB" for p in measured["processes"]))
    names = list(results["runs"])
    print("\n| measure | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for key in ("wall_s", "peak_rss_mb_client", "peak_rss_mb_worker_max", "peak_rss_mb_sum"):
        print(f"| {key} | " + " | ".join(str(results["runs"][n].get(key)) for n in names) + " |")
    for stage in STAGES:
        print(f"| {stage} s | " + " | ".join(str(results["runs"][n]["stage_seconds"].get(stage, ""))
                                              for n in names) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
