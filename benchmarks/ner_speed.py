#!/usr/bin/env python3
"""Speed of the camel NER paths side by side, in one run: camel-tools' predict, our fp32 and int8 paths, the CRF.

    .venv/bin/python benchmarks/ner_speed.py                   # BERT-base shape, 188 ANERcorp sentences
    .venv/bin/python benchmarks/ner_speed.py --sentences 60    # shorter
    .venv/bin/python benchmarks/ner_speed.py --quick           # tiny model, smoke run
    .venv/bin/python benchmarks/ner_speed.py --threads 1       # one torch thread per path (a busy machine)
    .venv/bin/python benchmarks/ner_speed.py --layers 4        # BERT-base widths, fewer layers (cheaper check)

The model is a BertForTokenClassification of CAMeLBERT-MSA-NER's shape (12 layers, 768 hidden, 12 heads, a
30,000-entry word-piece vocabulary, 9 labels B-/I- PERS LOC ORG MISC + O) with random weights, written to a
temporary folder: the speed is real, the tags are meaningless, nothing is downloaded. The vocabulary holds
the most frequent words of the ANERcorp file, frequent word endings as ``##`` pieces, letters, and filler.

Sentences: evenly spread over the last 10% of ../shared/data/ner/ANERCorp_CamelLab_train.txt (the project's
dev split), or generated Arabic-letter sentences when the file is absent.

Every path runs in its own fresh process, one after the other: load (timed apart), a warm-up on two sentences,
then one timed call over all the sentences. tokens/s counts words (the backend's tokens), tagging time only;
tokens per CPU-second divides by the process's CPU time instead, which other jobs on the machine disturb much
less than the wall clock when each path has one thread (``--threads 1``).
Peak RSS is the child's own ``ru_maxrss`` (imports + model + tagging). Agreement: fp32 labels against
camel-tools' (raw model labels, every word; a sentence counts as equal when all its labels are), int8 against
fp32, token by token, and again after strict IOB2. camel-tools runs as the ``camel`` backend ran it before
issue 16 (words without word pieces sent as ``[UNK]``, ``predict(batch_size=32)``); ours is
``FastCamelTagger.tag_raw`` (extractors/entities/camel_fast.py: the same, before IOB2). The CRF is
``get_backend("crf").tag``. Results and the commands that produced them: benchmarks/README.md.

Threads: by default every model path uses all usable cores. When other processes keep the cores busy, torch's
threads wait on each other at every operation (a tiny model ran 26x slower with 2 threads than with 1 beside one
busy process), so read the load average printed first, and use ``--threads 1`` on a busy machine: that is also
what each worker gets when the process runner runs two workers on 2 cores.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LABELS = ["O", "B-PERS", "I-PERS", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
ANER_NAME = "ANERCorp_CamelLab_train.txt"
STUB_CATALOGUE = {"version": "1.6", "packages": {}, "components": {
    "NamedEntityRecognition": {"default": "arabert", "datasets": {"arabert": {"path": "ner/arabert"}}}}}
BASE: dict[str, Any] = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                        "intermediate_size": 3072}
TINY: dict[str, Any] = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}
VOCAB_SIZE = 30_000
PATHS = ("camel", "fp32", "int8", "crf")
Tagging = Callable[[list[list[str]]], list[list[str]]]


def repo_root() -> Path:
    try:
        import extractors

        return Path(extractors.__file__).resolve().parents[1]
    except ImportError:
        return HERE.parent


def read_conll(path: Path) -> list[list[str]]:
    sents: list[list[str]] = []
    cur: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts:
            cur.append(parts[0])
        elif cur:
            sents.append(cur)
            cur = []
    return sents + ([cur] if cur else [])


def generated(n: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    letters = [chr(c) for c in range(0x0621, 0x064B) if c not in range(0x063B, 0x0641)]
    lexicon = ["".join(rng.choices(letters, k=rng.randint(2, 8))) for _ in range(5000)] + ["،", ".", "«", "»"]
    return [rng.choices(lexicon, k=rng.randint(5, 40)) for _ in range(n)]


def load_sentences(n: int) -> tuple[list[list[str]], list[list[str]], str]:
    """(benchmark sentences, all sentences for the vocabulary, description)."""
    path = repo_root().parent / "shared" / "data" / "ner" / ANER_NAME
    if not path.is_file():
        sents = generated(max(n, 2000))
        return sents[:n], sents, "generated Arabic-letter sentences (ANERcorp not found)"
    allsents = read_conll(path)
    dev = allsents[int(len(allsents) * 0.9):]
    step = len(dev) / n
    return [dev[int(i * step)] for i in range(n)], allsents, f"ANERcorp dev (last 10% of {path.name}), evenly spread"


def build_vocab(corpus: list[list[str]]) -> list[str]:
    letters = [chr(c) for c in range(0x0621, 0x0653)]
    punct = list(".،,:;!?؟«»()[]{}-_/\"'%$&*+<=>@#^|~`؛") + list("0123456789٠١٢٣٤٥٦٧٨٩")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *punct, *letters, *("##" + c for c in letters)]
    words = collections.Counter(w for s in corpus for w in s)
    endings = collections.Counter(w[-k:] for w in words for k in (2, 3) if len(w) > k + 1)
    seen = set(vocab)
    extra = ["##" + e for e, _ in endings.most_common(3000)]
    extra += [w for w, c in words.most_common() if c >= 2]
    for tok in extra:
        if tok not in seen and len(vocab) < VOCAB_SIZE:
            vocab.append(tok)
            seen.add(tok)
    vocab += [f"[unused{i}]" for i in range(VOCAB_SIZE - len(vocab))]
    return vocab


def child_build(folder: Path, quick: bool, corpus_file: Path, layers: int | None) -> dict:
    return make_model(folder, json.loads(corpus_file.read_text(encoding="utf-8")), quick, layers)


def make_model(folder: Path, corpus: list[list[str]], quick: bool = False, layers: int | None = None) -> dict:
    """A random BertForTokenClassification of CAMeLBERT-MSA-NER's shape, saved as a camel-tools model folder."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = build_vocab(corpus)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), max_position_embeddings=512,
                     id2label=dict(enumerate(LABELS)), label2id={lab: i for i, lab in enumerate(LABELS)},
                     **{**(TINY if quick else BASE), **({"num_hidden_layers": layers} if layers else {})})
    model = BertForTokenClassification(cfg)
    model.save_pretrained(folder)
    BertTokenizer(vocab=str(folder / "vocab.txt"), do_lower_case=False).save_pretrained(folder)
    return {"params": sum(p.numel() for p in model.parameters()), "vocab": len(vocab), "labels": cfg.num_labels,
            "layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size}


def child_cache(model: Path) -> dict:
    """Quantise the model once into the int8 cache (what the first worker on a machine does)."""
    sys.path.insert(0, str(repo_root()))
    from extractors.entities.camel_fast import load_int8_model

    t0 = time.perf_counter()
    load_int8_model(model)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": time.perf_counter() - t0, "peak_rss_mb": peak}


def _camel_data(tmp: Path) -> None:
    """camel-tools reads (or downloads) its catalogue at import: give it a stub in the benchmark's folder."""
    data = tmp / "camel_data"
    data.mkdir(exist_ok=True)
    (data / "catalogue.json").write_text(json.dumps(STUB_CATALOGUE), encoding="utf-8")
    os.environ["CAMELTOOLS_DATA"] = str(data)


def child_camel(model: Path, sents: list[list[str]]) -> tuple[Any, Tagging]:
    """camel-tools as the camel backend runs it (CamelTagger): load, and a tagging function."""
    import torch
    from camel_tools.ner import NERecognizer

    rec = NERecognizer(str(model), use_gpu=torch.cuda.is_available())
    unk = rec.tokenizer.unk_token

    def run(batch: list[list[str]]) -> list[list[str]]:
        safe = [[w if rec.tokenizer.tokenize(w) else unk for w in s] for s in batch if s]
        preds = iter(rec.predict(safe, batch_size=32))
        return [list(next(preds)) if s else [] for s in batch]

    return rec, run


def child_fast(model: Path, quantize: bool, batch_tokens: int | None) -> tuple[Any, Tagging]:
    sys.path.insert(0, str(repo_root()))
    from extractors.entities.camel_fast import FastCamelTagger

    tagger = FastCamelTagger(model, quantize=quantize, workers=1, max_batch_tokens=batch_tokens)
    return tagger, tagger.tag_raw


def piece_stats(tagger: Any, model: Path, sents: list[list[str]]) -> dict:
    """Word pieces of the sentences, and words whose pieces differ from camel-tools' word-by-word tokenizer."""
    from extractors.entities.camel_fast import plan_batches, reference_pieces, word_pieces

    words = sorted({w for s in sents for w in s})
    ours = [p[0] for p in word_pieces(tagger.tokenizer, [[w] for w in words], tagger.nfc)]
    differ = sum(a != b for a, b in zip(ours, reference_pieces(model, words)))

    segs = tagger.segments(sents)
    lengths = [len(s.ids) + 2 for s in segs]
    padded = sum(lengths[b[0]] * len(b) for b in plan_batches(lengths, tagger.max_batch_tokens, *tagger.pad_slack))
    return {"pieces": sum(lengths) - 2 * len(segs), "segments": len(segs), "longest_segment": max(lengths),
            "padded": padded, "distinct_words": len(words), "words_tokenised_differently": differ}


def child_run(mode: str, model: Path, data: Path, tmp: Path, batch_tokens: int | None, threads: int) -> dict:
    sents = json.loads(data.read_text(encoding="utf-8"))
    if threads and mode != "crf":
        import torch

        torch.set_num_threads(threads)  # camel-tools
        os.environ["AKHBAR_NER_THREADS"] = str(threads)  # FastCamelTagger
    t0 = time.perf_counter()
    extra: dict = {}
    obj: Any
    run: Tagging
    if mode == "camel":
        _camel_data(tmp)
        obj, run = child_camel(model, sents)
    elif mode in ("fp32", "int8"):
        obj, run = child_fast(model, mode == "int8", batch_tokens)
    else:
        sys.path.insert(0, str(repo_root()))
        from extractors.entities.mentions import get_backend

        obj = get_backend("crf")
        run = obj.tag
    load = time.perf_counter() - t0
    run(sents[:2])  # warm-up (lazy initialisation)
    t0, c0 = time.perf_counter(), time.process_time()
    labels = run(sents)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    if mode == "fp32":
        extra = piece_stats(obj, model, sents)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "crf":
        extra = {"imports_torch": "torch" in sys.modules, "threads": "-"}
    else:
        import torch

        extra["threads"] = torch.get_num_threads()
    return {"mode": mode, "load_s": load, "tag_s": secs, "cpu_s": cpu, "labels": labels, "peak_rss_mb": rss, **extra}


def spawn(args: list[str], timeout: float = 900, cache_home: str | None = None) -> dict:
    out = Path(args[args.index("--out") + 1])
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True,
                       timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                                             **({"XDG_CACHE_HOME": cache_home} if cache_home else {})})
    if r.returncode != 0:
        raise SystemExit(f"child {args[:2]} failed:\n{r.stderr[-4000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def agreement(a: list[list[str]], b: list[list[str]]) -> tuple[int, int, int]:
    """(equal tokens, equal sentences, tokens compared)."""
    tok = sum(x == y for s, t in zip(a, b) for x, y in zip(s, t))
    return tok, sum(s == t for s, t in zip(a, b)), sum(len(s) for s in a)


def report(results: dict[str, dict], sents: list[list[str]]) -> None:
    from extractors.entities.iob import to_iob2

    n_tok = sum(len(s) for s in sents)
    base = n_tok / results["camel"]["tag_s"]
    cpu_base = n_tok / results["camel"]["cpu_s"]
    print("\n| path | load s | tag s | tokens/s | x predict | tokens per CPU-s | x predict (CPU) | peak RSS MB "
          "| torch threads |")
    print("|---|---|---|---|---|---|---|---|---|")
    names = {"camel": "camel-tools NERecognizer.predict", "fp32": "FastCamelTagger fp32",
             "int8": "FastCamelTagger int8", "crf": "crf backend"}
    for mode in PATHS:
        r = results[mode]
        tps, cps = n_tok / r["tag_s"], n_tok / r["cpu_s"]
        print(f"| {names[mode]} | {r['load_s']:.1f} | {r['tag_s']:.2f} | {tps:,.0f} | {tps / base:.1f}x "
              f"| {cps:,.0f} | {cps / cpu_base:.1f}x | {r['peak_rss_mb']:,.0f} | {r['threads']} |")
    cam, fp, q = (results[m]["labels"] for m in ("camel", "fp32", "int8"))
    tok, sen, n = agreement(fp, cam)
    print(f"\nfp32 vs camel-tools predict: {tok}/{n} tokens, {sen}/{len(sents)} sentences equal"
          f" -> {'IDENTICAL' if tok == n and sen == len(sents) else 'DIFFERENT'}")
    tok2, _, _ = agreement([to_iob2(s) for s in fp], [to_iob2(s) for s in cam])
    print(f"fp32 vs camel-tools after strict IOB2: {tok2}/{n} tokens equal")
    tok3, sen3, _ = agreement(q, fp)
    print(f"int8 vs fp32: {tok3}/{n} tokens agree ({100 * tok3 / max(n, 1):.2f}%), {sen3}/{len(sents)} sentences")
    print(f"crf imports torch: {results['crf'].get('imports_torch')}")


def run_children(args: argparse.Namespace, tmp: Path, sents: list[list[str]], corpus: list[list[str]]) -> dict:
    (tmp / "sents.json").write_text(json.dumps(sents, ensure_ascii=False), encoding="utf-8")
    (tmp / "corpus.json").write_text(json.dumps(corpus, ensure_ascii=False), encoding="utf-8")
    model = tmp / "model"
    t0 = time.perf_counter()
    info = spawn(["--child", "build", "--model", str(model), "--data", str(tmp / "corpus.json"),
                  "--out", str(tmp / "build.json")] + (["--quick"] if args.quick else [])
                 + (["--layers", str(args.layers)] if args.layers else []))
    print(f"model: {info['params'] / 1e6:.1f} M parameters, vocabulary {info['vocab']:,}, "
          f"{info['labels']} labels, {info['layers']} layers x {info['hidden']} hidden, "
          f"built and saved in {time.perf_counter() - t0:.1f} s")
    results = {}
    cache_home = str(tmp / "cache")  # the int8 file of this run's model, written once before the int8 path runs
    for mode in PATHS:
        extra = ["--batch-tokens", str(args.batch_tokens)] if args.batch_tokens else []
        extra += ["--threads", str(args.threads)] if args.threads else []
        if mode == "int8":
            built = spawn(["--child", "cache", "--model", str(model), "--out", str(tmp / "cache.json")],
                          cache_home=cache_home)
            print(f"  int8 file: quantised once and written in {built['seconds']:.1f} s (peak RSS "
                  f"{built['peak_rss_mb']:,.0f} MB); the int8 path below loads it, as every worker does", flush=True)
        results[mode] = spawn(["--child", mode, "--model", str(model), "--data", str(tmp / "sents.json"),
                               "--out", str(tmp / f"{mode}.json"), "--tmp", str(tmp), *extra], cache_home=cache_home)
        print(f"  {mode}: done in {results[mode]['tag_s']:.2f} s (load {results[mode]['load_s']:.1f} s)", flush=True)
    return results


def main_child(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.child == "build":
        result = child_build(Path(args.model), args.quick, Path(args.data), args.layers)
    elif args.child == "cache":
        result = child_cache(Path(args.model))
    else:
        result = child_run(args.child, Path(args.model), Path(args.data), Path(args.tmp), args.batch_tokens,
                           args.threads)
    out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=None, help="number of sentences (default 188; 40 with --quick)")
    ap.add_argument("--quick", action="store_true", help="tiny model (2 layers, 64 hidden): a smoke run")
    ap.add_argument("--layers", type=int, default=None, help="encoder layers (default 12; 2 with --quick)")
    ap.add_argument("--batch-tokens", type=int, default=None, help="word pieces per batch for our paths")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads for every model path (default: all usable cores); 1 is what each of two "
                         "process-runner workers gets on 2 cores, and the fair choice when the machine is busy")
    ap.add_argument("--make-model", metavar="DIR", default=None,
                    help="only write the random model folder to DIR and exit (benchmarks/pipeline.py --backend camel)")
    ap.add_argument("--warm-int8", action="store_true",
                    help="with --make-model: also write the model's int8 file into $XDG_CACHE_HOME/akhbar/camel_int8")
    ap.add_argument("--child", choices=("build", "cache", *PATHS), help=argparse.SUPPRESS)
    for opt in ("--model", "--data", "--out", "--tmp"):
        ap.add_argument(opt, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return main_child(args)
    if args.make_model:
        info = make_model(Path(args.make_model), load_sentences(1)[1], args.quick, args.layers)
        if args.warm_int8:
            info["int8_seconds"] = child_cache(Path(args.make_model))["seconds"]
        print(json.dumps(info))
        return 0
    load1, load5, load15 = os.getloadavg()
    print(f"load average at start: {load1:.2f} {load5:.2f} {load15:.2f} on {os.cpu_count()} CPUs; "
          f"torch threads per model path: {args.threads or 'all usable cores'}")
    n = args.sentences or (40 if args.quick else 188)
    sents, corpus, label = load_sentences(n)
    print(f"sentences: {label}: {len(sents)} sentences, {sum(map(len, sents)):,} tokens, "
          f"longest {max(map(len, sents))} tokens; model: {'tiny (--quick)' if args.quick else 'BERT-base widths'}")
    with tempfile.TemporaryDirectory(prefix="ner_speed-") as tmp:
        results = run_children(args, Path(tmp), sents, corpus)
    st = results["fp32"]
    print(f"word pieces: {st['pieces']:,} in {st['segments']} segments (longest {st['longest_segment']} with "
          f"[CLS]/[SEP]); {st['words_tokenised_differently']} of {st['distinct_words']:,} distinct words "
          f"tokenised differently from camel-tools")
    real = st["pieces"] + 2 * st["segments"]
    print(f"word pieces through the Linear layers: camel-tools {256 * st['segments']:,} (256 per segment), ours "
          f"{real:,} (the real pieces with [CLS]/[SEP], no padding: {256 * st['segments'] / real:.2f}x fewer); "
          f"our attention runs on batches padded to {st['padded']:,} ({st['padded'] / real - 1:.1%} padding)")
    report(results, sents)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
