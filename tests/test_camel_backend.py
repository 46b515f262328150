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
    assert not (tmp_path / "cache" / "akhbar" / "camel_tools_data").exists()  # no stub catalogue written


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


def _stub_camel_data(tmp_path: Path, monkeypatch) -> None:
    """camel-tools reads its catalogue at first import: a stub, set through monkeypatch so no test inherits it."""
    data = tmp_path / "camel_data"
    data.mkdir(exist_ok=True)
    (data / "catalogue.json").write_text(json.dumps({"version": "1.6", "packages": {}, "components": {
        "NamedEntityRecognition": {"default": "arabert", "datasets": {"arabert": {"path": "ner/arabert"}}}}}),
        encoding="utf-8")
    monkeypatch.setenv("CAMELTOOLS_DATA", str(data))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the int8 model cache, not the user's


def test_backend_is_cached_per_precision_and_names_its_model(tiny_model, tmp_path, monkeypatch, caplog):
    import logging

    from extractors.entities.mentions import EntityError, backend_model_id

    caplog.set_level(logging.INFO, logger="extractors.entities.camel")

    _stub_camel_data(tmp_path, monkeypatch)
    monkeypatch.setenv("AKHBAR_CAMEL_MODEL", str(tiny_model))
    monkeypatch.setenv("AKHBAR_CAMEL_INT8", "off")
    fp32 = get_backend("camel")
    assert get_backend("auto") is fp32 and not fp32.quantized
    assert fp32.model_id == backend_model_id("camel") == f"{tiny_model.name} (fp32)"
    monkeypatch.setenv("AKHBAR_CAMEL_INT8", "on")
    int8 = get_backend("camel")
    assert int8 is not fp32 and int8.quantized and get_backend("camel") is int8
    assert int8.model_id == backend_model_id("camel") == f"{tiny_model.name} (int8)"
    assert [len(t) for t in int8.tag([["قال", "الرئيس"], []])] == [2, 0]
    assert len(list((tmp_path / "cache" / "akhbar" / "camel_int8").glob("*.pt"))) == 1  # quantised once, kept
    loaded = [r.getMessage() for r in caplog.records if "loaded; this process now holds" in r.getMessage()]
    assert len(loaded) == 2 and all(" MB resident (peak " in m for m in loaded)  # memory per worker, in its log
    monkeypatch.setenv("AKHBAR_CAMEL_INT8", "perhaps")
    with pytest.raises(EntityError, match="AKHBAR_CAMEL_INT8"):
        get_backend("camel")
    model_id = backend_model_id("crf")
    assert model_id.startswith("shipped crf ") and len(model_id.split()[-1]) == 12


def test_run_row_and_artifact_name_the_backend_and_model(tiny_model, tmp_path, monkeypatch, site, prefect_harness):
    """Real ingest-urls runs (thread runner) with camel, then crf: the runs row says which one tagged."""
    import duckdb
    from conftest import REPO
    from localsite import html

    from flows.ingest import ingest_urls

    _stub_camel_data(tmp_path, monkeypatch)
    monkeypatch.setenv("AKHBAR_CAMEL_MODEL", str(tiny_model))
    monkeypatch.setenv("AKHBAR_CAMEL_INT8", "0")
    body = (REPO / "samples" / "site" / "world" / "solana-annan-lebanon.html").read_text(encoding="utf-8")
    site.routes["/a.html"] = lambda req: html(body)
    db = tmp_path / "runs.duckdb"
    camel = ingest_urls(urls=[site.url("/a.html")], db_path=str(db), allow_private_addresses=True, backend="camel")
    crf = ingest_urls(urls=[site.url("/a.html")], db_path=str(db), allow_private_addresses=True, backend="crf")
    assert camel.stored == crf.stored == 1
    assert (camel.ner_backend, camel.ner_model) == ("camel", f"{tiny_model.name} (fp32)")
    con = duckdb.connect(str(db), read_only=True)
    try:
        got = dict(con.execute("SELECT run_id, [ner_backend, ner_model] FROM runs").fetchall())
    finally:
        con.close()
    assert got[camel.run_id] == ["camel", f"{tiny_model.name} (fp32)"]
    assert got[crf.run_id][0] == "crf" and got[crf.run_id][1].startswith("shipped crf ")


def test_lake_runs_keep_the_backend(tmp_path):
    """A run into a DuckLake warehouse records its NER backend and model in `runs` as a run into a file does."""
    from warehouse.connection import connect
    from warehouse.store import Warehouse

    lake = f"ducklake:sqlite:{tmp_path / 'catalog.sqlite'}"
    warehouse = Warehouse(lake)
    warehouse.migrate()
    for run_id, backend, model in (("camel-run", "camel", "arabert (int8)"), ("untagged-run", None, None)):
        warehouse.start_run(run_id, "ingest", {})
        warehouse.finish_run(run_id, discovered=2, fetched=2, stored=2, failed=0, status="completed",
                             ner_backend=backend, ner_model=model)
    con = connect(lake, read_only=True)
    try:
        got = con.execute("SELECT run_id, status, ner_backend, ner_model FROM runs ORDER BY run_id").fetchall()
    finally:
        con.close()
    assert got == [("camel-run", "completed", "camel", "arabert (int8)"), ("untagged-run", "completed", None, None)]


@pytest.mark.parametrize("var, value", [("AKHBAR_CAMEL_INT8", "maybe"), ("AKHBAR_NER_THREADS", "0")])
def test_bad_camel_setting_stops_the_cli_at_start(var, value, tmp_path):
    env = _env(tmp_path, **{var: value})
    akhbar = Path(sys.executable).with_name("akhbar")
    r = subprocess.run([str(akhbar), "ner", "--backend", "crf"], input="", env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and var in lines[0]
