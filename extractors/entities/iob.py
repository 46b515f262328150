"""IOB2 tag sequences: strict IOB2 from any backend's labels, and entity spans. No third-party dependencies."""

from __future__ import annotations

from collections.abc import Sequence

from extractors.entities.base import ENTITY_TYPES

LABELS = frozenset({"O"} | {f"{b}-{t}" for b in "BI" for t in ENTITY_TYPES})

_TYPE_ALIASES = {"PER": "PERS", "PERSON": "PERS", "PERS": "PERS", "LOC": "LOC", "LOCATION": "LOC", "GPE": "LOC",
                 "FAC": "LOC", "ORG": "ORG", "ORGANIZATION": "ORG", "ORGANISATION": "ORG", "MISC": "MISC"}


def map_label(tag: str) -> str:
    """One label in this project's set: "B-PER" -> "B-PERS", "S-GPE" -> "B-LOC", other types -> MISC, junk -> O."""
    if not tag or tag == "O":
        return "O"
    if tag in LABELS:
        return tag
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIESbies":
        bio = "B" if tag[0] in "BSbs" else "I"
        t = _TYPE_ALIASES.get(tag[2:].upper(), "MISC")
        return f"{bio}-{t}"
    return "O"


def to_iob2(tags: Sequence[str]) -> list[str]:
    """Strict IOB2: an I-X after O or after another type becomes B-X; unknown labels become O.

    Labels such as "B-PER"/"I-PERSON" are mapped to PERS; "B-GPE"/"B-FAC" to LOC; other types to MISC.
    """
    out: list[str] = []
    prev = "O"
    for tag in tags:
        tag = map_label(tag)
        if tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans (type, start, end) of an IOB2 (or loose IOB) tag sequence.

    An I- that does not continue the entity before it starts a new one.
    """
    out = []
    etype: str | None = None
    start = 0
    for i, tag in enumerate(tags):
        if tag == "O" or not tag:
            if etype:
                out.append((etype, start, i))
            etype = None
            continue
        bio, t = tag[0], tag[2:]
        if bio == "B" or t != etype:
            if etype:
                out.append((etype, start, i))
            etype, start = t, i
    if etype:
        out.append((etype, start, len(tags)))
    return out
