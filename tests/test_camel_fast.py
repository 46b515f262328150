"""FastCamelTagger against camel-tools' own NERecognizer on tiny random BERT folders (offline, fp32 exact).

camel-tools fixes its data directory when first imported: a session fixture points CAMELTOOLS_DATA at a stub
catalogue before anything imports it.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from extractors.entities import camel_fast
from extractors.entities.camel_fast import FastCamelTagger, plan_batches, reference_pieces, split_sentence, word_pieces

LABELS = ["O", "B-PERS", "I-PERS", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
STUB_CATALOGUE = {"version": "1.6", "packages": {}, "components": {
    "NamedEntityRecognition": {"default": "arabert", "datasets": {"arabert": {"path": "ner/arabert"}}}}}

LETTERS = [chr(c) for c in range(0x0621, 0x064B)]
DIACRITICS = [chr(c) for c in range(0x064B, 0x0653)]
WORDS = ["قال", "الرئيس", "في", "بيروت", "سوريا", "الامم", "المتحده", "الأمم", "كلمة", "أحمد"]
PUNCT = [".", "،", "«", "»", "!", "؟", ":", "(", ")", "-"]

LONG = ["كلمة", "استراتيجياتهم", "في", "«", "بيروت", "»"] * 70  # 420 words, several segments
SENTENCES = [
    ["قال", "الرئيس", "في", "بيروت", "."],
    ["سوريا"],
    [],
    ["\u200b", "الامم", "المتحده"],  # a word with no piece
    ["\u200b", ""],  # no word has a piece
    ["مُحَمَّد", "عليٌّ", "أحمد", "ـــالله"],  # diacritics, tatweel
    ["«", "الأمم", "المتحدة", "»", "،", "!", "؟"],
    ["استراتيجياتهم", "والمستشفيات", "بالإضافةِ"],  # many pieces per word
    ["Hello", "world", "😀", "東京", "Ωμέγα", "\ufffd", "x\u0000y"],  # unknown characters, CJK, control
    ["في بيروت", "", "  ", "a\tb", "ا\u200cب"],  # whitespace inside a word, empty word, ZWNJ
    ["[SEP]", "[UNK]", "x[CLS]y", "[PAD]"],  # special tokens in the text
    ["،" * 30, "كلمة"],  # a word of 30 pieces
    ["ب" * 150, "ت"],  # longer than WordPiece's 100 characters: [UNK]
    ["ا\u0654", "أ", "ي\u0654"],  # decomposed and composed hamza
    ["في"] * 254,  # exactly one segment
    ["في"] * 255,  # one piece too many: two segments
    ["استراتيجياتهم"] * 40 + ["في"] * 3,
    LONG,
    ["3", "2024", "١٢٣", "%", "$"],
]


@pytest.fixture(scope="session", autouse=True)
def camel_data(tmp_path_factory):
    """A stub catalogue so that importing camel_tools.ner works offline (before anything imports it)."""
    data = tmp_path_factory.mktemp("camel_data")
    (data / "catalogue.json").write_text(json.dumps(STUB_CATALOGUE), encoding="utf-8")
    old = {name: os.environ.get(name) for name in ("CAMELTOOLS_DATA", "XDG_CACHE_HOME")}
    os.environ["CAMELTOOLS_DATA"] = str(data)
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))  # the int8 cache, not the user's
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    yield data
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def make_model(out: Path, lower_case: bool) -> Path:
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizer

    out.mkdir(parents=True, exist_ok=True)
    pieces = ["##" + c for c in LETTERS + DIACRITICS] + ["##ات", "##هم", "##ية"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *PUNCT, *"0123456789", *LETTERS, *pieces, *WORDS]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=300, initializer_range=0.5,
                     id2label=dict(enumerate(LABELS)),
                     label2id={lab: i for i, lab in enumerate(LABELS)})
    BertForTokenClassification(cfg).save_pretrained(out)
    BertTokenizer(vocab=str(out / "vocab.txt"), do_lower_case=lower_case).save_pretrained(out)
    return out


@pytest.fixture(scope="module", params=["cased", "uncased"])
def folder(request, tmp_path_factory) -> Path:
    """``cased`` is CAMeLBERT's setting; ``uncased`` (BERT's default) also strips Arabic diacritics."""
    return make_model(tmp_path_factory.mktemp(f"tiny-{request.param}"), lower_case=request.param == "uncased")


@pytest.fixture(scope="module")
def recognizer(folder):
    from camel_tools.ner import NERecognizer

    return NERecognizer(str(folder), use_gpu=False)


@pytest.fixture(scope="module")
def fast(folder) -> FastCamelTagger:
    return FastCamelTagger(folder, quantize=False, workers=1, device="cpu")


def test_word_pieces_are_camel_tools_pieces(folder, fast):
    words = sorted({w for s in SENTENCES for w in s} | {"X", "ا\u0654\u200c", "\u2028"})
    per_word = word_pieces(fast.tokenizer, [[w] for w in words], fast.nfc)
    assert [p[0] for p in per_word] == reference_pieces(folder, words)
    # one call over whole sentences groups the same pieces by word_ids
    together = word_pieces(fast.tokenizer, SENTENCES, fast.nfc)
    alone = [word_pieces(fast.tokenizer, [[w] for w in s], fast.nfc) for s in SENTENCES]
    assert together == [[w[0] for w in s] for s in alone]


def test_segments_are_camel_tools_sequences(recognizer, fast):
    from camel_tools.ner import NERDataset

    ds = NERDataset(sentences=SENTENCES, tokenizer=recognizer.tokenizer,
                    labels=list(recognizer.labels_map.values()), max_seq_length=256)
    theirs = [(int(f["sent_id"]), f["input_ids"][f["attention_mask"].bool()].tolist()) for f in ds.features]
    theirs = [(i, ids) for i, ids in theirs if len(ids) > 2]  # the [CLS] [SEP] rows of empty sentences
    ours = [(s.sentence, [fast._cls, *s.ids, fast._sep]) for s in fast.segments(SENTENCES)]
    assert ours == theirs
    assert max(sum(1 for s in fast.segments(SENTENCES) if s.sentence == i) for i in range(len(SENTENCES))) >= 3


def test_predict_equals_camel_tools(recognizer, fast):
    expected = recognizer.predict(SENTENCES)
    assert fast.predict(SENTENCES) == expected
    assert len({lab for s in expected for lab in s}) >= 4, "the random model should give varied labels"


@pytest.mark.parametrize("budget", [64, 300, 1_000_000])
def test_batching_does_not_change_labels(recognizer, folder, budget):
    tagger = FastCamelTagger(folder, quantize=False, workers=1, device="cpu", max_batch_tokens=budget)
    expected = recognizer.predict(SENTENCES)
    assert tagger.predict(SENTENCES) == expected
    order = list(range(len(SENTENCES)))
    random.Random(budget).shuffle(order)
    assert tagger.predict([SENTENCES[i] for i in order]) == [expected[i] for i in order]
    assert [tagger.predict([s])[0] for s in SENTENCES[:8]] == expected[:8]


def test_camel_backend_tags_as_camel_tools_predict(recognizer, folder, fast):
    """The backend (camel-tools loads, our path tags) gives what predict gives, a word without pieces as [UNK]."""
    from extractors.entities.camel import CamelTagger
    from extractors.entities.iob import to_iob2

    backend = CamelTagger(folder, quantize=False)
    safe = [[w if recognizer.tokenizer.tokenize(w) else "[UNK]" for w in s] for s in SENTENCES]
    tags = backend.tag(SENTENCES)
    assert tags == [to_iob2(p) for p in recognizer.predict(safe)] == fast.tag(SENTENCES)
    assert [len(t) for t in tags] == [len(s) for s in SENTENCES]
    assert backend.model_id == f"{folder.name} (fp32)" and not backend.quantized


def test_tag_raw_is_predict_when_every_word_has_pieces(recognizer, fast):
    safe = [[w if recognizer.tokenizer.tokenize(w) else "[UNK]" for w in s] for s in SENTENCES]
    assert fast.tag_raw(SENTENCES) == recognizer.predict(safe)


def test_word_longer_than_a_segment(fast):
    """camel-tools cannot batch a word of more than 254 pieces; we cut it and still tag every word."""
    sents = [["قال", "،" * 300, "في", "بيروت"], ["،" * 600], ["في"]]
    tags = fast.tag(sents)
    assert [len(t) for t in tags] == [4, 1, 1]
    assert fast.predict(sents[2:]) == fast.predict([["في"]])


def test_int8_runs_and_gives_valid_labels(folder, monkeypatch):
    monkeypatch.setenv("AKHBAR_CAMEL_INT8", "1")
    tagger = FastCamelTagger(folder, workers=1, device="cpu")
    assert tagger.quantized and tagger.model_id == f"{folder.name} (int8)"
    assert any(m._get_name() == "DynamicQuantizedLinear" for m in tagger.model.modules())
    tags = tagger.tag(SENTENCES)
    assert [len(t) for t in tags] == [len(s) for s in SENTENCES]
    from extractors.entities.iob import to_iob2

    for seq in tags:
        assert to_iob2(seq) == seq
        assert all(t == "O" or (t[:2] in ("B-", "I-") and t[2:] in ("PERS", "LOC", "ORG", "MISC")) for t in seq)
    fp32 = FastCamelTagger(folder, quantize=False, workers=1, device="cpu").tag(SENTENCES)
    same = sum(a == b for x, y in zip(tags, fp32) for a, b in zip(x, y))
    print(f"int8 agreement with fp32 on the tiny model: {same}/{sum(map(len, fp32))}")


def test_threads_follow_workers(folder, monkeypatch):
    import torch

    before = torch.get_num_threads()
    cores = camel_fast.usable_cpus()
    try:
        monkeypatch.delenv("AKHBAR_NER_THREADS", raising=False)
        monkeypatch.delenv("AKHBAR_NER_WORKERS", raising=False)
        assert camel_fast.thread_count() == cores  # a main process has the cores to itself
        assert camel_fast.thread_count(2) == max(1, cores // 2)
        monkeypatch.setenv("AKHBAR_NER_WORKERS", "2")  # what the process runner sets in its workers
        assert camel_fast.thread_count() == max(1, cores // 2)
        FastCamelTagger(folder, quantize=False, device="cpu")
        assert torch.get_num_threads() == max(1, cores // 2)
        monkeypatch.setenv("AKHBAR_NER_WORKERS", str(4 * cores))
        assert camel_fast.thread_count() == 1
        monkeypatch.setenv("AKHBAR_NER_THREADS", "3")
        assert camel_fast.thread_count(2) == 3
        monkeypatch.setenv("AKHBAR_NER_THREADS", "0")
        with pytest.raises(ValueError, match="AKHBAR_NER_THREADS"):
            camel_fast.thread_count()
    finally:
        torch.set_num_threads(before)


def test_int8_setting(monkeypatch):
    monkeypatch.delenv("AKHBAR_CAMEL_INT8", raising=False)
    assert camel_fast.int8_wanted() is camel_fast.INT8_DEFAULT
    for value, wanted in (("on", True), ("1", True), (" Yes ", True), ("off", False), ("0", False), ("", None)):
        monkeypatch.setenv("AKHBAR_CAMEL_INT8", value)
        assert camel_fast.int8_wanted() is (camel_fast.INT8_DEFAULT if wanted is None else wanted)
    monkeypatch.setenv("AKHBAR_CAMEL_INT8", "maybe")
    with pytest.raises(ValueError, match="AKHBAR_CAMEL_INT8"):
        camel_fast.int8_wanted()


def ner_threads_in_worker() -> tuple[str | None, int]:
    return os.environ.get("AKHBAR_NER_WORKERS"), camel_fast.thread_count()


def test_process_runner_tells_its_workers_how_many_share_the_cores(prefect_harness, monkeypatch):
    """A real process-pool flow run: each worker learns the worker count and splits the cores by it."""
    from prefect import flow, task

    from flows.runners import task_runner_from_spec

    monkeypatch.delenv("AKHBAR_NER_THREADS", raising=False)
    monkeypatch.delenv("AKHBAR_NER_WORKERS", raising=False)
    probe = task(ner_threads_in_worker, name="ner-threads")

    @flow(task_runner=task_runner_from_spec("process:2"))
    def threads() -> list[tuple[str | None, int]]:
        return [probe.submit().result() for _ in range(2)]

    assert threads() == [("2", max(1, camel_fast.usable_cpus() // 2))] * 2
    assert "AKHBAR_NER_WORKERS" not in os.environ  # the flow's own process is not a worker


def test_split_sentence_rule():
    assert len(split_sentence(0, [[7]] * 254)) == 1
    segs = split_sentence(3, [[7]] * 255)
    assert [len(s.ids) for s in segs] == [254, 1] and segs[1].first_word == 254 and segs[1].sentence == 3
    segs = split_sentence(0, [[1, 2], [3] * 300, [4]])
    assert [len(s.ids) for s in segs] == [2, 254, 1]
    assert [s.starts for s in segs] == [(0,), (0,), (0,)]


def test_plan_batches_budget_and_padding():
    lengths = [5, 40, 12, 40, 3, 7, 100, 9, 38, 36, 90]
    batches = plan_batches(lengths, 80)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        width = max(lengths[i] for i in b)
        assert len(b) == 1 or width * len(b) <= 80
        assert all(width - lengths[i] <= max(6, 0.15 * width) for i in b)
        assert lengths[b[0]] == width
    assert batches[0] == [6]  # longest first
    assert [lengths[i] for i in batches[2]] == [40, 40]  # 38 would make 3 x 40 > 80
    big = plan_batches(lengths, 10_000)
    assert [sorted(lengths[i] for i in b) for b in big] == [[90, 100], [36, 38, 40, 40], [7, 9, 12], [3, 5]]


def test_int8_from_the_cache_is_the_model_quantised_in_memory(folder, tmp_path):
    """The cached int8 model tags exactly as quantize_dynamic on the fp32 model; it is written once."""
    from transformers import BertForTokenClassification

    cache = tmp_path / "int8"
    cached = camel_fast.load_int8_model(folder, cache)
    files = sorted(cache.glob("*.pt"))
    assert len(files) == 1 and files[0].stem == camel_fast.model_key(folder)
    stamp = files[0].stat().st_mtime_ns
    again = camel_fast.load_int8_model(folder, cache)
    assert files[0].stat().st_mtime_ns == stamp  # read back, not quantised again
    in_memory = camel_fast.quantize_int8(BertForTokenClassification.from_pretrained(str(folder)).eval())
    tags = [FastCamelTagger(folder, quantize=True, workers=1, device="cpu", model=m).tag_raw(SENTENCES)
            for m in (cached, again, in_memory)]
    assert tags[0] == tags[1] == tags[2]
    assert len({lab for s in tags[0] for lab in s}) >= 3


def test_int8_cache_key_follows_the_weights(tmp_path):
    a = make_model(tmp_path / "a", lower_case=False)
    key = camel_fast.model_key(a)
    assert camel_fast.model_key(a) == key
    (a / "vocab.txt").write_text("changed", encoding="utf-8")  # not a weight: same int8 model
    assert camel_fast.model_key(a) == key
    weights = next(p for p in a.iterdir() if p.suffix in camel_fast.WEIGHT_SUFFIXES)
    weights.write_bytes(weights.read_bytes() + b" ")
    assert camel_fast.model_key(a) != key


def test_int8_without_a_writable_cache_quantises_in_memory(folder, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    assert camel_fast.load_int8_model(folder, blocker / "int8") is None
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / f"{camel_fast.model_key(folder)}.pt").write_bytes(b"not a torch file")
    assert camel_fast.load_int8_model(folder, damaged) is None
    tagger = FastCamelTagger(folder, quantize=True, workers=1, device="cpu")
    assert tagger.quantized and tagger.tag(SENTENCES[:3])


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_int8_worker_holds_no_fp32_weights(tmp_path, monkeypatch):
    """The int8 backend's process does not keep the fp32 weights file mapped (it did, ~430 MB for BERT-base)."""
    model = make_model(tmp_path / "own", lower_case=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for _ in range(2):  # the first builds the cache, the second reads it
        tagger = FastCamelTagger(model, quantize=True, workers=1, device="cpu")
        tagger.tag(SENTENCES[:3])
        mapped = Path("/proc/self/maps").read_text(encoding="utf-8")
        assert str(model) not in mapped and str(tmp_path / "cache") not in mapped


def test_packed_layers_give_the_labels_of_the_padded_forward(folder):
    """The unpadded path (every Linear on the batch's real pieces) against transformers' own forward."""
    packed = FastCamelTagger(folder, quantize=False, workers=1, device="cpu")
    padded = FastCamelTagger(folder, quantize=False, workers=1, device="cpu", packed=False)
    assert packed._packed is not None and padded._packed is None
    for budget in (64, 1_000_000):
        packed.max_batch_tokens = padded.max_batch_tokens = budget
        packed.pad_slack = padded.pad_slack = (1.0, 1000)  # one batch of very different lengths
        assert packed.predict(SENTENCES) == padded.predict(SENTENCES)
