"""Reference benchmark: a mid-size retailer's month, cold and as the monthly re-run, in fresh processes.

Usage::

    python benchmarks/bench_reference.py --work /tmp/bench                      # generate 1M transactions
    python benchmarks/bench_reference.py --data ref/ --baseline HEAD~3          # two code versions
    python benchmarks/bench_reference.py --transactions 110000 --runs cold      # a smaller file

The data are ``segment-report generate --transactions N --months 12`` (default 1,000,000:
238,379 customers, 250,000 reviews) unless ``--data`` names a folder that ``generate`` wrote.
Each code version is installed with ``pip install --no-deps --target`` into its own folder and
run as ``python -m segment_report run`` under ``/usr/bin/time -v``, every default kept:

- **cold**: an empty output folder (no score cache, no earlier month);
- **re-run**: a new output folder holding a copy of the cold run's score cache, run with
  ``--reuse-model`` on the cold run's month, so every review is cached and the customers are
  assigned to last month's segments, as in the monthly re-run.

``--baseline GIT_REF`` runs that commit too, its runs interleaved with the working tree's
(baseline cold, current cold, baseline re-run, current re-run) so both see the same machine
load; the ratio baseline / current is printed per measure. For each run: wall seconds, peak
RSS, the seconds of every stage (``manifest.json``) and the adjusted Rand index of the
published segments against the planted personas. ``--json`` writes everything to a file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
STAGES = ("ingest", "features", "sentiment", "segments", "drivers", "geography", "changes",
          "gates", "reports")


def install(source: Path, target: Path) -> Path:
    """Install one code version (no dependencies: the running venv has them) into ``target``."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    return target


def checkout(ref: str, into: Path) -> Path:
    """A detached work tree of ``ref`` (removed by :func:`main` at the end)."""
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(into), ref],
                   check=True)
    return into


def generate(out: Path, transactions: int, seed: int, env: dict[str, str]) -> Path:
    """The reference data, written by the version under test."""
    subprocess.run([sys.executable, "-m", "segment_report", "generate", "--out", str(out),
                    "--transactions", str(transactions), "--months", "12", "--seed", str(seed)],
                   check=True, env=env)
    return out


def _time_v(stderr: str) -> tuple[float, float]:
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if not wall or not rss:
        raise RuntimeError(f"/usr/bin/time -v printed no figures:\n{stderr[-2000:]}")
    h, m, s = wall.groups()
    return int(h or 0) * 3600 + int(m) * 60 + float(s), int(rss.group(1)) / 2**20


def ari(run_dir: Path, data: Path) -> float | None:
    """Adjusted Rand index of the published segments against the planted personas."""
    from sklearn.metrics import adjusted_rand_score

    truth_file = data / "truth_customers.csv"
    seg_file = run_dir / "data" / "segments.csv"
    if not truth_file.exists() or not seg_file.exists():
        return None
    truth = pd.read_csv(truth_file, dtype={"customer_id": str})
    segs = pd.read_csv(seg_file, dtype={"customer_id": str})
    seg_col = "segment_id" if "segment_id" in segs else "segment"
    joined = truth.merge(segs, on="customer_id")
    return round(float(adjusted_rand_score(joined["persona_id"], joined[seg_col])), 4)


def run_once(env: dict[str, str], config: Path, period: str, out: Path, data: Path,
             extra: tuple[str, ...] = ()) -> dict:
    """One ``segment-report run`` in a fresh process: wall, peak RSS, stage seconds, ARI."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "segment_report", "--quiet", "run",
           "--config", str(config), "--period", period, "--out", str(out), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 3):  # 3: published but held by a quality gate
        raise RuntimeError(f"run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    wall, rss = _time_v(proc.stderr)
    manifest = json.loads((out / period / "manifest.json").read_text(encoding="utf-8"))
    return {"wall_s": round(wall, 1), "peak_rss_gb": round(rss, 2), "exit_code": proc.returncode,
            "stage_s": {k: round(v, 1) for k, v in manifest["stage_seconds"].items()},
            "customers": manifest["row_counts"]["customers_in_window"],
            "ari": ari(out / period, data)}


def measure(name: str, env: dict[str, str], data: Path, period: str, work: Path, kind: str) -> dict:
    """``cold`` or ``rerun`` of one code version; the re-run starts from that version's cold run."""
    config = data / "segment-report.yaml"
    cold_out = work / f"{name}-cold"
    if kind == "cold":
        shutil.rmtree(cold_out, ignore_errors=True)
        return run_once(env, config, period, cold_out, data)
    out = work / f"{name}-rerun"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(cold_out / ".cache", out / ".cache")
    return run_once(env, config, period, out, data, ("--reuse-model", str(cold_out / period)))


def table(results: dict[str, dict[str, dict]]) -> str:
    """Markdown: one row per (version, run), and a ratio row per run when two versions ran."""
    head = ["version", "run", "wall s", "peak RSS GB", *STAGES, "ARI"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, runs in results.items():
        for kind, r in runs.items():
            lines.append("| " + " | ".join([name, kind, f"{r['wall_s']:.1f}", f"{r['peak_rss_gb']:.2f}",
                                            *(f"{r['stage_s'].get(s, 0):.1f}" for s in STAGES),
                                            str(r["ari"])]) + " |")
    if "baseline" in results:
        for kind in results["current"]:
            b, c = results["baseline"][kind], results["current"][kind]
            pairs = [(b["wall_s"], c["wall_s"]), (b["peak_rss_gb"], c["peak_rss_gb"]),
                     *((b["stage_s"].get(s, 0), c["stage_s"].get(s, 0)) for s in STAGES)]
            # a stage under 0.1 s in both has no meaningful ratio
            cells = [f"{x / y:.2f}x" if min(x, y) >= 0.1 else "-" for x, y in pairs]
            lines.append("| baseline / current | " + kind + " | " + " | ".join(cells) + " | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a folder written by 'segment-report generate'")
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--period", default="2026-10")
    parser.add_argument("--baseline", metavar="GIT_REF", help="also run this commit, interleaved")
    parser.add_argument("--runs", default="cold,rerun", help="cold, rerun or both (comma-separated)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-reference-"))
    work.mkdir(parents=True, exist_ok=True)
    tree = None
    try:
        versions = {"current": install(REPO, work / "site-current")}
        if args.baseline:
            tree = checkout(args.baseline, work / "baseline-src")
            versions = {"baseline": install(tree, work / "site-baseline"), **versions}
        envs = {name: {**os.environ, "PYTHONPATH": str(site)} for name, site in versions.items()}
        data = args.data or generate(work / "data", args.transactions, args.seed, envs["current"])
        results: dict[str, dict[str, dict]] = {name: {} for name in versions}
        for kind in args.runs.split(","):
            for name in versions:
                print(f"{name} {kind} ...", file=sys.stderr, flush=True)
                results[name][kind] = measure(name, envs[name], data, args.period, work, kind)
                print(json.dumps(results[name][kind]), file=sys.stderr, flush=True)
        print(table(results))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    finally:
        if tree is not None:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                           check=False)


if __name__ == "__main__":
    main()
