"""Adapting the offline CRF model to the user's own news (`akhbar ner adapt`, issue 15 item 4).

The user's articles are tokenised with the pipeline's own tokeniser (``extractors/entities/tokens.py``) and
given to ``crf_train.train_for_adaptation`` as unlabelled text: the word clusters are then learned from the
shipped training text plus the user's news, and the model is retrained from the shipped training data with
them. No article text is stored in the model folder, only the clusters (word -> cluster codes).

Where the model goes: ``<data dir>/ner/crf/`` (``crf.tagger.adapted_root``; the data directory is
``AKHBAR_DATA_DIR`` or the platform's per-user data directory), never the package. The install is atomic:

1. training writes a complete folder ``.building-XXXX`` beside the installed ones (same file system);
2. its manifest (model digest and size, what it was built from) is written, every file is flushed to disk;
3. the folder is renamed ``adapted-<UTC time>-<digest prefix>``;
4. the ``current`` file is replaced (write a temporary file, ``os.replace``) to name it; then the folders no
   longer named are removed.

The tagger loads only the folder ``current`` names, after checking its manifest against the model file, so an
adapt run that fails or is killed at any step leaves the previous model (shipped or adapted) in use. One adapt
or reset at a time per data directory (a lock file; Linux and macOS).

This module reads no database: the caller (``flows/ner_adapt.py``) reads the article texts from the warehouse.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractors.entities.crf.tagger import (
    ADAPTED_PREFIX,
    CURRENT_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    InstalledModel,
    adapted_root,
    file_digest,
    installed_in,
    installed_model,
)
from extractors.entities.tokens import is_arabic, split_sentences

try:
    import fcntl
except ImportError:  # Windows: no lock; two adapts at once would each install in turn, last one wins
    fcntl = None  # type: ignore[assignment]

Log = Callable[[str], None]

TRAIN_MODULES = ("sklearn", "scipy")  # word clusters (training/clusters.py); numpy is a core dependency
TRAIN_EXTRA_HINT = "pip install 'akhbar[train]'"
BUILDING_PREFIX = ".building-"
LOCK_FILE = ".lock"


class AdaptError(Exception):
    """A problem the user can fix (no articles, missing extra, unwritable data directory): one line, exit 2."""


@dataclass
class UserText:
    """The user's articles as tokenised sentences (duplicates dropped: wire copies would weigh many times)."""

    sentences: list[list[str]] = field(default_factory=list)
    articles: int = 0  # Arabic articles read
    skipped: int = 0  # articles not tagged by the pipeline either (not Arabic, empty)
    tokens: int = 0


@dataclass(frozen=True)
class AdaptResult:
    installed: InstalledModel
    text: UserText
    seconds: float


def check_train_extra() -> None:
    """AdaptError naming the install command when the training extra (scikit-learn, scipy) is missing."""
    for module in TRAIN_MODULES:
        try:
            __import__(module)
        except ImportError:
            raise AdaptError(f"adapting the model needs the training extra ({module} is missing): "
                             f"{TRAIN_EXTRA_HINT}") from None


def check_training_data(*, allow_fewer: bool = False) -> None:
    """AdaptError when a corpus the shipped model was trained on cannot be read here (AQMAR and Wojood are not
    packaged): a model trained on fewer would replace the shipped one with a weaker one, unless `allow_fewer`."""
    from extractors.entities.training import corpora
    from extractors.entities.training.crf_train import DEFAULT_CORPORA, shipped_corpora

    found = shipped_corpora()
    if not found:
        raise AdaptError(f"no NER training data found (neither in {corpora.PACKAGE_DATA} nor in "
                         f"{corpora.shared_dir()}): reinstall akhbar, or set AKHBAR_NER_DATA to the corpora folder")
    missing = [name for name in DEFAULT_CORPORA if name not in found]
    if missing and not allow_fewer:
        raise AdaptError(f"training corpora {', '.join(missing)} not found in {corpora.shared_dir()}: the shipped "
                         "model was trained on them too, so a model adapted without them would be weaker (see "
                         "docs/MODEL_CARD.md); set AKHBAR_NER_DATA to a folder holding them, or pass "
                         "--allow-fewer-corpora")


def prepare_root(data_dir: Path | None = None) -> Path:
    """The adapted-model folder, created; AdaptError when it cannot be written."""
    root = adapted_root(data_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise AdaptError(f"cannot write the adapted model to {root}: {exc.strerror or exc}; set AKHBAR_DATA_DIR "
                         "to a writable directory") from None
    return root


def user_sentences(texts: Iterable[str], max_sentences: int | None = None) -> UserText:
    """Tokenised sentences of the Arabic `texts` (the articles the pipeline tags), at most `max_sentences`."""
    out = UserText()
    seen: set[int] = set()
    limit = max_sentences if max_sentences is not None else sys.maxsize
    for text in texts:
        if len(out.sentences) >= limit:
            break
        if not text or not is_arabic(text):
            out.skipped += 1
            continue
        out.articles += 1
        for sentence in split_sentences(text):
            words = [sys.intern(t.text) for t in sentence]  # one string per distinct word: less memory
            key = hash(tuple(words))
            if key in seen:
                continue
            seen.add(key)
            out.sentences.append(words)
            out.tokens += len(words)
            if len(out.sentences) >= limit:
                break
    return out


@contextlib.contextmanager
def exclusive(root: Path) -> Iterator[None]:
    """One adapt or reset at a time in `root` (AdaptError when another holds it)."""
    if fcntl is None:
        yield
        return
    with open(root / LOCK_FILE, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AdaptError(f"another `akhbar ner adapt` is working in {root}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def adapt(texts: Iterable[str], *, data_dir: Path | None = None, source: str = "", params: dict[str, Any] | None = None,
          max_train_sentences: int | None = None, max_user_sentences: int | None = None, min_articles: int = 1,
          log: Log = print) -> AdaptResult:
    """Retrain the CRF with word clusters learned from `texts` too and install it (see the module docstring).

    At most `max_user_sentences` sentences are read; fewer than `min_articles` Arabic articles is an AdaptError.
    `source` is recorded in the manifest (the database path); `params` and `max_train_sentences` are passed to
    ``train_for_adaptation`` (small values for tests and quick trials)."""
    check_train_extra()
    check_training_data()
    root = prepare_root(data_dir)
    with exclusive(root):
        t0 = time.monotonic()
        text = user_sentences(texts, max_user_sentences)
        if text.articles < min_articles:
            raise AdaptError(f"{source or 'the warehouse'} has {text.articles} Arabic article(s); adapting needs at "
                             f"least {min_articles} (ingest more news first)")
        log(f"{text.articles} articles: {len(text.sentences)} distinct sentences, {text.tokens} tokens "
            f"({time.monotonic() - t0:.1f}s)")
        remove_unused(root)  # what a killed run left
        building = Path(tempfile.mkdtemp(prefix=BUILDING_PREFIX, dir=root))
        try:
            from extractors.entities.training.crf_train import train_for_adaptation

            train_for_adaptation(building, text.sentences, params=params, max_sentences=max_train_sentences, log=log)
            manifest = _manifest(building, text, source, params, max_train_sentences)
            installed = install(root, building, manifest)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        remove_unused(root)
    return AdaptResult(installed, text, time.monotonic() - t0)


def _manifest(folder: Path, text: UserText, source: str, params: dict[str, Any] | None,
              max_train_sentences: int | None) -> dict[str, Any]:
    from extractors.config import VERSION

    model = folder / MODEL_FILE
    return {"model_sha256": file_digest(model), "model_bytes": model.stat().st_size,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "akhbar_version": VERSION,
            "source": source, "articles": text.articles, "sentences": len(text.sentences), "tokens": text.tokens,
            "params": params or {}, "max_train_sentences": max_train_sentences}


def install(root: Path, building: Path, manifest: dict[str, Any]) -> InstalledModel:
    """Make the complete folder `building` the installed model: manifest, flush, rename, then `current`."""
    with open(building / MANIFEST_FILE, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, ensure_ascii=False)
    for path in building.iterdir():
        _flush(path)
    _flush(building)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = root / f"{ADAPTED_PREFIX}{stamp}-{manifest['model_sha256'][:12]}"
    os.rename(building, folder)
    _write_atomically(root / CURRENT_FILE, folder.name + "\n")
    installed = installed_in(root)
    if installed is None or installed.folder != folder:
        raise AdaptError(f"the model installed in {folder} does not load back; run `akhbar ner adapt` again")
    return installed


def reset(data_dir: Path | None = None) -> Path | None:
    """Go back to the shipped model: remove the `current` file first, then every adapted folder. Returns the
    folder that was in use, or None when none was installed."""
    root = adapted_root(data_dir)
    if not root.is_dir():
        return None
    previous = installed_model(data_dir)
    with exclusive(root):
        with contextlib.suppress(FileNotFoundError):
            (root / CURRENT_FILE).unlink()
        _flush(root)
        remove_unused(root)
    return previous.folder if previous else None


def remove_unused(root: Path) -> list[Path]:
    """Remove the adapted folders `current` does not name and the leftovers of killed runs (under the lock)."""
    try:
        keep = (root / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        keep = ""
    removed = []
    for path in root.iterdir():
        if path.is_dir() and path.name != keep and path.name.startswith((ADAPTED_PREFIX, BUILDING_PREFIX)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        elif path.name.startswith((".write-test-", f".{CURRENT_FILE}.")):
            path.unlink(missing_ok=True)
    return removed


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _flush(path.parent)


def _flush(path: Path) -> None:
    """fsync a file or a directory (its entries), so a power cut cannot leave a renamed but empty file."""
    if os.name == "nt" and path.is_dir():
        return  # Windows cannot open a directory for fsync
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
