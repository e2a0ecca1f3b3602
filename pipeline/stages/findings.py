"""Findings: what a stage's results say, as data for the reports to put into words.

A finding is ``{"id", "kind", "numbers", "sources", "refs"}`` in a results document's
``findings`` list: ``kind`` names what is said (from the stage's closed list of kinds),
``numbers`` are the values a sentence prints, ``sources`` the JSON pointer of each number into
the same document, and ``refs`` point at the entries the finding is about (indices, codes).
Stages never write sentences; ``segment_report.reports.narrative`` does.
"""

from __future__ import annotations

from typing import Any


def resolve_pointer(document: dict[str, Any], pointer: str) -> Any:
    """Follow a ``/a/0/b`` path (JSON-pointer style) into a results document."""
    node: Any = document
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def add_finding(document: dict[str, Any], fid: str, kind: str,
                sources: dict[str, str] | None = None, refs: dict[str, Any] | None = None) -> None:
    """Append a finding to ``document["findings"]``, its numbers read at ``sources``.

    Args:
        document: the results document (its ``findings`` list must exist).
        fid: the finding's id, unique in the document.
        kind: what the finding says (one of the stage's kinds).
        sources: number name -> JSON pointer into ``document``.
        refs: what the finding is about (indices or codes into ``document``).
    """
    sources = sources or {}
    document["findings"].append({
        "id": fid, "kind": kind,
        "numbers": {k: resolve_pointer(document, p) for k, p in sources.items()},
        "sources": sources, "refs": refs or {}})


def note(code: str, **params: Any) -> dict[str, Any]:
    """A diagnostic for a results document's ``notes`` (or ``warnings``): ``code`` from the
    stage's closed list of note codes and the numbers or names it needs, never a sentence;
    ``segment_report.reports.narrative.notes`` writes the words."""
    return {"code": code, "params": params}
