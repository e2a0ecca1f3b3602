"""Personal data: what is dropped at ingest, how review text is scrubbed, how ids are hashed.

Names, e-mails, phone numbers and street addresses (with city and zip code) are read only to
be removed: they never reach results, reports, logs or e-mails. Review text that quotes them
is scrubbed. The retailer's customer_id is kept unless ``privacy.hash_customer_ids`` replaces
it with a keyed hash (HMAC-SHA256) in every output.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

import pandas as pd

from pipeline.config import PrivacyConfig
from pipeline.errors import ConfigError

PII_FIELDS: tuple[str, ...] = ("name", "email", "phone", "address", "city", "zipcode")

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 8+ digits with optional separators: phone numbers, not prices ("$12.50") or years.
PHONE_RE = re.compile(r"(?<![\w$])\+?\(?\d[\d\s().-]{6,}\d(?!\w)")
_PHONE_DIGITS = 8


def _phone_sub(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "[phone]" if digits >= _PHONE_DIGITS else match.group(0)


def scrub_text(text: str, known: tuple[str | None, ...] = ()) -> str:
    """Remove e-mail addresses, phone numbers and the given known personal strings from text.

    Args:
        text: review text.
        known: the writer's own name, e-mail, phone and address, when known; each full value
            and each word of a name (3+ letters, whole words) is replaced.

    Returns:
        The text with ``[email]``, ``[phone]``, ``[name]`` or ``[address]`` in place of personal data.
    """
    text = EMAIL_RE.sub("[email]", text)
    text = PHONE_RE.sub(_phone_sub, text)
    name, *others = known if known else (None,)
    for value in others:
        if value and value in text:
            text = text.replace(value, "[address]")
    if name:
        if name in text:
            text = text.replace(name, "[name]")
        for part in name.split():
            if len(part) >= 3 and part in text:
                text = re.sub(rf"\b{re.escape(part)}\b", "[name]", text)
    return text


def scrub_texts(texts: pd.Series, names: pd.Series | None = None,
                addresses: pd.Series | None = None) -> pd.Series:
    """Vectorised :func:`scrub_text` over a column, with the row's own name and address."""
    out = texts.astype("string")
    has_text = out.notna() & (out.str.len() > 0)
    if not has_text.any():
        return out
    sub = out[has_text].str.replace(EMAIL_RE.pattern, "[email]", regex=True)
    if sub.str.contains(r"\d{4}", regex=True).any():
        sub = sub.map(lambda t: PHONE_RE.sub(_phone_sub, t))
    if names is not None or addresses is not None:
        idx = sub.index
        name_vals = names.reindex(idx) if names is not None else pd.Series(None, index=idx)
        addr_vals = addresses.reindex(idx) if addresses is not None else pd.Series(None, index=idx)
        sub = pd.Series(
            [scrub_text(t, (n if isinstance(n, str) else None, a if isinstance(a, str) else None))
             if (isinstance(n, str) or isinstance(a, str)) else t
             for t, n, a in zip(sub.tolist(), name_vals.tolist(), addr_vals.tolist())],
            index=idx, dtype="string")
    out.loc[has_text] = sub
    return out


def resolve_salt(cfg: PrivacyConfig) -> bytes | None:
    """The hashing key, or None when hashing is off.

    Raises:
        ConfigError: hashing is on but neither ``privacy.salt`` nor the environment variable is set.
    """
    if not cfg.hash_customer_ids:
        return None
    salt = cfg.salt or os.environ.get(cfg.salt_env)
    if not salt:
        raise ConfigError(
            "privacy.hash_customer_ids is on but no salt is set",
            expected=f"a secret in privacy.salt or the environment variable {cfg.salt_env}",
            fix=f"export {cfg.salt_env}=<a long random secret> (keep it the same every month "
                "so hashed ids stay comparable)")
    return salt.encode("utf-8")


def hash_ids(ids: pd.Series, salt: bytes) -> pd.Series:
    """Replace ids with the first 16 hex digits of HMAC-SHA256(salt, id); missing stays missing."""
    uniques = ids.dropna().unique()
    mapping = {u: hmac.new(salt, str(u).encode("utf-8"), hashlib.sha256).hexdigest()[:16]
               for u in uniques}
    return ids.map(mapping).astype("string")
