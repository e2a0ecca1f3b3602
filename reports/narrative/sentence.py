"""A sentence written from a finding, and the provenance helper that reads its numbers back."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sentence:
    """A finding put into words.

    Attributes:
        id: the finding's id.
        kind: the finding's kind.
        text: the sentence.
        numbers: the finding's numbers (name -> value), the only numbers the text prints.
        sources: name -> JSON pointer of each number into the results document.
        labels: text inserted from the results (labels, names) and fixed wording that may
            contain digits; :func:`numbers_in_text` leaves them out.
    """

    id: str
    kind: str
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()


def sentence(finding: dict[str, Any], text: str, labels: Iterable[str] = ()) -> Sentence:
    """The :class:`Sentence` for ``finding`` with ``text``."""
    return Sentence(finding["id"], finding["kind"], text, dict(finding["numbers"]),
                    dict(finding["sources"]), tuple(labels))


def of_kind(sentences: Iterable[Sentence], *kinds: str) -> list[Sentence]:
    """The sentences of the given kinds, in their order."""
    return [s for s in sentences if s.kind in kinds]


NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def numbers_in_text(text: str, strip: Iterable[str] = ()) -> list[float]:
    """The numbers printed in a sentence (``strip``: labels that contain digits, removed first).

    Used by the provenance checks to match every printed number to the results.
    """
    for s in sorted(strip, key=len, reverse=True):
        text = text.replace(s, " ")
    return [float(m.replace(",", "")) for m in NUMBER_RE.findall(text)]
