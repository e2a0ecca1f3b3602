"""US states: names, USPS codes and FIPS codes, normalised both ways.

Used by ingest (to read ``  OHIO ``, ``ohio``, ``OH`` or ``39`` as ``OH``) and by geography.
"""

from __future__ import annotations

import re

import pandas as pd

# (USPS code, FIPS code, name): the 50 states and DC; Puerto Rico is recognised but not a state.
STATES: tuple[tuple[str, str, str], ...] = (
    ("AL", "01", "Alabama"), ("AK", "02", "Alaska"), ("AZ", "04", "Arizona"),
    ("AR", "05", "Arkansas"), ("CA", "06", "California"), ("CO", "08", "Colorado"),
    ("CT", "09", "Connecticut"), ("DE", "10", "Delaware"), ("DC", "11", "District of Columbia"),
    ("FL", "12", "Florida"), ("GA", "13", "Georgia"), ("HI", "15", "Hawaii"),
    ("ID", "16", "Idaho"), ("IL", "17", "Illinois"), ("IN", "18", "Indiana"),
    ("IA", "19", "Iowa"), ("KS", "20", "Kansas"), ("KY", "21", "Kentucky"),
    ("LA", "22", "Louisiana"), ("ME", "23", "Maine"), ("MD", "24", "Maryland"),
    ("MA", "25", "Massachusetts"), ("MI", "26", "Michigan"), ("MN", "27", "Minnesota"),
    ("MS", "28", "Mississippi"), ("MO", "29", "Missouri"), ("MT", "30", "Montana"),
    ("NE", "31", "Nebraska"), ("NV", "32", "Nevada"), ("NH", "33", "New Hampshire"),
    ("NJ", "34", "New Jersey"), ("NM", "35", "New Mexico"), ("NY", "36", "New York"),
    ("NC", "37", "North Carolina"), ("ND", "38", "North Dakota"), ("OH", "39", "Ohio"),
    ("OK", "40", "Oklahoma"), ("OR", "41", "Oregon"), ("PA", "42", "Pennsylvania"),
    ("RI", "44", "Rhode Island"), ("SC", "45", "South Carolina"), ("SD", "46", "South Dakota"),
    ("TN", "47", "Tennessee"), ("TX", "48", "Texas"), ("UT", "49", "Utah"),
    ("VT", "50", "Vermont"), ("VA", "51", "Virginia"), ("WA", "53", "Washington"),
    ("WV", "54", "West Virginia"), ("WI", "55", "Wisconsin"), ("WY", "56", "Wyoming"),
)
STATE_CODES: tuple[str, ...] = tuple(code for code, _, _ in STATES)
CODE_TO_NAME: dict[str, str] = {code: name for code, _, name in STATES}
CODE_TO_FIPS: dict[str, str] = {code: fips for code, fips, _ in STATES}
FIPS_TO_CODE: dict[str, str] = {fips: code for code, fips, _ in STATES}


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_LOOKUP: dict[str, str] = {}
for _code, _fips, _name in STATES:
    _LOOKUP[_key(_code)] = _code
    _LOOKUP[_key(_name)] = _code
    _LOOKUP[_fips] = _code
    _LOOKUP[str(int(_fips))] = _code
_LOOKUP.update({"washingtondc": "DC", "dc": "DC", "districtofcolumbia": "DC",
                "washingtond.c.": "DC"})


def to_code(value: object) -> str | None:
    """Normalise one state spelling (name, code or FIPS, any case and spacing) to its USPS code.

    Returns ``None`` for missing or unknown values.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return _LOOKUP.get(_key(str(value)))


def normalise_states(values: pd.Series) -> pd.Series:
    """Vectorised :func:`to_code`: unknown or missing spellings become missing values."""
    uniques = pd.Series(values.dropna().unique())
    mapping = {u: to_code(u) for u in uniques}
    return values.map(mapping).astype("string")
