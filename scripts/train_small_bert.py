#!/usr/bin/env python3
"""A small BERT token classifier trained from scratch on ANERcorp, to measure what int8 costs the camel backend.

    .venv/bin/python scripts/train_small_bert.py --out /tmp/small-bert-ner            # train, then evaluate
    .venv/bin/python scripts/train_small_bert.py --out /tmp/small-bert-ner --eval-only

Never shipped, never committed: the folder it writes is a camel-tools-compatible model folder (config.json with
``id2label``, weights, ``vocab.txt``), so ``AKHBAR_CAMEL_MODEL=<folder>`` makes it the camel backend's model.

Training: the first 90% of the ANERcorp sentences (``training.conll.split_dev``), a WordPiece vocabulary built
from those sentences with the tokenizers library, a BERT of ``--layers`` x ``--hidden`` initialised at random,
cross-entropy on each word's first piece (camel-tools labels a word by its first piece), AdamW with a linear
decay. Evaluation on the last 10%: span-exact micro F1 (``training.conll.score``) of the camel backend in fp32
and in int8 (``FastCamelTagger``), their tag agreement, and whether fp32 still equals camel-tools' ``predict``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractors.entities.training.conll import format_scores, read_conll, score, split_dev  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ner" / "ANERCorp_CamelLab_train.txt"
LABELS = ["O", "B-PERS", "I-PERS", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
MAX_PIECES = 254  # camel-tools' segment length (256 minus [CLS] and [SEP])
IGNORE = -100  # label of the pieces after a word's first: not trained on


def build_vocab(sentences: list[list[str]], size: int, out: Path) -> Path:
    """A WordPiece vocabulary of the training words (cased, accents kept: CAMeLBERT's settings)."""
    from tokenizers import BertWordPieceTokenizer

    wp = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    wp.train_from_iterator((" ".join(s) for s in sentences), vocab_size=size, min_frequency=2,
                           special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    out.mkdir(parents=True, exist_ok=True)
    wp.save_model(str(out))
    return out / "vocab.txt"


def encode(tokenizer: Any, sentences: list[tuple[list[str], list[str]]]) -> list[tuple[list[int], list[int]]]:
    """(piece ids with [CLS]/[SEP], label ids on first pieces) per sentence, cut at camel-tools' 254 pieces."""
    label_id = {lab: i for i, lab in enumerate(LABELS)}
    enc = tokenizer([words for words, _ in sentences], is_split_into_words=True, add_special_tokens=False)
    rows = []
    for k, (_, tags) in enumerate(sentences):
        ids, labels, seen = [], [], set()
        for piece, wid in zip(enc.encodings[k].ids[:MAX_PIECES], enc.encodings[k].word_ids[:MAX_PIECES]):
            ids.append(piece)
            labels.append(IGNORE if wid in seen or wid is None else label_id.get(tags[wid], 0))
            seen.add(wid)
        if ids:
            rows.append(([tokenizer.cls_token_id, *ids, tokenizer.sep_token_id], [IGNORE, *labels, IGNORE]))
    return rows


def batches(rows: list[tuple[list[int], list[int]]], max_tokens: int, rng: random.Random) -> list[list[int]]:
    """Row indices grouped by similar length (little padding), in a shuffled order of batches."""
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i][0]), rng.random()))
    out: list[list[int]] = [[]]
    for i in order:
        if out[-1] and len(rows[i][0]) * (len(out[-1]) + 1) > max_tokens:
            out.append([])
        out[-1].append(i)
    rng.shuffle(out)
    return out


def tensors(rows: list[tuple[list[int], list[int]]], batch: list[int]) -> dict[str, Any]:
    import torch

    width = max(len(rows[i][0]) for i in batch)
    ids = [rows[i][0] + [0] * (width - len(rows[i][0])) for i in batch]
    labels = [rows[i][1] + [IGNORE] * (width - len(rows[i][1])) for i in batch]
    mask = [[1] * len(rows[i][0]) + [0] * (width - len(rows[i][0])) for i in batch]
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels)}


def new_model(vocab_size: int, args: argparse.Namespace) -> Any:
    import torch
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(args.seed)
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=max(1, args.hidden // 64), intermediate_size=4 * args.hidden,
                     max_position_embeddings=512, id2label=dict(enumerate(LABELS)),
                     label2id={lab: i for i, lab in enumerate(LABELS)})
    return BertForTokenClassification(cfg)


def train(args: argparse.Namespace, train_sents: list[tuple[list[str], list[str]]]) -> None:
    import torch
    from transformers import BertTokenizer

    out = Path(args.out)
    build_vocab([w for w, _ in train_sents], args.vocab, out)
    tokenizer = BertTokenizer(str(out / "vocab.txt"), do_lower_case=False)
    rows = encode(tokenizer, train_sents)
    model = new_model(len(tokenizer.get_vocab()), args)
    rng = random.Random(args.seed)
    plan = [batches(rows, args.batch_tokens, rng) for _ in range(args.epochs)]
    steps = sum(map(len, plan))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * max(0.0, 1 - s / steps))
    model.train()
    t0 = time.perf_counter()
    for epoch, epoch_batches in enumerate(plan, 1):
        total = 0.0
        for batch in epoch_batches:
            loss = model(**tensors(rows, batch)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += float(loss.detach())
        print(f"epoch {epoch}/{args.epochs}: mean loss {total / len(epoch_batches):.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    model.eval()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"saved {out}: {n_params / 1e6:.2f} M parameters, vocabulary {len(tokenizer.get_vocab()):,}, "
          f"{args.layers} layers x {args.hidden} hidden, {len(rows)} sentences, {steps} steps, "
          f"{time.perf_counter() - t0:.0f} s")


def agreement(a: list[list[str]], b: list[list[str]]) -> tuple[int, int]:
    return sum(x == y for s, t in zip(a, b) for x, y in zip(s, t)), sum(map(len, a))


def evaluate(folder: Path, dev: list[tuple[list[str], list[str]]]) -> dict[str, Any]:
    """fp32 and int8 dev F1, their agreement, and fp32 against camel-tools' own predict."""
    from extractors.entities.camel import ensure_catalogue
    from extractors.entities.camel_fast import FastCamelTagger

    words = [w for w, _ in dev]
    gold = [t for _, t in dev]
    fp32 = FastCamelTagger(folder, quantize=False, device="cpu")
    fp32_tags = fp32.tag(words)
    int8_tags = FastCamelTagger(folder, quantize=True, device="cpu").tag(words)
    ensure_catalogue()
    from camel_tools.ner import NERecognizer

    same_as_camel = fp32.predict(words) == NERecognizer(str(folder), use_gpu=False).predict(words)
    f_fp32, f_int8 = score(gold, fp32_tags), score(gold, int8_tags)
    agree, n = agreement(int8_tags, fp32_tags)
    print(f"dev: {len(dev)} sentences, {n:,} tokens")
    print(f"fp32 (FastCamelTagger):\n{format_scores(f_fp32)}\nint8 (quantize_dynamic):\n{format_scores(f_int8)}")
    delta = 100 * (f_fp32["micro"]["f1"] - f_int8["micro"]["f1"])
    print(f"micro F1: fp32 {100 * f_fp32['micro']['f1']:.2f}, int8 {100 * f_int8['micro']['f1']:.2f} "
          f"(int8 loses {delta:.2f} points); tag agreement int8 vs fp32 {agree:,}/{n:,} ({100 * agree / n:.2f}%); "
          f"fp32 labels == camel-tools predict: {same_as_camel}")
    return {"f1_fp32": f_fp32["micro"]["f1"], "f1_int8": f_int8["micro"]["f1"], "agreement": agree / n,
            "tokens": n, "fp32_equals_predict": same_as_camel}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="ANERcorp CoNLL file (train split)")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "small-bert-ner"), help="model folder")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=12000, help="WordPiece vocabulary size")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-tokens", type=int, default=2048, help="padded pieces per training batch")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves a core to others)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--eval-only", action="store_true", help="evaluate an already trained --out folder")
    ap.add_argument("--json", default=None, help="write the evaluation figures to this file")
    args = ap.parse_args(argv)
    if not Path(args.data).is_file():
        print(f"ANERcorp not found at {args.data}; pass --data FILE", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    os.environ["AKHBAR_NER_THREADS"] = str(args.threads)
    train_sents, dev = split_dev(read_conll(args.data))
    if not args.eval_only:
        train(args, train_sents)
    result = evaluate(Path(args.out), dev)
    if args.json:
        Path(args.json).write_text(json.dumps({**result, **vars(args)}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
