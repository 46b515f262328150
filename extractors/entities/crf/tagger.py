"""The `crf` backend: a python-crfsuite model trained on ANERcorp, shipped in extractors/entities/models/.

Imports neither torch nor transformers nor anything that reads camel-tools' data catalogue. Each sentence is
tagged on its own, so a sentence's tags do not depend on the other sentences of a ``tag`` call.

Which model folder: the one ``akhbar ner adapt`` installed in the user's data directory when there is one
(``<data dir>/ner/crf/``, see ``user_data_dir``), else the shipped one. An adapted model is installed as a
complete folder first and named in the ``current`` file last (replaced atomically), so a folder an adapt run
was still writing is never loaded; ``akhbar ner adapt --reset`` removes the ``current`` file first.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import pycrfsuite

from extractors.entities.base import ModelNotFoundError
from extractors.entities.crf.features import FeatureConfig, Featurizer, Resources
from extractors.entities.crf.lexicon import GENERAL_FILE, GeneralLexicon
from extractors.entities.iob import to_iob2

MODEL_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_FILE = "ner_crf.crfsuite"
RESOURCES_FILE = "ner_crf_resources.json"
RETRAIN_HINT = "rebuild with: python scripts/train_crf.py"

DATA_DIR_VAR = "AKHBAR_DATA_DIR"  # the user's data directory (read here: extractors do not import flows)
ADAPTED_SUBDIR = ("ner", "crf")  # the adapted model's place under the data directory
CURRENT_FILE = "current"  # one line: the name of the installed model's folder beside it
MANIFEST_FILE = "adapted.json"  # in an adapted model folder: what it was built from, its model file's digest
ADAPTED_PREFIX = "adapted-"

log = logging.getLogger(__name__)


def user_data_dir() -> Path:
    """Where akhbar keeps the user's own files: ``AKHBAR_DATA_DIR``, else the platform's per-user data directory
    (``$XDG_DATA_HOME/akhbar``, by default ``~/.local/share/akhbar``; ``~/Library/Application Support/akhbar`` on
    macOS; ``%LOCALAPPDATA%\\akhbar`` on Windows)."""
    configured = os.environ.get(DATA_DIR_VAR, "").strip()
    if configured:
        return Path(configured).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", "").strip() or home / ".local" / "share")
    return base / "akhbar"


def adapted_root(data_dir: Path | None = None) -> Path:
    """The folder holding the adapted model(s) and the ``current`` pointer."""
    return (data_dir or user_data_dir()).joinpath(*ADAPTED_SUBDIR)


@dataclass(frozen=True, slots=True)
class InstalledModel:
    """An adapted model folder that is complete: its manifest and files are there, its model file whole."""

    folder: Path
    manifest: dict

    @property
    def model_id(self) -> str:
        created = str(self.manifest.get("created_at", ""))[:10]
        return f"adapted crf {str(self.manifest['model_sha256'])[:12]}" + (f" ({created})" if created else "")


def installed_model(data_dir: Path | None = None) -> InstalledModel | None:
    """The adapted model the ``current`` file names, if it is complete; None when none is installed (or the one
    named is incomplete: then a warning, and the shipped model is used)."""
    return installed_in(adapted_root(data_dir))


def installed_in(root: Path) -> InstalledModel | None:
    """installed_model() of the adapted-model folder `root` (``<data dir>/ner/crf``)."""
    try:
        name = (root / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        log.warning("cannot read %s (%s); using the shipped CRF model", root / CURRENT_FILE, exc.strerror)
        return None
    problem = _install_problem(root, name)
    if isinstance(problem, str):
        log.warning("adapted CRF model in %s not used: %s; using the shipped model (run `akhbar ner adapt` "
                    "again, or `akhbar ner adapt --reset`)", root, problem)
        return None
    return problem


def _install_problem(root: Path, name: str) -> InstalledModel | str:
    """The installed model named `name` under `root`, or what is wrong with it."""
    if not name.startswith(ADAPTED_PREFIX) or Path(name).name != name:
        return f"{CURRENT_FILE} names {name!r}, not a model folder"
    folder = root / name
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        size = (folder / MODEL_FILE).stat().st_size
    except (OSError, ValueError) as exc:
        return f"{folder} is incomplete ({exc.__class__.__name__})"
    # the digest too (about 2 ms a megabyte): a file replaced or damaged after the install is not loaded either
    if not isinstance(manifest, dict) or manifest.get("model_bytes") != size or (
            manifest.get("model_sha256") != _digest_or_none(folder / MODEL_FILE)):
        return f"{folder / MODEL_FILE} does not match its manifest"
    if not (folder / RESOURCES_FILE).is_file():
        return f"{folder / RESOURCES_FILE} is missing"
    return InstalledModel(folder, manifest)


def default_model_dir() -> Path:
    """The folder CRFTagger() loads: the installed adapted model, else the shipped one."""
    installed = installed_model()
    return installed.folder if installed else MODEL_DIR


def file_digest(path: Path) -> str:
    return sha256(path.read_bytes()).hexdigest()


def _digest_or_none(path: Path) -> str | None:
    try:
        return file_digest(path)
    except OSError:
        return None


def model_id(model_dir: Path | None = None) -> str:
    """Which CRF model a folder holds, for the runs table: ``shipped crf <sha256 prefix of the model file>``,
    ``adapted crf <sha256 prefix> (<day it was built>)``, or ``crf <folder>`` for any other folder (a benchmark's).
    Without a folder: the one CRFTagger() would load now."""
    if model_dir is None:
        installed = installed_model()
        if installed is not None:
            return installed.model_id
        model_dir = MODEL_DIR
    model_dir = Path(model_dir)
    manifest_path = model_dir / MANIFEST_FILE
    if manifest_path.is_file():
        problem = _install_problem(model_dir.parent, model_dir.name)
        if isinstance(problem, InstalledModel):
            return problem.model_id
    try:
        digest = file_digest(model_dir / MODEL_FILE)[:12]
    except OSError:
        digest = "missing"
    if model_dir.resolve() == MODEL_DIR.resolve():
        return f"shipped crf {digest}"
    return f"crf {model_dir} {digest}"


def load_featurizer(model_dir: Path) -> Featurizer:
    """The featurizer a model folder's resources JSON describes (with the general lexicon when it uses one)."""
    with open(model_dir / RESOURCES_FILE, encoding="utf-8") as fh:
        data = json.load(fh)
    if data.get("stage2"):
        raise ModelNotFoundError(f"{model_dir} holds a two-pass CRF model, no longer supported; {RETRAIN_HINT}")
    resources, config = Resources.from_json(data), FeatureConfig.from_json(data.get("features", {}))
    if config.general:
        path = model_dir / GENERAL_FILE
        if not path.is_file():
            raise ModelNotFoundError(f"CRF general lexicon {path} missing; {RETRAIN_HINT}")
        resources.general = GeneralLexicon.load(path)
    return Featurizer(resources, config)


class CRFTagger:
    """NER backend over a CRFsuite model folder (model file + resources JSON)."""

    name = "crf"

    def __init__(self, model_dir: str | Path | None = None):
        model_dir = Path(model_dir) if model_dir else default_model_dir()
        model_path = model_dir / MODEL_FILE
        if not model_path.is_file() or not (model_dir / RESOURCES_FILE).is_file():
            raise ModelNotFoundError(f"CRF model files missing in {model_dir} ({MODEL_FILE}, {RESOURCES_FILE}); "
                                     f"{RETRAIN_HINT}")
        self.model_dir = model_dir
        self.model_id = model_id(model_dir)
        self.featurizer = load_featurizer(model_dir)
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open(str(model_path))

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [to_iob2(self._tagger.tag(self.featurizer.sentence(sent))) if sent else [] for sent in sentences]
