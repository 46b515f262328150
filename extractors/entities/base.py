"""What every NER backend shares: the interface, the entity types and the errors.

Backends (crf/tagger.py, camel.py) and the public API (mentions.py) import from here, never from each other's
modules, so there is no import cycle between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

ENTITY_TYPES = ("PERS", "LOC", "ORG", "MISC")
BACKENDS = ("auto", "crf", "camel")  # what get_backend() accepts


class EntityError(Exception):
    """Any failure of the entity stage (bad backend name, unusable model)."""


class ModelNotFoundError(EntityError):
    """A backend's model is not installed (message says how to install it)."""


@runtime_checkable
class NERBackend(Protocol):
    """A tagger: ``tag`` returns one strict IOB2 tag (over ENTITY_TYPES) per token of every sentence."""

    name: str

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]: ...
