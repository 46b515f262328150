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
  A line holding several Arabic words (running text pasted into CoNLL mode) raises ``ConllLineError``
  naming the line, instead of tagging its first word only.
* ``plain_entities(text, backend) -> list[Mention]`` and ``entity_line(mention) -> str``: raw text in,
  ``start<TAB>end<TAB>type<TAB>text`` lines out (``akhbar ner --plain`` / ``--text``).
* ``link_short_names(mentions) -> list[Mention]``: within one article, a later shorter person name
  («بلير») takes the canonical form of the earlier full name it abbreviates («توني بلير»); find_mentions
  applies it (rule in its docstring).
* ``is_arabic(text) -> bool``: whether an article should be tagged at all.

The ``crf`` path imports neither torch nor transformers; only the ``camel`` backend does.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from extractors.entities.base import BACKENDS, ENTITY_TYPES, EntityError, ModelNotFoundError, NERBackend
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
    "link_short_names",
    "plain_entities",
    "entity_line",
    "ConllLineError",
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
    return _crf_backend()


def _crf_backend() -> NERBackend:
    """The crf tagger of the model CRFTagger() would load now: the adapted one when installed, so an adapt or a
    reset applies from the next batch. One may remove the folder between resolving and loading it: look again."""
    from extractors.entities.crf.tagger import default_model_dir

    model_dir = default_model_dir()
    try:
        return _cached_crf(model_dir)
    except ModelNotFoundError:
        now = default_model_dir()
        if now == model_dir:
            raise
        return _cached_crf(now)


def _cached_crf(model_dir: Path) -> NERBackend:
    from extractors.entities.crf.tagger import CRFTagger

    key = ("crf", str(model_dir))
    with _LOCK:
        if key not in _CACHE:
            for old in [k for k in _CACHE if k[0] == "crf"]:  # a replaced model's tagger: not kept for the process
                del _CACHE[old]
            _CACHE[key] = CRFTagger(model_dir)
        return _CACHE[key]


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def backend_model_id(name: str) -> str:
    """Which model the backend ``name`` (``crf`` or ``camel``, as articles record it) tags with in this
    environment, without loading it: ``shipped crf <sha256 prefix of the model file>``, or the camel model
    folder's name with its precision, e.g. ``arabert (int8)`` (int8 applies on CPU; CUDA runs fp32)."""
    if name == "camel":
        from extractors.entities import camel as ner_camel

        model = ner_camel.find_camel_model()
        if model is None:
            return "camel (no model found)"
        return f"{model.name} ({'int8' if _camel_precision() and not _cuda_available() else 'fp32'})"
    if name == "crf":
        from extractors.entities.crf.tagger import model_id

        return model_id()
    return name


def _is_word(tok: str) -> bool:
    return any(c.isalnum() for c in tok)


def find_mentions(text: str, backend: NERBackend, *, link: bool = True) -> list[Mention]:
    """Entity mentions in ``text`` with 0-based, end-exclusive offsets; ``m.text == text[m.start:m.end]``.
    With ``link``, a later short name takes the key of the full name earlier in the text (link_short_names)."""
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
    return link_short_names(mentions) if link else mentions


# -- one entity, several names in one article ----------------------------------------------------------------

# Normalised words that are parts of names but never a name on their own («بن», «أبو», «آل», «عبد»), and
# titles that the tagger sometimes keeps inside a PERS span. A short form made only of these links to nothing.
NAME_PARTICLES = frozenset({
    "بن", "ابن", "بنت", "ابنه", "ابو", "ابي", "ام", "ال", "عبد", "ابا", "ولد", "سيدي",
    "al", "el", "bin", "ibn", "abu", "abd", "de", "da", "di", "du", "del", "della", "van", "von", "der", "la", "le",
    "الرئيس", "الملك", "الامير", "الشيخ", "السيد", "السيده", "الدكتور", "الوزير", "رئيس", "الملكه", "الاميره",
})
# Leading clitics tried when a short form does not match as written («لبلير», «وبلير» after «توني بلير»): safe
# here because the earlier full name confirms the rest.
NAME_PROCLITICS = ("وب", "ول", "فب", "فل", "وك", "فك", "و", "ف", "ب", "ل", "ك")
MIN_SHORT_NAME_LETTERS = 3
# More earlier full names sharing a short form's last word than this: it is ambiguous anyway (and comparing them
# all would make a long list of names quadratic).
MAX_NAME_CANDIDATES = 16
_LETTERS = re.compile(r"[^\W\d_]")


def _letter_count(word: str) -> int:
    return len(_LETTERS.findall(word))


def _without_proclitic(words: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """The words as they are, then with one leading clitic removed from the first word."""
    yield words
    first = words[0]
    for clitic in NAME_PROCLITICS:
        rest = first[len(clitic):]
        if first.startswith(clitic) and _letter_count(rest) >= MIN_SHORT_NAME_LETTERS:
            yield (rest, *words[1:])


def _abbreviates(short: tuple[str, ...], full: tuple[str, ...]) -> bool:
    """Whether the word sequence `short` names `full` by part of it: its last words («بلير» of «توني بلير»,
    «بن سلمان» of «محمد بن سلمان»), or at least two consecutive words after its first ending on a name word
    («بن سلمان» of «محمد بن سلمان آل سعود»)."""
    k = len(short)
    if k >= len(full):
        return False
    if full[-k:] == short:
        return True
    if k < 2 or short[-1] in NAME_PARTICLES:
        return False
    return any(full[i : i + k] == short for i in range(1, len(full) - k))


def _may_abbreviate(words: tuple[str, ...]) -> bool:
    """A short form worth linking: not only particles or titles, and a single word has 3 letters or more."""
    if not words or all(w in NAME_PARTICLES for w in words):
        return False
    return len(words) > 1 or _letter_count(words[0]) >= MIN_SHORT_NAME_LETTERS


def link_short_names(mentions: Sequence[Mention]) -> list[Mention]:
    """Give a later, shorter person mention the canonical form of the earlier full name it abbreviates.

    The rule, per article and for PERS mentions only, in text order: a mention whose canonical words are
    fewer than those of an earlier PERS mention, and are its last words or a run of at least two of its words
    after the first (see ``_abbreviates``; compared on canonical forms, a leading clitic of the short form
    tried off: «لبلير»), takes that mention's canonical form. It must abbreviate exactly one earlier
    entity: «بوش» after both «جورج بوش» and «جيب بوش» stays «بوش» (and so does a short form whose last word is
    in more than MAX_NAME_CANDIDATES earlier names). A short form made only of particles or
    titles («بن», «أبو», «الرئيس»), or a single word under 3 letters, links to nothing. A short form before the
    full name, and other types (LOC, ORG, MISC), are left as they are. ``text`` keeps what was written.
    """
    earlier: dict[str, tuple[str, ...]] = {}  # canonical form of each earlier full PERS mention -> its words
    by_word: dict[str, list[str]] = {}        # a word -> the earlier canonical forms holding it (an index)
    linked: list[Mention] = []
    for m in sorted(mentions, key=lambda x: (x.start, x.end)):
        if m.entity_type != "PERS":
            linked.append(m)
            continue
        words = tuple(m.canonical.split())
        targets: set[str] = set()
        if _may_abbreviate(words):
            for form in _without_proclitic(words):
                # a name abbreviating a full one holds its last word: only those full names are compared
                candidates = by_word.get(form[-1], [])
                if len(candidates) > MAX_NAME_CANDIDATES:
                    break
                targets = {key for key in candidates if _abbreviates(form, earlier[key])}
                if targets:
                    break
        if len(targets) == 1:
            linked.append(replace(m, canonical=targets.pop()))
            continue
        if m.canonical not in earlier:
            earlier[m.canonical] = words
            for word in set(words):
                by_word.setdefault(word, []).append(m.canonical)
        linked.append(m)
    return linked


# -- free text --------------------------------------------------------------------------------------------------


def plain_entities(text: str, backend: NERBackend) -> list[Mention]:
    """The entity mentions of raw text, with offsets into `text` (the same path articles take)."""
    return find_mentions(text, backend)


_LINE_BREAKS = re.compile(r"[\t\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")


def entity_line(m: Mention) -> str:
    """``start<TAB>end<TAB>type<TAB>text``: 0-based, end exclusive, Python string (code point) offsets; a tab
    or line break inside the text is shown as a space so that every entity stays on one line."""
    return f"{m.start}\t{m.end}\t{m.entity_type}\t{_LINE_BREAKS.sub(' ', m.text)}"


class ConllLineError(EntityError):
    """A CoNLL input line holds running text (several Arabic words) instead of one token."""

    def __init__(self, line_number: int, line: str):
        self.line_number = line_number
        shown = line.strip()
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        super().__init__(f"line {line_number} holds several words («{shown}»): CoNLL input is one token per line "
                         "(optionally followed by a space or tab and tags); to tag running text use --plain "
                         "(or --text \"...\")")


RUNNING_TEXT_WORDS = 3  # Arabic words on a tab-less CoNLL line that make it running text (a token and its lemma are 2)
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff\u0750-\u077f\u08a0-\u08ff]")


def _conll_token(line: str, line_number: int = 0) -> str:
    """The token of a CoNLL line: everything before the first space or tab.

    What follows the token is ignored, whatever it is (tags, POS or lemma columns: «بيروت B-LOC», «كتب كَتَبَ
    VERB»), unless the line is plainly running text: then ConllLineError says so, rather than the first word alone
    being tagged. Running text is several Arabic words before a tab, or, on a line without a tab, three or more
    space-separated fields that are all Arabic words (a column of tags or parts of speech never is)."""
    line = line.rstrip("\r\n")
    head, tab, _ = line.partition("\t")
    words = head.split()
    arabic = len(words) > 1 and all(_ARABIC_LETTER.search(w) for w in words)
    if arabic and (tab or len(words) >= RUNNING_TEXT_WORDS):
        raise ConllLineError(line_number, line)
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
        for number, line in enumerate(self.lines, start=1):
            if not line.strip():
                self.ended_blank = True
                if current:
                    yield current
                    current = []
                continue
            self.ended_blank = False
            current.append(_conll_token(line, number))
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
    ends a sentence (several blank lines count as one). A line whose words after the first (before any tab)
    hold Arabic letters is running text, not a token: ConllLineError names it (see ``_conll_token``).
    The output has the same sentences in the same order; a trailing blank line is written when the input
    ended with one. By default all sentences are
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
