"""Writing a generated dataset: the data files, their truth, and a config that reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.log import logger, progress_bar
from segment_report.pipeline.synthetic.catalogue import CUSTOMER_COLUMNS, REVIEW_COLUMNS
from segment_report.pipeline.synthetic.config import GenerateConfig, GeneratedDataset
from segment_report.pipeline.synthetic.frames import generate_frames


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _config_yaml(cfg: GenerateConfig) -> str:
    if cfg.mode == "retail_table":
        tree: dict = {"seed": cfg.seed,
                      "input": {"mode": "retail_table", "path": "retail_data.csv"}}
    else:
        tree = {"seed": cfg.seed, "input": {
            "mode": "tables",
            "customers": {"path": "customers.csv",
                          "columns": {c: c for c in CUSTOMER_COLUMNS}},
            "transactions": {"path": "transactions.csv",
                             "columns": {"transaction_id": "transaction_id",
                                         "customer_id": "customer_id", "date": "date",
                                         "quantity": "quantity", "amount": "amount",
                                         "total": "total", "category": "category"}},
            "reviews": {"path": "reviews.csv", "columns": {c: c for c in REVIEW_COLUMNS}},
        }}
    header = ("# segment-report configuration for data written by 'segment-report generate'\n"
              f"# (mode {cfg.mode}, {cfg.n_transactions} transactions, seed {cfg.seed}"
              f"{', messy' if cfg.messy else ''}).\n"
              "# Paths are relative to this file. Ground truth: ground_truth.json.\n")
    return header + yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def generate_dataset(cfg: GenerateConfig, out_dir: Path) -> GeneratedDataset:
    """Generate a dataset and write it with its config and ground truth.

    Writes into ``out_dir`` (created if needed): the data CSV(s), ``segment-report.yaml``,
    ``ground_truth.json``, ``truth_customers.csv`` and ``truth_reviews.csv``.

    Args:
        cfg: generator parameters.
        out_dir: destination folder.

    Returns:
        A :class:`GeneratedDataset` naming the files written.

    Raises:
        ConfigError: ``out_dir`` exists and is not a folder, or cannot be created.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        raise ConfigError(f"cannot create the output folder: {exc.strerror or exc}",
                          file=str(out_dir), expected="a writable folder",
                          fix="pass another --out") from None
    with progress_bar("generating", total=3, unit="steps") as advance:
        logger.info("generating %s transactions (%s, seed %s%s)", f"{cfg.n_transactions:,}",
                    cfg.mode, cfg.seed, ", messy" if cfg.messy else "")
        frames, truth = generate_frames(cfg)
        advance(1)
        names = truth["files"]
        data_files: dict[str, Path] = {}
        for key, fname in names.items():
            data_files[key] = out_dir / fname
            _write_csv(frames[key], data_files[key])
        advance(1)
        _write_csv(frames["truth_customers"], out_dir / "truth_customers.csv")
        _write_csv(frames["truth_reviews"], out_dir / "truth_reviews.csv")
        truth_file = out_dir / "ground_truth.json"
        truth_file.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")
        config_file = out_dir / "segment-report.yaml"
        config_file.write_text(_config_yaml(cfg), encoding="utf-8")
        advance(1)
    return GeneratedDataset(out_dir=out_dir, data_files=data_files, config_file=config_file,
                            truth_file=truth_file,
                            rows={k: int(v) for k, v in truth["counts"]["rows_written"].items()},
                            n_customers=int(truth["counts"]["customers"]),
                            n_reviews=int(truth["counts"]["reviews"]))
