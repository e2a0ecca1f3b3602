"""Display formatting: the only place numbers become text (registered as Jinja filters too).

Stages keep raw numbers in ``results/``; view models, templates and the sentences of
``reports.narrative`` call these. Every amount is written with one currency symbol: the run's
``drivers.currency_symbol`` setting, in force for a whole render (:func:`amounts_in`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

MISSING = "–"
_CURRENCY_SYMBOL: ContextVar[str] = ContextVar("currency_symbol", default="$")


def currency_symbol() -> str:
    """The currency symbol amounts are written with now (``$`` outside :func:`amounts_in`)."""
    return _CURRENCY_SYMBOL.get()


def run_currency_symbol(results: Any) -> str:
    """A run's currency symbol: ``drivers.currency_symbol`` of the configuration it ran with
    (its ``manifest.json``); ``$`` when the manifest has none."""
    config = (getattr(results, "manifest", None) or {}).get("config") or {}
    return (config.get("drivers") or {}).get("currency_symbol") or "$"


@contextmanager
def amounts_in(symbol: str) -> Iterator[None]:
    """Write every amount formatted inside the block with ``symbol``."""
    token = _CURRENCY_SYMBOL.set(symbol)
    try:
        yield
    finally:
        _CURRENCY_SYMBOL.reset(token)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def number(value: Any, digits: int = 0) -> str:
    """``12345.678`` -> ``12,346`` (or ``12,345.68`` with digits=2); missing -> en dash."""
    if _is_missing(value):
        return MISSING
    return f"{float(value):,.{digits}f}"


def rounded(value: Any) -> str:
    """A value already rounded for print (the results' ``rounded`` numbers) as stored: thousands
    separators, no trailing zeros: ``1234.5`` -> ``1,234.5``, ``12.0`` -> ``12``, ``0.25`` -> ``0.25``."""
    if _is_missing(value):
        return MISSING
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.10f}".rstrip("0").rstrip(".")


def rounded_currency(value: Any, symbol: str | None = None) -> str:
    """An amount already rounded for print, as stored: ``1234.5`` -> ``$1,234.5``; negative ->
    ``-$5``; ``symbol`` defaults to :func:`currency_symbol`."""
    if _is_missing(value):
        return MISSING
    sign = "-" if float(value) < 0 else ""
    return f"{sign}{currency_symbol() if symbol is None else symbol}{rounded(abs(value))}"


def compact(value: Any) -> str:
    """Large numbers short: ``1234`` -> ``1.2k``, ``2500000`` -> ``2.5M``."""
    if _is_missing(value):
        return MISSING
    v = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= limit:
            return f"{v / limit:.1f}{suffix}"
    return f"{v:,.0f}"


def compact_currency(value: Any, symbol: str | None = None) -> str:
    """An amount short, for sentences: ``1234567`` -> ``$1.2M``, ``210400`` -> ``$210k``,
    ``8450`` -> ``$8.5k``, ``950`` -> ``$950``; negative -> ``-$1.2M``."""
    if _is_missing(value):
        return MISSING
    v = float(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    text = f"{v:,.0f}"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if v >= limit * 0.9995:  # 999,960 is $1.0M, not $1000k
            short = v / limit
            text = f"{short:.0f}{suffix}" if round(short, 1) >= 100 else f"{short:.1f}{suffix}"
            break
    return f"{sign}{currency_symbol() if symbol is None else symbol}{text}"


def currency(value: Any, symbol: str | None = None, digits: int = 0) -> str:
    """``1234.5`` -> ``$1,235``; negative -> ``-$1,235``; ``symbol`` defaults to
    :func:`currency_symbol`."""
    if _is_missing(value):
        return MISSING
    v = float(value)
    sign = "-" if v < 0 else ""
    return f"{sign}{currency_symbol() if symbol is None else symbol}{abs(v):,.{digits}f}"


def signed_currency(value: Any, symbol: str | None = None, digits: int = 0) -> str:
    """A contribution in money with its sign: ``+$49``, ``-$85``."""
    text = currency(value, symbol, digits)
    return f"+{text}" if not _is_missing(value) and float(value) > 0 else text


def percent(value: Any, digits: int = 0) -> str:
    """A share in 0..1 -> ``42%``."""
    if _is_missing(value):
        return MISSING
    return f"{100 * float(value):.{digits}f}%"


def delta(value: Any, kind: str = "number", digits: int = 0) -> str:
    """A change with an arrow: ``▲ 12%``, ``▼ $40``, ``► 0`` (kind: number, percent, currency, points)."""
    if _is_missing(value):
        return MISSING
    v = float(value)
    arrow = "▲" if v > 0 else ("▼" if v < 0 else "►")
    magnitude = abs(v)
    if kind == "percent":
        text = percent(magnitude, digits)
    elif kind == "currency":
        text = currency(magnitude, digits=digits)
    elif kind == "points":
        text = f"{100 * magnitude:.{digits}f} pts"
    else:
        text = number(magnitude, digits)
    return f"{arrow} {text}"


def plural(count: Any, singular: str, plural_form: str | None = None) -> str:
    """``plural(1, 'customer')`` -> ``1 customer``; ``plural(1200, 'customer')`` -> ``1,200 customers``."""
    if _is_missing(count):
        return f"{MISSING} {plural_form or singular + 's'}"
    n = int(count)
    word = singular if n == 1 else (plural_form or singular + "s")
    return f"{n:,} {word}"


def date(value: Any, fmt: str = "%-d %B %Y") -> str:
    """ISO date/datetime text or a date -> ``25 November 2026``."""
    if _is_missing(value):
        return MISSING
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.strftime(fmt)


def month(period: str, short: bool = False) -> str:
    """``2026-10`` -> ``October 2026`` (``Oct 2026`` with short); other labels unchanged."""
    try:
        return dt.datetime.strptime(period, "%Y-%m").strftime("%b %Y" if short else "%B %Y")
    except (TypeError, ValueError):
        return str(period)


def pvalue(value: Any) -> str:
    """``0.0001`` -> ``p < 0.001``; ``0.042`` -> ``p = 0.042``."""
    if _is_missing(value):
        return MISSING
    v = float(value)
    return "p < 0.001" if v < 0.001 else f"p = {v:.3f}"


def significance(p: Any, alpha: float = 0.05) -> str:
    """Plain wording for a p-value against alpha."""
    if _is_missing(p):
        return "not tested"
    return "statistically significant" if float(p) < alpha else "not statistically significant"


FILTERS = {"number": number, "rounded": rounded, "rounded_currency": rounded_currency, "compact": compact,
           "compact_currency": compact_currency,
           "currency": currency, "signed_currency": signed_currency, "percent": percent,
           "delta": delta, "plural": plural, "date": date, "month": month, "pvalue": pvalue,
           "significance": significance}
