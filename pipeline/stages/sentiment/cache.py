"""The persistent sentiment score cache (SQLite), handed to the scorer by whoever owns its folder."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from segment_report.pipeline.config import SentimentConfig
from segment_report.pipeline.errors import OutputError, os_error_to_input_error

CACHE_FILE = "sentiment_scores.sqlite"


def text_hash(text: str, max_length: int) -> str:
    """Cache key of a cleaned text scored with truncation to ``max_length`` tokens."""
    return hashlib.sha256(f"{max_length}\x00{text}".encode("utf-8")).hexdigest()


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



@contextmanager
def score_cache(cfg: SentimentConfig, cache_dir: Path | None) -> Iterator[ScoreCache | None]:
    """The score cache in ``cache_dir`` for the duration of a ``with`` block, closed after it.

    Yields ``None`` (score without a cache) when ``cache_dir`` is ``None`` or ``sentiment.cache``
    is off.
    """
    try:
        cache = ScoreCache(cache_dir) if (cache_dir is not None and cfg.cache) else None
    except OSError as exc:
        raise os_error_to_input_error(exc, "cannot create the score cache", role="output",
                                      path=Path(cache_dir) / CACHE_FILE) from exc
    except sqlite3.OperationalError as exc:
        if not _is_disk_problem(exc):
            raise
        raise _cache_error(exc, Path(cache_dir) / CACHE_FILE) from exc
    try:
        yield cache
    except sqlite3.OperationalError as exc:
        if cache is None or not _is_disk_problem(exc):
            raise
        raise _cache_error(exc, cache.path) from exc
    finally:
        if cache is not None:
            cache.close()


def _is_disk_problem(exc: sqlite3.OperationalError) -> bool:
    """SQLite reports a full or read-only disk as OperationalError, not OSError."""
    text = str(exc).lower()
    return any(s in text for s in ("disk is full", "readonly", "read-only", "unable to open",
                                   "disk i/o error"))


def _cache_error(exc: sqlite3.OperationalError, path: Path) -> OutputError:
    return OutputError(f"cannot write the sentiment score cache: {exc}", file=str(path),
                       expected="a cache folder on a writable disk with free space",
                       fix="free disk space, set sentiment.cache_dir to a writable folder, or "
                           "switch the cache off (sentiment.cache: false)")
