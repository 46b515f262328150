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
(``max_batch_tokens``), every Linear layer run on the batch's real pieces only and attention on the batch padded
to its own longest segment (:func:`packed_runner`), ``torch.inference_mode``, torch threads set so that N worker
processes share the cores, CUDA when available, optional int8 (``quantize_dynamic``).

int8 (:func:`load_int8_model`): the model is quantised once per model folder (keyed by the sha256 of its
weights, torch's version and quantisation engine) into ``$XDG_CACHE_HOME/akhbar/camel_int8``, and processes
load that file: a worker then holds no fp32 weights (quantising in place left the ~430 MB fp32 weights file
mapped and resident in every worker).

Settings (read from the environment here; ``flows/settings.py`` validates the same variables when the CLI
starts): ``AKHBAR_CAMEL_INT8`` (int8 Linear layers on CPU), ``AKHBAR_NER_THREADS`` (torch threads per process).
Without ``AKHBAR_NER_THREADS`` a process gets ``usable cores // AKHBAR_NER_WORKERS`` threads, where
``AKHBAR_NER_WORKERS`` is set by the process task runner in each of its workers (flows/runners.py) to its
worker count, and is absent (1) in a main process: the CLI, the thread runner, a benchmark.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import logging
import os
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Sequence
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
CPU_BATCH_TOKENS = 4096  # int8 on CPU: larger batches were not faster, and cost activation memory
CPU_FP32_BATCH_TOKENS = 8192  # fp32 on CPU: 6% more tokens per CPU-second than 4,096 (bigger matrices)
GPU_BATCH_TOKENS = 16384
# Padding allowed in a batch: a member may be shorter than the batch's longest by this share or this many pieces,
# whichever is more. Every Linear layer runs on the real pieces only (packed_runner), so padding costs only in
# attention; on CPU int8 batches stay nearly exact (measured a little faster), fp32 and GPU batches take slack
# to be fuller.
GPU_PAD_SLACK, GPU_PAD_MIN_SLACK = 0.15, 6
CPU_FP32_PAD_SLACK, CPU_FP32_PAD_MIN_SLACK = 0.25, 8
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


def release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc only): a worker between two tagging calls
    otherwise keeps the last batches' activations (~190 MB for BERT-base) as resident memory."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None


def quantize_int8(model: Any) -> Any:
    """int8 dynamic quantisation of every nn.Linear, in place (weights int8, activations per batch); CPU only."""
    import torch

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao (not installed)
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def _is_quantized(model: Any) -> bool:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return any(isinstance(m, DynamicLinear) for m in model.modules())


Runner = Callable[[Any, Any, Any, Any], Any]


def packed_runner(model: Any) -> Runner | None:
    """``run(input_ids, attention_mask, token_type_ids, picks) -> logits at picks``: the model's own modules run
    on the batch's real word pieces only, or None when the model is not the plain BERT encoder this mirrors.

    Every ``nn.Linear`` (93% of the time in fp32) sees the unpadded pieces of the batch as one matrix, so padding
    costs only in attention, where the rows are put back on the padded grid with the mask transformers builds
    and the attention function it calls (same kernel, same shapes). ``picks`` index the unpadded pieces (a
    sequence's pieces follow the previous sequence's, [CLS] and [SEP] included); only they reach the classifier.
    Each row goes through the same operations as in ``model(...)``; the labels tests compare with camel-tools'.
    """
    try:
        from transformers.masking_utils import create_bidirectional_mask
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
        from transformers.models.bert.modeling_bert import eager_attention_forward
    except ImportError:  # transformers 4: its own forward, on padded batches
        return None
    cfg, bert = model.config, getattr(model, "bert", None)
    if bert is None:
        return None
    plain = (hasattr(model, "classifier") and not cfg.is_decoder
             and not cfg.add_cross_attention and not getattr(cfg, "chunk_size_feed_forward", 0)
             and getattr(cfg, "position_embedding_type", None) in (None, "absolute")
             and all(hasattr(layer.attention.self, "scaling") for layer in bert.encoder.layer))
    if not plain:
        return None
    attend = ALL_ATTENTION_FUNCTIONS.get_interface(cfg._attn_implementation, eager_attention_forward)

    def run(input_ids: Any, attention_mask: Any, token_type_ids: Any, picks: Any) -> Any:
        batch, width = input_ids.shape
        embedded = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        mask = create_bidirectional_mask(config=cfg, inputs_embeds=embedded, attention_mask=attention_mask)
        real = attention_mask.reshape(-1).nonzero().squeeze(1)
        hidden = embedded.reshape(batch * width, -1).index_select(0, real)
        for layer in bert.encoder.layer:
            att = layer.attention.self
            shape = (batch, width, att.num_attention_heads, att.attention_head_size)

            def grid(rows: Any, shape: tuple[int, ...] = shape) -> Any:
                full = rows.new_zeros(batch * width, rows.shape[-1]).index_copy_(0, real, rows)
                return full.view(shape).transpose(1, 2)

            context, _ = attend(att, grid(att.query(hidden)), grid(att.key(hidden)), grid(att.value(hidden)),
                                mask, dropout=0.0, scaling=att.scaling)
            context = context.reshape(batch * width, -1).index_select(0, real)
            attended = layer.attention.output(context, hidden)
            hidden = layer.output(layer.intermediate(attended), attended)
        return model.classifier(hidden.index_select(0, picks))

    return run


# ---------------------------------------------------------------- the int8 model, quantised once and cached

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
HASH_CHUNK = 8 << 20


def int8_cache_dir() -> Path:
    """Where quantised models are kept: ``$XDG_CACHE_HOME/akhbar/camel_int8`` (else ``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "akhbar" / "camel_int8"


def model_key(model_path: str | Path) -> str:
    """What the int8 file depends on: sha256 of the folder's config and weight files, torch's version and
    quantisation engine (a packed int8 weight is only read back by the torch that packed it)."""
    import torch

    digest = hashlib.sha256(f"{torch.__version__}|{torch.backends.quantized.engine}".encode())
    folder = Path(model_path)
    for path in sorted(folder.iterdir()):
        if path.is_file() and (path.name == "config.json" or path.suffix in WEIGHT_SUFFIXES):
            digest.update(path.name.encode())
            with open(path, "rb") as fh:
                while chunk := fh.read(HASH_CHUNK):
                    digest.update(chunk)
    return digest.hexdigest()[:32]


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One process at a time (the others wait): two workers starting together quantise the model once."""
    try:
        import fcntl
    except ImportError:  # not on a POSIX system: at worst two processes quantise and the last rename wins
        yield
        return
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _save_int8(model_path: Path, target: Path) -> None:
    """Load the fp32 model (as camel-tools does), quantise it and write its tensors to ``target``."""
    import torch
    from transformers import BertForTokenClassification

    model = BertForTokenClassification.from_pretrained(str(model_path))
    model.eval()
    quantize_int8(model)
    # non-persistent buffers (position ids) are not in state_dict(); keep them so the skeleton gets them back
    persistent = model.state_dict()
    extra = {name: buf for name, buf in model.named_buffers() if name not in persistent}
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        torch.save({"state": persistent, "buffers": extra}, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _int8_skeleton(model_path: Path) -> Any:
    """The model's modules with no weights: Linear layers as empty int8 ones, everything else uninitialised."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig.from_pretrained(str(model_path))
    with torch.device("meta"):
        model = BertForTokenClassification(config)
    for name, module in list(model.named_modules()):
        if type(module) is torch.nn.Linear:
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent), leaf, DynamicLinear(
                module.in_features, module.out_features, bias_=module.bias is not None, dtype=torch.qint8))
    return model.to_empty(device="cpu")


def load_int8_model(model_path: str | Path, cache_dir: Path | None = None) -> Any:
    """The model with int8 Linear layers, from the cache (made on first use): no fp32 copy in this process.

    ``quantize_dynamic`` on the fp32 model leaves the fp32 weights file mapped and resident (~430 MB for
    BERT-base, per worker process); read from the cache, a worker holds only int8 Linear weights and the fp32
    embeddings. The first process quantises under a lock while the others wait, then all read the file.
    A cache that cannot be written is not an error: the model is then quantised in memory.
    """
    import torch

    folder = Path(model_path)
    cache = cache_dir or int8_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / f"{model_key(folder)}.pt"
        with _exclusive(target.with_suffix(".lock")):
            if not target.is_file():
                for stale in cache.glob(f"{target.stem}.tmp*"):  # left by a process killed while writing
                    stale.unlink(missing_ok=True)
                log.info("quantising %s to int8 once, into %s", folder, target)
                _save_int8(folder, target)
                gc.collect()
    except (OSError, RuntimeError) as exc:  # torch.save reports a failed write as RuntimeError
        log.warning("int8 cache not usable (%s): quantising %s in memory", exc, folder)
        return None
    try:
        with warnings.catch_warnings():  # torch's own quantised-tensor loading uses deprecated storage calls
            warnings.simplefilter("ignore")
            # not mmap=True: fbgemm keeps the int8 tensors it packs, which would keep the whole file mapped
            saved = torch.load(target, weights_only=True)
            model = _int8_skeleton(folder)
            model.load_state_dict(saved["state"], strict=True)
        for name, buf in saved["buffers"].items():
            parent, _, leaf = name.rpartition(".")
            getattr(model.get_submodule(parent), leaf).copy_(buf)
    except Exception as exc:  # a damaged or foreign file: the model can still be quantised here
        log.warning("cannot read the int8 file %s (%s): quantising %s in memory", target, exc, folder)
        return None
    return model.eval()


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
    per model call (default 4,096 for int8 and 8,192 for fp32 on CPU, 16,384 on CUDA). ``packed``: run the
    Linear layers on real pieces only (:func:`packed_runner`); False runs transformers' forward on padded batches.
    """

    name = "camel"

    def __init__(self, model_path: str | Path, *, quantize: bool | None = None, workers: int | None = None,
                 device: str = "auto", max_batch_tokens: int | None = None, model: Any = None,
                 packed: bool = True):
        import torch
        from transformers import BertForTokenClassification

        self.model_path = Path(model_path)
        self.device = _device(device)
        if self.device == "cpu":
            torch.set_num_threads(thread_count(workers))
        self.tokenizer, self.nfc = load_tokenizer(model_path)
        self.quantized = (int8_wanted() if quantize is None else quantize) and self.device == "cpu"
        if model is None and self.quantized:
            model = load_int8_model(model_path)  # None: no usable cache, quantised below
        if model is None:
            model = BertForTokenClassification.from_pretrained(str(model_path))
        model.eval()
        if self.quantized and not _is_quantized(model):
            model = quantize_int8(model)
        self.model = model.to(self.device)
        self._packed = packed_runner(self.model) if packed else None
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}
        on_gpu = self.device == "cuda"
        if on_gpu:
            default_tokens, self.pad_slack = GPU_BATCH_TOKENS, (GPU_PAD_SLACK, GPU_PAD_MIN_SLACK)
        elif self.quantized:
            default_tokens, self.pad_slack = CPU_BATCH_TOKENS, (CPU_PAD_SLACK, CPU_PAD_MIN_SLACK)
        else:
            default_tokens, self.pad_slack = CPU_FP32_BATCH_TOKENS, (CPU_FP32_PAD_SLACK, CPU_FP32_PAD_MIN_SLACK)
        self.max_batch_tokens = max_batch_tokens or default_tokens
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

        labels = [to_iob2(labels) for labels in self.tag_raw(sentences)]
        release_free_memory()
        return labels

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

        inputs = self._inputs(segs)
        with torch.inference_mode():
            if self._packed is None:
                best = self.model(**inputs).logits.argmax(dim=-1).cpu().tolist()
                return [[best[r][1 + p] for p in seg.starts] for r, seg in enumerate(segs)]
            firsts: list[int] = []
            offset = 0
            for seg in segs:  # row of each word's first piece among the batch's real (unpadded) pieces
                firsts.extend(offset + 1 + p for p in seg.starts)
                offset += len(seg.ids) + 2
            picks = torch.tensor(firsts, device=self.device)
            flat = self._packed(inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"], picks)
            labels = flat.argmax(dim=-1).cpu().tolist()
        out, k = [], 0
        for seg in segs:
            out.append(labels[k : k + len(seg.starts)])
            k += len(seg.starts)
        return out
