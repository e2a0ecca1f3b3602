"""Personal data: what is dropped at ingest, how review text is scrubbed, how ids are hashed.

Names, e-mails, phone numbers and street addresses (with city and zip code) are read only to
be removed: they never reach results, reports, logs or e-mails. Review text that quotes them
is scrubbed: e-mails by one vectorised regex, phone numbers by libphonenumber's matcher plus a
fallback for long digit runs (:func:`scrub_phones`, run only on texts with enough digits), the
writer's own name and address by plain matching. The retailer's customer_id is kept unless ``privacy.hash_customer_ids`` replaces
it with a keyed hash (HMAC-SHA256) in every output.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

import pandas as pd
import phonenumbers

from segment_report.pipeline.config import PrivacyConfig
from segment_report.pipeline.errors import ConfigError

PII_FIELDS: tuple[str, ...] = ("name", "email", "phone", "address", "city", "zipcode")

# ASCII classes and no look-arounds, so pandas runs this as a pyarrow (RE2) kernel.
EMAIL_PATTERN = r"[A-Za-z0-9_.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
EMAIL_RE = re.compile(EMAIL_PATTERN)
_STR = pd.StringDtype("pyarrow")

#: The fewest digits a phone number looked for has (7-digit local numbers).
PHONE_MIN_DIGITS = 7
# Characters that may separate the digits of one written phone number: ASCII punctuation
# libphonenumber accepts, no-break and thin spaces, Unicode dashes and minus.
_PHONE_PUNCT = " ().\\-/\\[\\]~\u00a0\u2009\u2010-\u2015\u2212"
#: A text can hold a phone number only if it has PHONE_MIN_DIGITS digits in a row with at
#: most 4 separators between each two; texts without such a run (nearly all reviews, even
#: those full of sizes and prices) never reach the matcher. Plain characters only, so the
#: same pattern runs in RE2 (pyarrow) and in Python's re.
PHONE_CANDIDATE_PATTERN = f"[0-9](?:[{_PHONE_PUNCT}]{{0,4}}[0-9]){{{PHONE_MIN_DIGITS - 1}}}"
_PHONE_CANDIDATE_RE = re.compile(PHONE_CANDIDATE_PATTERN)
_LENIENCY = {"possible": phonenumbers.Leniency.POSSIBLE, "valid": phonenumbers.Leniency.VALID,
             "strict_grouping": phonenumbers.Leniency.STRICT_GROUPING,
             "exact_grouping": phonenumbers.Leniency.EXACT_GROUPING}

# The fallback: runs of digit groups that libphonenumber missed (fictional 555 numbers have no
# valid area code; national formats of regions not in privacy.phone_regions). A run starts
# after a space or punctuation (never inside a word, a price or a decimal) and its groups are
# joined by one space, dot or slash, a dash with or without spaces, or wrapped in
# parentheses; _is_phone_run decides.
_GROUP = r"(?:\(\d{1,5}\)|\d{1,15})"
_RUN_RE = re.compile(rf"(?<![0-9A-Za-z.,/$€£¥+])(?P<intl>\+ ?|00)?{_GROUP}"
                     rf"(?:(?:[ ./\u00a0\u2009]| ?[\-\u2010-\u2015\u2212] ?|\) ?)?{_GROUP})*")
# A date (2024-03-15, 15.03.2024, 03-15-2024) that a time or a number follows is not a phone.
_DATE_RE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}(?!\d)|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}(?!\d)")
# An extension after a number: "ext. 12", "extension 12", "x12", "#12".
_EXT_RE = re.compile(r"[ ,]*(?:ext\.?|extension|x|#) ?\d{1,6}(?![0-9A-Za-z])", re.IGNORECASE)
PHONE_TOKEN = "[phone]"


def _is_phone_run(run: str, international: bool) -> bool:
    """Whether a run of digit groups reads as a phone number, not a list of sizes or a date.

    International (+ or 00 prefix): 8 to 15 digits. Otherwise 9 to 15 digits, every group after
    the first at least two digits long, and a group of three or more digits or a leading 0 (the
    national trunk prefix of "01 42 68 53 00"), so "sizes 2 4 6 8 10 12" or "32 34 36" stay. A
    slash only after a trunk prefix ("030/1234567"): "38-27-35/135" is a body measurement.
    """
    groups = re.findall(r"\d+", run)
    digits = sum(len(g) for g in groups)
    if international:
        return 8 <= digits <= 15
    if not 9 <= digits <= 15 or _DATE_RE.match(run):
        return False
    if any(len(g) < 2 for g in groups[1:]):
        return False
    if "/" in run and not run.lstrip("(").startswith("0"):
        return False
    return any(len(g) >= 3 for g in groups) or run.lstrip("(").startswith("0")


def _phone_spans(text: str, regions: tuple[str, ...], leniency: str) -> list[tuple[int, int]]:
    """Character spans of the phone numbers in ``text`` (with extensions), merged and sorted."""
    spans = []
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=_LENIENCY[leniency]):
            spans.append((match.start, match.end))
    for match in _RUN_RE.finditer(text):
        end = match.end()
        if end < len(text) and (text[end].isalnum() and not _EXT_RE.match(text, end)):
            continue  # glued to a word: "32x34", "120lbs", an order code
        if _is_phone_run(match.group(), match.group("intl") is not None):
            spans.append((match.start(), end))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        ext = _EXT_RE.match(text, end)
        end = ext.end() if ext else end
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def scrub_phones(text: str, privacy: PrivacyConfig | None = None) -> str:
    """Replace the phone numbers in ``text`` (extensions included) with ``[phone]``.

    libphonenumber's matcher looks for numbers of each region in ``privacy.phone_regions``
    (numbers written with + or 00 are found whatever the region) at ``privacy.phone_leniency``;
    a conservative fallback catches long digit runs it missed. Prices, sizes, dates, counts
    and measurements are left alone. Texts without a run of :data:`PHONE_MIN_DIGITS` digits
    (:data:`PHONE_CANDIDATE_PATTERN`) are returned as they are.
    """
    privacy = privacy or PrivacyConfig()
    if not _PHONE_CANDIDATE_RE.search(text):
        return text
    spans = _phone_spans(text, tuple(privacy.phone_regions), privacy.phone_leniency)
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], PHONE_TOKEN]
        last = end
    return "".join(parts) + text[last:]


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


def scrub_text(text: str, name: str | None = None, address: str | None = None,
               privacy: PrivacyConfig | None = None) -> str:
    """Remove e-mail addresses, phone numbers and the writer's own name and address from text.

    Args:
        text: review text.
        name: the writer's name, when known: the full name and each word of it (3+ letters,
            whole words) become ``[name]``.
        address: the writer's street address, when known: becomes ``[address]``.
        privacy: the privacy settings (phone regions and leniency, see :func:`scrub_phones`).

    Returns:
        The text with ``[email]``, ``[phone]``, ``[name]`` or ``[address]`` in place of personal data.
    """
    text = EMAIL_RE.sub("[email]", text)
    text = scrub_phones(text, privacy)
    return _scrub_known(text, name, address)


def scrub_texts(texts: pd.Series, names: pd.Series | None = None,
                addresses: pd.Series | None = None, privacy: PrivacyConfig | None = None) -> pd.Series:
    """Vectorised :func:`scrub_text` over a column, with each row's own name and address.

    E-mails are replaced by a pyarrow kernel; the phone matcher runs only on the rows with at
    least :data:`PHONE_MIN_DIGITS` digits in a run (a vectorised pyarrow search picks them).
    """
    out = texts.astype(_STR)
    out = out.str.replace(EMAIL_PATTERN, "[email]", regex=True)
    many_digits = out.str.contains(PHONE_CANDIDATE_PATTERN, regex=True).fillna(False).to_numpy(dtype=bool)
    if many_digits.any():
        privacy = privacy or PrivacyConfig()
        positions = many_digits.nonzero()[0]
        out.iloc[positions] = [scrub_phones(t, privacy) for t in out.iloc[positions].tolist()]
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
