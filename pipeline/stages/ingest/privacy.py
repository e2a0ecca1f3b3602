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

from segment_report.pipeline.config import PrivacyConfig
from segment_report.pipeline.errors import ConfigError

PII_FIELDS: tuple[str, ...] = ("name", "email", "phone", "address", "city", "zipcode")

# ASCII classes and no look-arounds, so pandas runs these as pyarrow (RE2) kernels.
EMAIL_PATTERN = r"[A-Za-z0-9_.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
EMAIL_RE = re.compile(EMAIL_PATTERN)
# Phone numbers: US style (555) 201-3344 / 555.201.3344 / 5552013344, or international
# +44 20 7946 0958; the digit guards keep longer numbers (order ids) whole.
PHONE_PATTERN = (r"(^|[^0-9])(\+[0-9][0-9 ().-]{7,}[0-9]"
                 r"|\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4})([^0-9]|$)")
PHONE_RE = re.compile(PHONE_PATTERN)
PHONE_REPL = r"\1[phone]\3"
_STR = pd.StringDtype("pyarrow")


def _scrub_known(text: str, name: str | None, address: str | None) -> str:
    if address and address in text:
        text = text.replace(address, "[address]")
    if name:
        if name in text:
            text = text.replace(name, "[name]")
        for part in name.split():
            if len(part) >= 3 and part in text:
                text = re.sub(rf"\b{re.escape(part)}\b", "[name]", text)
    return text


def scrub_text(text: str, name: str | None = None, address: str | None = None) -> str:
    """Remove e-mail addresses, phone numbers and the writer's own name and address from text.

    Args:
        text: review text.
        name: the writer's name, when known: the full name and each word of it (3+ letters,
            whole words) become ``[name]``.
        address: the writer's street address, when known: becomes ``[address]``.

    Returns:
        The text with ``[email]``, ``[phone]``, ``[name]`` or ``[address]`` in place of personal data.
    """
    text = EMAIL_RE.sub("[email]", text)
    text = PHONE_RE.sub(PHONE_REPL, text)
    return _scrub_known(text, name, address)


def scrub_texts(texts: pd.Series, names: pd.Series | None = None,
                addresses: pd.Series | None = None) -> pd.Series:
    """Vectorised :func:`scrub_text` over a column, with each row's own name and address."""
    out = texts.astype(_STR)
    out = out.str.replace(EMAIL_PATTERN, "[email]", regex=True)
    out = out.str.replace(PHONE_PATTERN, PHONE_REPL, regex=True)
    if names is None and addresses is None:
        return out
    idx = out.index
    name_vals = (names.reindex(idx) if names is not None else pd.Series(None, index=idx)).tolist()
    addr_vals = (addresses.reindex(idx) if addresses is not None else pd.Series(None, index=idx)).tolist()
    text_vals = out.tolist()
    # Cheap membership tests first; the regex work runs only on rows that quote themselves.
    hits = [i for i, (t, n, a) in enumerate(zip(text_vals, name_vals, addr_vals))
            if isinstance(t, str) and (
                (isinstance(n, str) and any(len(p) >= 3 and p in t for p in n.split()))
                or (isinstance(a, str) and a in t))]
    if hits:
        fixed = [_scrub_known(text_vals[i], name_vals[i] if isinstance(name_vals[i], str) else None,
                              addr_vals[i] if isinstance(addr_vals[i], str) else None) for i in hits]
        out.iloc[hits] = fixed
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
    return ids.map(mapping).astype(_STR)
