"""Review text: cleaning before scoring (HTML, garbage, quality counts) and the text a review is
scored by (its title joined with its text)."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

import pandas as pd

QUALITY_KINDS = ("missing_text", "empty", "no_letters", "binary_garbage", "html_stripped",
                 "truncated", "non_latin_script", "likely_non_english")

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^<>]{0,2000}>")
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,10});")
_SCRIPT = re.compile(r"<\s*(script|style)[^>]*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_WS = re.compile(r"\s+")
# Unicode categories Cc, Cs and Co plus U+FFFD (decode failures), as one character class so the
# garbage check runs in the regex engine instead of a Python loop over every character
# (tests/test_sentiment.py checks it against unicodedata for every code point).
_CONTROL_RANGES = ("\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd"
                   "\U000f0000-\U000ffffd\U00100000-\U0010fffd")
_BAD_ANY = re.compile(f"[{_CONTROL_RANGES}]")
_BAD = re.compile(f"(?![\n\t\r])[{_CONTROL_RANGES}]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
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
    bad = len(_BAD.findall(text)) if _BAD.search(text) else 0
    if bad / len(text) > 0.2:
        return None, ["binary_garbage"]
    if bad:
        text = _BAD_ANY.sub(" ", text)
    if _TAG.search(text) or _ENTITY.search(text):
        stripped = html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", text)))
        if stripped != text:
            kinds.append("html_stripped")
            text = stripped
    text = _WS.sub(" ", text).strip()[:max_chars]
    if not text:
        return None, kinds + ["empty"]
    if text.isascii():  # every letter is Latin: only whether there is one matters
        if not _ASCII_LETTER.search(text):
            return None, kinds + ["no_letters"]
        latin_share = 1.0
    else:
        letters = [ch for ch in text if ch.isalpha()]
        if not letters:
            return None, kinds + ["no_letters"]
        latin_share = sum(1 for ch in letters if ch.isascii()
                          or "LATIN" in unicodedata.name(ch, "")) / len(letters)
    if latin_share < 0.5:
        kinds.append("non_latin_script")
    else:
        words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", text.lower())
        foreign = sum(w in _FOREIGN_STOP for w in words)
        if len(words) >= 4 and foreign >= 2 and foreign > sum(w in _EN_STOP for w in words):
            kinds.append("likely_non_english")
    return text, kinds



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


