"""The camel backend's loading path, offline, with a tiny randomly initialised BERT model.

camel-tools fixes its data directory when it is first imported, so each scenario runs in its own
subprocess with its own HOME / CAMELTOOLS_DATA / XDG_CACHE_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from extractors.entities.mentions import ModelNotFoundError, get_backend

ROOT = Path(__file__).resolve().parents[1]

LABELS = ["O", "B-PERS", "I-PERS", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]

MAKE_MODEL = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizer

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    letters = [chr(c) for c in range(0x0621, 0x064B)]
    words = ["قال", "الرئيس", "في", "بيروت", "سوريا", "الامم", "المتحده"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "،", "«", "»"] + letters + ["##" + c for c in letters] + words
    (out / "vocab.txt").write_text("\\n".join(vocab) + "\\n", encoding="utf-8")
    labels = json.loads(sys.argv[2])
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=300, num_labels=len(labels),
                     id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    BertForTokenClassification(cfg).save_pretrained(out)
    BertTokenizer(str(out / "vocab.txt"), do_lower_case=False).save_pretrained(out)
    """
)

SCENARIO = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    from extractors.entities.mentions import get_backend, to_iob2
    b = get_backend("auto")
    assert b.name == "camel", b.name
    assert get_backend("auto") is b and get_backend("camel") is b  # cached
    sents = [["قال", "الرئيس", "في", "بيروت", "."], ["سوريا"], [], ["\\u200b", "الامم", "المتحده"], ["كلمة"] * 300]
    tags = b.tag(sents)
    assert [len(t) for t in tags] == [len(s) for s in sents], tags
    for seq in tags:
        assert to_iob2(seq) == seq, seq
        assert all(t == "O" or t[2:] in ("PERS", "LOC", "ORG", "MISC") for t in seq)
    print(json.dumps({"data_dir": os.environ.get("CAMELTOOLS_DATA"), "torch": "torch" in sys.modules}))
    """
)


def _run(args, env, timeout=240):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("transformers")
    pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("tiny-camelbert")
    env = {**os.environ, "HOME": str(path.parent), "TRANSFORMERS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    r = _run(["-c", MAKE_MODEL, str(path), json.dumps(LABELS)], env)
    assert r.returncode == 0, r.stderr[-3000:]
    return path


def _env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("CAMELTOOLS_DATA", "AKHBAR_CAMEL_MODEL", "XDG_CACHE_HOME")}
    env.update({"HOME": str(tmp_path / "home"), "TRANSFORMERS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
                "XDG_CACHE_HOME": str(tmp_path / "cache")})
    env.update(extra)
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def test_auto_picks_camel_with_stub_catalogue(tiny_model, tmp_path):
    """No camel-tools data anywhere: a private stub catalogue makes the import work offline."""
    env = _env(tmp_path, AKHBAR_CAMEL_MODEL=str(tiny_model))
    r = _run(["-c", SCENARIO, str(ROOT)], env)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout.strip().splitlines()[-1])
    stub = tmp_path / "cache" / "akhbar" / "camel_tools_data"
    assert info["data_dir"] == str(stub)
    cat = json.loads((stub / "catalogue.json").read_text(encoding="utf-8"))
    assert {"version", "packages", "components"} <= set(cat)


def test_user_catalogue_is_used_and_not_modified(tiny_model, tmp_path):
    user = tmp_path / "user_camel_data"
    user.mkdir()
    (user / "catalogue.json").write_text(json.dumps({
        "version": "1.6", "packages": {},
        "components": {"NamedEntityRecognition": {"default": "arabert", "datasets": {"arabert": {"path": "ner/arabert"}}}},
    }), encoding="utf-8")
    (user / "versions.json").write_text("{}", encoding="utf-8")
    before = _snapshot(user)
    env = _env(tmp_path, AKHBAR_CAMEL_MODEL=str(tiny_model), CAMELTOOLS_DATA=str(user))
    r = _run(["-c", SCENARIO, str(ROOT)], env)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["data_dir"] == str(user)
    assert _snapshot(user) == before
    assert not (tmp_path / "cache" / "akhbar").exists()


def test_model_in_camel_data_dir_is_found(tiny_model, tmp_path, monkeypatch):
    """Where `camel_data -i ner` installs it: <data dir>/data/ner/arabert."""
    from extractors.entities.camel import find_camel_model

    data = tmp_path / "ctdata"
    target = data / "data" / "ner" / "arabert"
    target.parent.mkdir(parents=True)
    target.symlink_to(tiny_model, target_is_directory=True)
    monkeypatch.delenv("AKHBAR_CAMEL_MODEL", raising=False)
    monkeypatch.setenv("CAMELTOOLS_DATA", str(data))
    assert find_camel_model() == tiny_model.resolve()


def test_camel_without_model_raises_helpful_error(tmp_path, monkeypatch):
    monkeypatch.delenv("AKHBAR_CAMEL_MODEL", raising=False)
    monkeypatch.setenv("CAMELTOOLS_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as exc:
        get_backend("camel")
    msg = str(exc.value)
    assert "camel_data -i ner" in msg and "AKHBAR_CAMEL_MODEL" in msg
    # auto falls back to crf
    assert get_backend("auto").name == "crf"
    # a bad AKHBAR_CAMEL_MODEL is an error for `camel`, a fallback for `auto`
    monkeypatch.setenv("AKHBAR_CAMEL_MODEL", str(tmp_path / "nothing-here"))
    with pytest.raises(ModelNotFoundError):
        get_backend("camel")
    assert get_backend("auto").name == "crf"
