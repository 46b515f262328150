"""`akhbar ner adapt`: the offline model retrained with the user's own articles, installed in the user's data
directory, loaded by the crf backend, removed by `--reset`; never a half-written model; one-line errors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

from extractors.entities.base import ENTITY_TYPES
from extractors.entities.crf.tagger import (
    CURRENT_FILE,
    MANIFEST_FILE,
    MODEL_DIR,
    MODEL_FILE,
    RESOURCES_FILE,
    CRFTagger,
    adapted_root,
    file_digest,
    installed_model,
    model_id,
)
from extractors.entities.iob import to_iob2
from extractors.entities.tokens import split_sentences
from extractors.entities.training import adapt as adapt_lib
from extractors.extract.article import extract_article
from extractors.records import ExtractedArticle, ProcessedArticle
from flows.ner_adapt import MIN_ARTICLES
from warehouse.store import Warehouse

# the real command, in its own process (exit codes, stderr) as a user runs it
ADAPT = [sys.executable, "-m", "flows.cli", "ner", "adapt"]
# tiny training: 200 labelled sentences, 5 iterations (seconds, not minutes); the model is weak but real
QUICK = ["--iterations", "5", "--train-sentences", "200", "--min-articles", "5", "--allow-fewer-corpora"]  # tiny and quick
SENTENCE = ["قال", "الرئيس", "الفلسطيني", "محمود", "عباس", "في", "القاهرة", "إن", "جامعة", "الدول", "العربية", "ستجتمع"]


def sample_texts() -> list[str]:
    """The Arabic article texts of the bundled sample site, as the pipeline extracts them."""
    pages = sorted((REPO / "samples" / "site").glob("*/*.html"))
    texts = [extract_article(p.read_text(encoding="utf-8"), f"https://e.com/{p.parent.name}/{p.name}").text
             for p in pages]
    return [t for t in texts if t]


def stored(url: str, text: str, language: str = "ar") -> ProcessedArticle:
    article = ExtractedArticle(url=url, title=url.rsplit("/", 1)[-1], author=None, published_at=None,
                               language=language, text=text)
    return ProcessedArticle(article_id=hashlib.sha256(url.encode()).hexdigest(), url=url, source="s",
                            article=article, content_hash=hashlib.sha256(text.encode()).hexdigest(),
                            fetched_at=datetime.now(UTC), final_url=None, mentions=[], backend="crf")


@pytest.fixture(scope="module")
def news_db(tmp_path_factory) -> Path:
    """A real warehouse file: the sample site's Arabic articles and one English article (not learned from)."""
    db = tmp_path_factory.mktemp("adapt-db") / "news.duckdb"
    texts = sample_texts()
    assert len(texts) >= 10
    items = [stored(f"https://e.com/a/{i}", text) for i, text in enumerate(texts)]
    items.append(stored("https://e.com/en", "The minister met the delegation in London on Monday. " * 20, "en"))
    warehouse = Warehouse(db, wait_seconds=5)
    warehouse.migrate()
    warehouse.load(items, [], None)
    return db


def run(cmd: list[str], data_dir: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "AKHBAR_DATA_DIR": str(data_dir), "PREFECT_LOGGING_LEVEL": "WARNING", **(extra_env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)


def assert_valid_tags(tags: list[list[str]], sentences: list[list[str]]) -> None:
    assert [len(t) for t in tags] == [len(s) for s in sentences]
    for sent_tags in tags:
        assert to_iob2(sent_tags) == sent_tags
        assert all(t == "O" or (t[:2] in ("B-", "I-") and t[2:] in ENTITY_TYPES) for t in sent_tags)


def test_adapt_installs_a_model_crf_loads_and_reset_goes_back(news_db, tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("AKHBAR_DATA_DIR", str(data))
    shipped_id = model_id()
    assert shipped_id.startswith("shipped crf ") and CRFTagger().model_dir == MODEL_DIR

    r = run([*ADAPT, "--db", str(news_db), *QUICK], data)
    assert r.returncode == 0, r.stderr
    installed = installed_model()
    assert installed is not None and installed.folder.parent == adapted_root()
    assert installed.folder.name in r.stdout and "--reset" in r.stdout
    assert installed.manifest["articles"] == len(sample_texts())  # the English article is not learned from
    assert installed.manifest["model_sha256"] == file_digest(installed.folder / MODEL_FILE)
    # the package's model folder is untouched; the user's folder holds exactly one model, no leftovers
    assert not (MODEL_DIR / MANIFEST_FILE).exists()
    assert sorted(p.name for p in adapted_root().iterdir() if not p.name.startswith(".lock")) == sorted(
        [CURRENT_FILE, installed.folder.name])

    tagger = CRFTagger()
    assert tagger.model_dir == installed.folder
    assert tagger.model_id == model_id() == installed.model_id
    assert tagger.model_id.startswith("adapted crf ") and tagger.model_id != shipped_id
    sentences = [SENTENCE, [t.text for t in split_sentences(sample_texts()[0])[0]]]
    assert_valid_tags(tagger.tag(sentences), sentences)

    # a fresh process's crf backend (what ingest workers build) loads it too
    probe = "from extractors.entities.mentions import get_backend; b = get_backend('crf'); print(b.model_dir)"
    r = run([sys.executable, "-c", probe], data)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(installed.folder)

    r = run([*ADAPT, "--reset"], data)
    assert r.returncode == 0, r.stderr
    assert "shipped" in r.stdout
    assert installed_model() is None and not installed.folder.exists()
    assert CRFTagger().model_dir == MODEL_DIR and model_id() == shipped_id
    r = run([*ADAPT, "--reset"], data)  # nothing to remove: still fine
    assert r.returncode == 0 and "no adapted model" in r.stdout


def _wait_for_building(root: Path, proc: subprocess.Popen, timeout: float = 300) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        building = [p for p in root.glob(f"{adapt_lib.BUILDING_PREFIX}*") if p.is_dir()] if root.is_dir() else []
        if building:
            return building[0]
        if proc.poll() is not None:
            raise AssertionError(f"adapt ended ({proc.returncode}) before it started building: {proc.stderr}")
        time.sleep(0.05)
    raise AssertionError("adapt never started building")


def test_a_killed_adapt_leaves_the_previous_model_in_use(news_db, tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("AKHBAR_DATA_DIR", str(data))
    assert run([*ADAPT, "--db", str(news_db), *QUICK], data).returncode == 0
    first = installed_model()
    assert first is not None

    # a second, slower adapt killed while it trains: its half-built folder is never what the tagger loads
    env = {**os.environ, "AKHBAR_DATA_DIR": str(data)}
    slow = [*ADAPT, "--db", str(news_db), "--iterations", "100000", "--min-articles", "5"]
    proc = subprocess.Popen(slow, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        building = _wait_for_building(adapted_root(), proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stderr and proc.stderr.close()
    assert building.exists()  # the leftover a kill leaves behind
    again = installed_model()
    assert again is not None and again.folder == first.folder and again.model_id == first.model_id
    assert CRFTagger().model_dir == first.folder

    # the next adapt removes the leftover and installs its own model in place of the first
    assert run([*ADAPT, "--db", str(news_db), *QUICK], data).returncode == 0
    second = installed_model()
    assert second is not None and second.folder != first.folder
    assert not building.exists() and not first.folder.exists()


def _copy_of_shipped_model(folder: Path) -> None:
    shutil.copytree(MODEL_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert (folder / MODEL_FILE).is_file() and (folder / RESOURCES_FILE).is_file()


def test_an_incomplete_install_is_never_loaded(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("AKHBAR_DATA_DIR", str(tmp_path))
    root = adapted_root()
    folder = root / "adapted-20260101T000000Z-000000000000"
    _copy_of_shipped_model(folder)
    current = root / CURRENT_FILE

    current.write_text(folder.name)  # named, but no manifest: not finished
    assert installed_model() is None and CRFTagger().model_dir == MODEL_DIR
    assert "not used" in caplog.text

    digest = file_digest(folder / MODEL_FILE)
    manifest = {"model_sha256": digest, "model_bytes": (folder / MODEL_FILE).stat().st_size}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert installed_model() is not None and CRFTagger().model_dir == folder  # complete: loaded

    with open(folder / MODEL_FILE, "r+b") as fh:  # the model file damaged after the install
        fh.seek(100)
        fh.write(b"\0" * 16)
    assert installed_model() is None and CRFTagger().model_dir == MODEL_DIR
    (folder / MODEL_FILE).write_bytes((MODEL_DIR / MODEL_FILE).read_bytes()[:1000])  # truncated
    assert installed_model() is None and model_id().startswith("shipped crf ")

    current.write_text("../../elsewhere")  # only a folder beside `current` is ever loaded
    assert installed_model() is None
    current.write_text("")
    assert installed_model() is None and CRFTagger().model_dir == MODEL_DIR


def test_install_is_all_or_nothing_and_reset_removes_every_folder(tmp_path, monkeypatch):
    """The library's install step on a complete folder (a copy of the shipped model, no training)."""
    monkeypatch.setenv("AKHBAR_DATA_DIR", str(tmp_path))
    root = adapt_lib.prepare_root()
    building = root / f"{adapt_lib.BUILDING_PREFIX}test"
    _copy_of_shipped_model(building)
    leftover = root / f"{adapt_lib.BUILDING_PREFIX}killed"
    leftover.mkdir()
    (leftover / MODEL_FILE).write_bytes(b"half")
    manifest = {"model_sha256": file_digest(building / MODEL_FILE),
                "model_bytes": (building / MODEL_FILE).stat().st_size, "created_at": "2026-01-02T03:04:05+00:00"}
    installed = adapt_lib.install(root, building, manifest)
    assert not building.exists() and installed.folder.is_dir()
    assert installed.model_id == f"adapted crf {manifest['model_sha256'][:12]} (2026-01-02)"
    assert CRFTagger().model_id == installed.model_id

    with adapt_lib.exclusive(root), pytest.raises(adapt_lib.AdaptError, match="another"):
        adapt_lib.reset()  # one adapt or reset at a time
    assert installed_model() is not None

    assert adapt_lib.reset() == installed.folder
    assert [p.name for p in root.iterdir()] == [adapt_lib.LOCK_FILE]
    assert adapt_lib.reset() is None


def test_user_sentences_are_the_pipeline_tokens_of_arabic_articles_without_repeats():
    texts = sample_texts()
    english = "The minister met the delegation in London. " * 10
    got = adapt_lib.user_sentences([texts[0], english, texts[0], "", texts[1]])
    assert (got.articles, got.skipped) == (3, 2)
    expected = [[t.text for t in s] for s in split_sentences(texts[0]) + split_sentences(texts[1])]
    unique = list(dict.fromkeys(tuple(s) for s in expected))
    assert [tuple(s) for s in got.sentences] == unique  # texts[0] a second time adds nothing
    assert got.tokens == sum(len(s) for s in unique)
    capped = adapt_lib.user_sentences(texts, max_sentences=7)
    assert len(capped.sentences) == 7 and capped.articles == 1


@pytest.fixture
def fake_missing_sklearn(tmp_path) -> dict[str, str]:
    """PYTHONPATH with an `sklearn` that fails to import, as on an install without the train extra."""
    fake = tmp_path / "fake"
    (fake / "sklearn").mkdir(parents=True)
    (fake / "sklearn" / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'sklearn'\", name='sklearn')\n")
    return {"PYTHONPATH": str(fake)}


def test_user_errors_are_one_line_and_exit_2_before_any_training(news_db, tmp_path, fake_missing_sklearn):
    data = tmp_path / "data"
    empty = tmp_path / "empty.duckdb"
    Warehouse(empty, wait_seconds=5).migrate()
    foreign = tmp_path / "foreign.duckdb"
    duckdb.connect(str(foreign)).close()
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    cases = [
        ([*ADAPT, "--db", str(tmp_path / "missing.duckdb")], {}, "no database at"),
        ([*ADAPT, "--db", str(tmp_path)], {}, "is a directory"),
        ([*ADAPT, "--db", str(empty)], {}, f"at least {MIN_ARTICLES}"),
        ([*ADAPT, "--db", str(news_db)], {}, f"at least {MIN_ARTICLES}"),  # 17 articles < 50
        ([*ADAPT, "--db", str(foreign)], {}, "not an akhbar warehouse"),
        ([*ADAPT, "--db", str(news_db), *QUICK], fake_missing_sklearn, "pip install 'akhbar[train]'"),
        ([*ADAPT, "--db", str(news_db), *QUICK], {"AKHBAR_DATA_DIR": str(a_file / "sub")}, "cannot write"),
        ([*ADAPT, "--db", str(news_db), "--iterations", "0"], {}, "--iterations"),
        # AQMAR and Wojood are not packaged: without them adapting would replace the model with a weaker one
        ([*ADAPT, "--db", str(news_db), "--min-articles", "1"], {"AKHBAR_NER_DATA": str(tmp_path / "none")},
         "--allow-fewer-corpora"),
    ]
    for cmd, env, message in cases:
        r = run(cmd, data, env)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2, (cmd, r.stderr)
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr, (cmd, r.stderr)
        assert not list(data.glob(f"ner/crf/{adapt_lib.BUILDING_PREFIX}*")) and installed_model(data) is None
