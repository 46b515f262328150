"""Fast inference for the `camel` backend: the same model folder and labels as camel-tools' ``NERecognizer``.

``NERecognizer.predict`` pads every sequence to 256 word pieces, tokenises word by word and runs outside
``torch.inference_mode``. :class:`FastCamelTagger` runs the same ``BertForTokenClassification`` on the same word
pieces and gives the same labels in fp32:

* word pieces: the tokenizer class camel-tools uses (``transformers.BertTokenizer``). In transformers 5 that
  class *is* the Rust (tokenizers) tokenizer, so it is loaded exactly as camel-tools loads it and called once
  per batch with ``is_split_into_words=True``; ``word_ids`` group the pieces by word. In transformers 4 it is
  the Python tokenizer; we load ``BertTokenizerFast`` from the same folder and apply first what the Python
  BasicTokenizer does and the Rust normaliser does not (drop control characters, then NFC).
* long sentences: camel-tools' greedy rule: words are added to a segment while it holds at most 254 pieces
  (256 minus [CLS] and [SEP], whatever the model's ``max_position_embeddings``); each segment is its own
  sequence and the labels of the segments are concatenated.
* label of a word: argmax of the logits at its first piece, through ``config.id2label``.
* words with no piece (``\\u200b``, ``""``): :meth:`predict` drops them as camel-tools does; :meth:`tag`
  (the backend interface, as ``CamelTagger.tag``) tags them as ``[UNK]`` so every word gets a label.

What differs is only how the work is scheduled: segments sorted by length, batches bounded by word pieces
(``max_batch_tokens``) and padded to their own longest segment, ``torch.inference_mode``, torch threads set so
that N worker processes share the cores, CUDA when available, optional int8 (``quantize_dynamic``).

Settings (read from the environment here; ``flows/settings.py`` validates the same variables when the CLI
starts): ``AKHBAR_CAMEL_INT8`` (int8 Linear layers on CPU), ``AKHBAR_NER_THREADS`` (torch threads per process).
Without ``AKHBAR_NER_THREADS`` a process gets ``usable cores // AKHBAR_NER_WORKERS`` threads, where
``AKHBAR_NER_WORKERS`` is set by the process task runner in each of its workers (flows/runners.py) to its
worker count, and is absent (1) in a main process: the CLI, the thread runner, a benchmark.
"""

from __future__ import annotations

import logging
import os
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CAMEL_MAX_SEQ = 256  # camel_tools.ner: NERDataset(..., max_seq_length=256) in NERecognizer.predict
SEGMENT_PIECES = CAMEL_MAX_SEQ - 2  # room for [CLS] and [SEP]
ENV_INT8 = "AKHBAR_CAMEL_INT8"  # 1/true/yes/on: int8 Linear layers (CPU only); 0/false/no/off: fp32
ENV_THREADS = "AKHBAR_NER_THREADS"  # explicit torch intra-op threads per process (overrides the worker rule)
ENV_WORKERS = "AKHBAR_NER_WORKERS"  # set by the process task runner in its workers: processes sharing the cores
INT8_DEFAULT = True  # int8 lost no F1 (45.93 -> 45.97, 99.9% same tags): docs/MODEL_CARD.md, train_small_bert.py
CPU_BATCH_TOKENS = 4096
GPU_BATCH_TOKENS = 16384
# Padding allowed in a batch: a member may be shorter than the batch's longest by this share or this many pieces,
# whichever is more. On CPU a model call costs per padded piece whatever the batch's shape, so batches stay
# nearly exact (padding 1.4% on the benchmark's sentences, against 9.8% with the GPU's slack); a GPU wants full
# batches and pays little for padding.
GPU_PAD_SLACK, GPU_PAD_MIN_SLACK = 0.15, 6
CPU_PAD_SLACK, CPU_PAD_MIN_SLACK = 0.03, 1
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Segment:
    """One model sequence: part (or all) of a sentence, as camel-tools splits it."""

    sentence: int  # index of the sentence in the call
    first_word: int  # index, among the sentence's tagged words, of the segment's first word
    ids: tuple[int, ...]  # word pieces without [CLS] / [SEP]
    starts: tuple[int, ...]  # position in ``ids`` of each word's first piece


# ---------------------------------------------------------------- tokenisation (no torch needed)


def _is_fast_class(cls: type) -> bool:
    return hasattr(cls, "backend_tokenizer")


def load_tokenizer(model_path: str | Path) -> tuple[Any, bool]:
    """(fast tokenizer giving camel-tools' word pieces, whether words must be cleaned + NFC-normalised first)."""
    import transformers

    reference = transformers.BertTokenizer  # the class camel_tools.ner uses
    if _is_fast_class(reference):  # transformers >= 5: the very tokenizer camel-tools loads
        return reference.from_pretrained(str(model_path)), False
    from transformers import BertTokenizerFast  # type: ignore[attr-defined]  # transformers 4 only

    return BertTokenizerFast.from_pretrained(str(model_path)), True


def _slow_clean(word: str) -> str:
    """What transformers 4's BasicTokenizer does before its NFC step: drop NUL, U+FFFD and C* characters."""
    kept = [c for c in word if c in "\t\n\r" or not (c in "\x00\ufffd" or unicodedata.category(c)[0] == "C")]
    return unicodedata.normalize("NFC", "".join(kept))


def word_pieces(tokenizer: Any, sentences: Sequence[Sequence[str]], nfc: bool = False) -> list[list[list[int]]]:
    """Piece ids of every word of every sentence (``[]`` for a word the tokenizer turns into nothing)."""
    out: list[list[list[int]]] = [[[] for _ in s] for s in sentences]
    todo = [i for i, s in enumerate(sentences) if s]
    if not todo:
        return out
    batch = [[_slow_clean(w) if nfc else w for w in sentences[i]] for i in todo]
    enc = tokenizer(batch, is_split_into_words=True, add_special_tokens=False)
    for k, i in enumerate(todo):
        words = out[i]
        for piece, wid in zip(enc.encodings[k].ids, enc.encodings[k].word_ids):
            if wid is not None:
                words[wid].append(piece)
    return out


def reference_pieces(model_path: str | Path, words: Sequence[str]) -> list[list[int]]:
    """Word pieces as camel-tools makes them (``BertTokenizer.tokenize`` word by word): for checks only."""
    import transformers

    ref = transformers.BertTokenizer.from_pretrained(str(model_path))
    return [ref.convert_tokens_to_ids(ref.tokenize(w)) for w in words]


# ---------------------------------------------------------------- segments and batches (pure Python)


def split_sentence(index: int, words: Sequence[Sequence[int]], limit: int = SEGMENT_PIECES) -> list[Segment]:
    """camel-tools' split of one sentence's words (all with >= 1 piece) into segments of <= ``limit`` pieces.

    A word longer than ``limit`` pieces is cut to ``limit`` (camel-tools would build an over-long sequence and
    fail to batch it); its label comes from its first piece either way.
    """
    out: list[Segment] = []
    ids: list[int] = []
    starts: list[int] = []
    first = 0
    for w, pieces in enumerate(words):
        pieces = pieces[:limit]
        if ids and len(ids) + len(pieces) > limit:
            out.append(Segment(index, first, tuple(ids), tuple(starts)))
            ids, starts, first = [], [], w
        starts.append(len(ids))
        ids.extend(pieces)
    if ids:
        out.append(Segment(index, first, tuple(ids), tuple(starts)))
    return out


def plan_batches(lengths: Sequence[int], max_tokens: int, slack: float = GPU_PAD_SLACK,
                 min_slack: int = GPU_PAD_MIN_SLACK) -> list[list[int]]:
    """Indices grouped into batches, longest first: each batch at most ``max_tokens`` once padded, and no member
    shorter than its batch's width by more than ``max(min_slack, slack * width)`` pieces (>= 1 item each).

    On CPU the cost is per padded piece whatever the batch shape, so the padding bound is what counts; the
    token budget bounds memory (and fills a GPU).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current:
            width = lengths[current[0]]
            too_short = width - lengths[i] > max(min_slack, slack * width)
            if too_short or width * (len(current) + 1) > max_tokens:
                batches.append(current)
                current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


# ---------------------------------------------------------------- settings


def env_flag(name: str, default: bool) -> bool:
    """A boolean variable (1/true/yes/on, 0/false/no/off; unset or empty: ``default``)."""
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError(f"{name} must be 1/0, true/false, yes/no or on/off, got {value!r}")


def env_count(name: str) -> int | None:
    """A whole number >= 1 from the environment (unset or empty: None)."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def int8_wanted() -> bool:
    """Whether the camel backend should use int8 Linear layers (``AKHBAR_CAMEL_INT8``, else the default)."""
    return env_flag(ENV_INT8, INT8_DEFAULT)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_count(workers: int | None = None) -> int:
    """torch threads for this process: ``AKHBAR_NER_THREADS``, else the usable cores split among ``workers``
    (None: ``AKHBAR_NER_WORKERS``, which the process runner sets in its workers; 1 elsewhere)."""
    explicit = env_count(ENV_THREADS)
    if explicit:
        return explicit
    sharing = workers or env_count(ENV_WORKERS) or 1
    return max(1, usable_cpus() // sharing)


# ---------------------------------------------------------------- the tagger


def quantize_int8(model: Any) -> Any:
    """int8 dynamic quantisation of every nn.Linear, in place (weights int8, activations per batch); CPU only."""
    import torch

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def _device(choice: str) -> str:
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


class FastCamelTagger:
    """The camel NER backend (``name``, ``tag``) over a camel-tools model folder, fast.

    ``quantize``: int8 Linear layers (None: ``AKHBAR_CAMEL_INT8``); ignored on CUDA. ``workers``: processes
    tagging at once on this machine (None: see :func:`thread_count`); torch gets ``cores // workers`` threads.
    ``device``: ``auto`` (CUDA when available), ``cpu`` or ``cuda``. ``max_batch_tokens``: padded word pieces
    per model call (default 4,096 on CPU, 16,384 on CUDA).
    """

    name = "camel"

    def __init__(self, model_path: str | Path, *, quantize: bool | None = None, workers: int | None = None,
                 device: str = "auto", max_batch_tokens: int | None = None, model: Any = None):
        import torch
        from transformers import BertForTokenClassification

        self.model_path = Path(model_path)
        self.device = _device(device)
        if self.device == "cpu":
            torch.set_num_threads(thread_count(workers))
        self.tokenizer, self.nfc = load_tokenizer(model_path)
        model = model if model is not None else BertForTokenClassification.from_pretrained(str(model_path))
        model.eval()
        self.quantized = (int8_wanted() if quantize is None else quantize) and self.device == "cpu"
        self.model = (quantize_int8(model) if self.quantized else model).to(self.device)
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}
        on_gpu = self.device == "cuda"
        self.max_batch_tokens = max_batch_tokens or (GPU_BATCH_TOKENS if on_gpu else CPU_BATCH_TOKENS)
        self.pad_slack = (GPU_PAD_SLACK, GPU_PAD_MIN_SLACK) if on_gpu else (CPU_PAD_SLACK, CPU_PAD_MIN_SLACK)
        tok = self.tokenizer
        self._cls, self._sep, self._unk = tok.cls_token_id, tok.sep_token_id, tok.unk_token_id
        self._pad = tok.pad_token_id if tok.pad_token_id is not None else 0

    @property
    def model_id(self) -> str:
        """What tagged, for the run's record: the model folder's name and the precision (as backend_model_id)."""
        return f"{self.model_path.name} ({'int8' if self.quantized else 'fp32'})"

    @classmethod
    def from_recognizer(cls, recognizer: Any, model_path: str | Path, **options: Any) -> FastCamelTagger:
        """Reuse the model a camel-tools ``NERecognizer`` already loaded (no second copy; int8 converts it in place)."""
        return cls(model_path, model=recognizer.model, **options)

    # -- the backend interface (CamelTagger.tag)

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Strict IOB2 labels, one per word, for every sentence (``CamelTagger.tag``'s result)."""
        from extractors.entities.iob import to_iob2

        return [to_iob2(labels) for labels in self.tag_raw(sentences)]

    def tag_raw(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """The model's labels, one per word; a word without pieces is tagged as ``[UNK]`` (as CamelTagger)."""
        pieces = word_pieces(self.tokenizer, sentences, self.nfc)
        return self._labels([[p or [self._unk] for p in words] for words in pieces])

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Exactly ``NERecognizer.predict``: words without pieces are dropped from the result."""
        pieces = word_pieces(self.tokenizer, sentences, self.nfc)
        return self._labels([[p for p in words if p] for words in pieces])

    def segments(self, sentences: Sequence[Sequence[str]]) -> list[Segment]:
        """The model sequences ``predict`` runs (for checks against camel-tools' NERDataset)."""
        pieces = word_pieces(self.tokenizer, sentences, self.nfc)
        return [seg for i, words in enumerate(pieces) for seg in split_sentence(i, [p for p in words if p])]

    # -- internals

    def _labels(self, pieces: list[list[list[int]]]) -> list[list[str]]:
        segs = [seg for i, words in enumerate(pieces) for seg in split_sentence(i, words)]
        ids: list[list[int]] = [[0] * len(words) for words in pieces]
        for batch in plan_batches([len(s.ids) + 2 for s in segs], self.max_batch_tokens, *self.pad_slack):
            chosen = [segs[i] for i in batch]
            for seg, best in zip(chosen, self._forward(chosen)):
                ids[seg.sentence][seg.first_word : seg.first_word + len(best)] = best
        return [[self.id2label[k] for k in row] for row in ids]

    def _inputs(self, segs: Sequence[Segment]) -> dict[str, Any]:
        import torch

        width = max(len(s.ids) for s in segs) + 2
        rows = [[self._cls, *s.ids, self._sep] + [self._pad] * (width - len(s.ids) - 2) for s in segs]
        mask = [[1] * (len(s.ids) + 2) + [0] * (width - len(s.ids) - 2) for s in segs]
        input_ids = torch.tensor(rows, device=self.device)
        return {"input_ids": input_ids, "attention_mask": torch.tensor(mask, device=self.device),
                "token_type_ids": torch.zeros_like(input_ids)}

    def _forward(self, segs: Sequence[Segment]) -> list[list[int]]:
        """Label id of each word's first piece, per segment."""
        import torch

        with torch.inference_mode():
            logits = self.model(**self._inputs(segs)).logits
            best = logits.argmax(dim=-1).cpu().tolist()
        return [[best[r][1 + p] for p in seg.starts] for r, seg in enumerate(segs)]
