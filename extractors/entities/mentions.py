"""Named entities in Arabic news text: backends, mentions with exact offsets, canonical forms.

Public API (the pipeline and the ``akhbar ner`` command call exactly this):

* ``get_backend(name="auto") -> NERBackend`` with ``.name`` ("crf" or "camel") and
  ``.tag(sentences: list[list[str]]) -> list[list[str]]`` (strict IOB2 over PERS, LOC, ORG, MISC).
  ``auto`` picks ``camel`` when a CAMeLBERT NER model folder is found (``AKHBAR_CAMEL_MODEL`` or the
  camel-tools data directory, where ``camel_data -i ner`` installs it), else ``crf``. Backends are loaded
  once per process.
* ``find_mentions(text, backend) -> list[Mention]``: sentence split, tokenise with offsets, tag in one
  batched call; ``Mention.text == text[start:end]``.
* ``canonical_entity(surface) -> str``: grouping form («لسوريا» and «سوريا» -> «سوريا»).
* ``tag_conll(lines, backend) -> Iterator[str]``: CoNLL tokens in, ``token<TAB>tag`` lines out (each
  yielded string is one line without its newline; an empty string is the blank line between sentences).
* ``is_arabic(text) -> bool``: whether an article should be tagged at all.

The ``crf`` path imports neither torch nor transformers; only the ``camel`` backend does.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence

from extractors.entities.base import ENTITY_TYPES, EntityError, ModelNotFoundError, NERBackend
from extractors.entities.canon import canonical_entity, known_forms, normalize_form
from extractors.entities.iob import spans, to_iob2
from extractors.entities.tokens import MAX_SENTENCE_TOKENS, Token, is_arabic, split_sentences, tokenize
from extractors.records import Mention

__all__ = [
    "EntityError",
    "ModelNotFoundError",
    "NERBackend",
    "BACKENDS",
    "get_backend",
    "backend_model_id",
    "find_mentions",
    "canonical_entity",
    "normalize_form",
    "known_forms",
    "tag_conll",
    "is_arabic",
    "to_iob2",
    "split_sentences",
    "tokenize",
    "Token",
    "MAX_SENTENCE_TOKENS",
]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "crf", "camel")

_CACHE: dict[tuple[str, str], NERBackend] = {}
_LOCK = threading.Lock()


def _camel_precision() -> bool:
    """Whether the camel backend runs int8 here (``AKHBAR_CAMEL_INT8``); a bad value is an EntityError."""
    from extractors.entities import camel_fast  # light: torch is imported only when a tagger is built

    try:
        return camel_fast.int8_wanted()
    except ValueError as exc:
        raise EntityError(str(exc)) from None


def get_backend(name: str = "auto") -> NERBackend:
    """The named backend (``auto``, ``crf`` or ``camel``), loaded once per process, model and precision."""
    key = (name or "auto").strip().lower()
    if key not in BACKENDS:
        raise EntityError(f"unknown NER backend {name!r}; choose one of {', '.join(BACKENDS)}")
    from extractors.entities import camel as ner_camel  # light: no torch until a CamelTagger is built

    if key in ("auto", "camel"):
        model = ner_camel.find_camel_model(strict=key == "camel")
        if model is not None:
            int8 = _camel_precision()
            cache_key = ("camel", f"{model}|{'int8' if int8 else 'fp32'}")
            with _LOCK:
                if cache_key not in _CACHE:
                    _CACHE[cache_key] = ner_camel.CamelTagger(model, quantize=int8)
                return _CACHE[cache_key]
        if key == "camel":  # find_camel_model(strict=True) raises instead; kept for safety
            raise ModelNotFoundError(ner_camel.INSTALL_HINT)
    cache_key = ("crf", "")
    with _LOCK:
        if cache_key not in _CACHE:
            from extractors.entities.crf.tagger import CRFTagger

            _CACHE[cache_key] = CRFTagger()
        return _CACHE[cache_key]


def backend_model_id(name: str) -> str:
    """Which model the backend ``name`` (``crf`` or ``camel``, as articles record it) tags with in this
    environment, without loading it: ``shipped crf <sha256 prefix of the model file>``, or the camel model
    folder's name with its precision, e.g. ``arabert (int8)`` (int8 applies on CPU; CUDA runs fp32)."""
    if name == "camel":
        from extractors.entities import camel as ner_camel

        model = ner_camel.find_camel_model()
        if model is None:
            return "camel (no model found)"
        return f"{model.name} ({'int8' if _camel_precision() else 'fp32'})"
    if name == "crf":
        from extractors.entities.crf.tagger import MODEL_DIR, MODEL_FILE

        try:
            digest = hashlib.sha256((MODEL_DIR / MODEL_FILE).read_bytes()).hexdigest()[:12]
        except OSError:
            digest = "missing"
        return f"shipped crf {digest}"
    return name


def _is_word(tok: str) -> bool:
    return any(c.isalnum() for c in tok)


def find_mentions(text: str, backend: NERBackend) -> list[Mention]:
    """Entity mentions in ``text`` with 0-based, end-exclusive offsets; ``m.text == text[m.start:m.end]``."""
    if not text or not text.strip():
        return []
    sentences = split_sentences(text)
    if not sentences:
        return []
    tags = backend.tag([[t.text for t in s] for s in sentences])
    mentions: list[Mention] = []
    for sent, sent_tags in zip(sentences, tags):
        for etype, s, e in spans(to_iob2(sent_tags)):
            # a mention never starts or ends with punctuation or quotes
            while s < e and not _is_word(sent[s].text):
                s += 1
            while e > s and not _is_word(sent[e - 1].text):
                e -= 1
            if s >= e or etype not in ENTITY_TYPES:
                continue
            start, end = sent[s].start, sent[e - 1].end
            surface = text[start:end]
            canonical = canonical_entity(surface) or normalize_form(surface) or surface
            mentions.append(Mention(etype, surface, canonical, start, end))
    return mentions


def _conll_token(line: str) -> str:
    """The token of a CoNLL line: everything before the first space or tab."""
    line = line.rstrip("\r\n")
    for i, ch in enumerate(line):
        if ch in " \t":
            return line[:i] if i else line.strip().split()[0]
    return line


class _ConllSentences:
    """The token lists of CoNLL lines (a blank line ends a sentence; several count as one), read lazily."""

    def __init__(self, lines: Iterable[str]):
        self.lines = lines
        self.ended_blank = False  # whether the input ended with a blank line (known once iterated)

    def __iter__(self) -> Iterator[list[str]]:
        current: list[str] = []
        for line in self.lines:
            if not line.strip():
                self.ended_blank = True
                if current:
                    yield current
                    current = []
                continue
            self.ended_blank = False
            current.append(_conll_token(line))
        if current:
            yield current


def _batches(sentences: Iterable[list[str]], size: int | None) -> Iterator[list[list[str]]]:
    """All sentences in one batch (size None or 0), else batches of `size` sentences."""
    batch: list[list[str]] = []
    for sentence in sentences:
        batch.append(sentence)
        if size and len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _checked_tags(backend: NERBackend, batch: Sequence[Sequence[str]]) -> Iterator[list[str]]:
    for toks, tags in zip(batch, backend.tag(batch)):
        tags = to_iob2(tags)
        if len(tags) != len(toks):
            raise EntityError(f"backend {backend.name} returned {len(tags)} tags for {len(toks)} tokens")
        yield tags


def tag_conll(lines: Iterable[str], backend: NERBackend, batch_sentences: int | None = None) -> Iterator[str]:
    """Tag CoNLL-style input; yield ``token\\ttag`` lines with an empty line between sentences.

    Input: one token per line, optionally followed by a space or tab and anything (ignored); a blank line
    ends a sentence (several blank lines count as one). The output has the same sentences in the same
    order; a trailing blank line is written when the input ended with one. By default all sentences are
    tagged in ONE ``backend.tag`` call, so the tags are exactly those ``backend.tag(all sentences)`` gives;
    ``batch_sentences=N`` tags N sentences per call instead (less memory; a backend that looks across
    sentences may then tag differently).
    """
    sentences = _ConllSentences(lines)
    first = True
    for batch in _batches(sentences, batch_sentences):
        for toks, tags in zip(batch, _checked_tags(backend, batch)):
            if not first:
                yield ""
            first = False
            yield from (f"{tok}\t{tag}" for tok, tag in zip(toks, tags))
    if sentences.ended_blank and not first:
        yield ""
