"""The `camel` backend: camel-tools' ``NERecognizer`` over a CAMeLBERT NER model folder.

Finding the model (no heavy imports): ``AKHBAR_CAMEL_MODEL`` (a folder path) first, then the camel-tools
data directory (``$CAMELTOOLS_DATA``, else ``~/.camel_tools``), at the path its catalogue gives for the
``NamedEntityRecognition`` component (``data/ner/arabert`` in camel-tools 1.5/1.6), which is where
``camel_data -i ner`` installs it.

The catalogue trap: importing ``camel_tools.ner`` loads ``$CAMELTOOLS_DATA/catalogue.json`` and downloads
it when missing, which fails offline. When the user has a real camel-tools data directory with a
catalogue we use it and never write to it; only when there is none do we point ``CAMELTOOLS_DATA`` (for
this process, before the import) at a private directory holding a minimal valid catalogue.
torch and transformers are imported only when a :class:`CamelTagger` is built. The tagging itself runs in
``camel_fast.py`` (camel-tools' ``predict`` pads every sentence to 256 word pieces: 5-30x slower).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from extractors.entities.base import EntityError, ModelNotFoundError

log = logging.getLogger(__name__)

ENV_MODEL = "AKHBAR_CAMEL_MODEL"
ENV_DATA = "CAMELTOOLS_DATA"
NER_COMPONENT = "NamedEntityRecognition"
DEFAULT_NER_PATH = "ner/arabert"  # relative to <data dir>/data, as in camel-tools' catalogue 1.5/1.6

INSTALL_HINT = (
    "the camel NER model (CAMeLBERT, ~0.5 GB) is not installed. Install it on a machine with internet with "
    "`camel_data -i ner` (camel-tools' own installer; it goes to $CAMELTOOLS_DATA or ~/.camel_tools), "
    f"or set {ENV_MODEL} to a BERT token-classification model folder (config.json, weights, vocab.txt); "
    "or use the offline default: --backend crf"
)

# The smallest catalogue camel_tools.data.catalogue.Catalogue.load_catalogue() accepts (version, packages,
# components); the NER component points where `camel_data -i ner` would install the model.
STUB_CATALOGUE = {
    "version": "1.6",
    "packages": {},
    "components": {
        NER_COMPONENT: {"default": "arabert", "datasets": {"arabert": {"path": DEFAULT_NER_PATH}}},
    },
}


def user_data_dir() -> Path:
    """camel-tools' data directory as camel-tools itself computes it."""
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser().absolute()
    if sys.platform == "win32":
        return Path.home() / "AppData" / "Roaming" / "camel_tools"
    return Path.home() / ".camel_tools"


def private_data_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "akhbar" / "camel_tools_data"


def _is_model_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def _catalogue_ner_path(data_dir: Path) -> Path:
    cat = data_dir / "catalogue.json"
    rel = DEFAULT_NER_PATH
    if cat.is_file():
        try:
            with open(cat, encoding="utf-8") as fh:
                comp = json.load(fh)["components"][NER_COMPONENT]
            rel = comp["datasets"][comp["default"]]["path"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return data_dir / "data" / rel


def find_camel_model(strict: bool = False) -> Path | None:
    """Folder of the camel NER model, or None. ``strict`` raises ModelNotFoundError instead of None."""
    env = os.environ.get(ENV_MODEL)
    if env:
        path = Path(env).expanduser()
        if _is_model_dir(path):
            return path.resolve()
        msg = f"{ENV_MODEL}={env} is not a model folder (no config.json there)"
        if strict:
            raise ModelNotFoundError(f"{msg}; {INSTALL_HINT}")
        log.warning("%s; falling back to the crf backend", msg)
    path = _catalogue_ner_path(user_data_dir())
    if _is_model_dir(path):
        return path.resolve()
    if strict:
        raise ModelNotFoundError(f"{INSTALL_HINT} (looked in {path})")
    return None


def ensure_catalogue() -> Path:
    """Make ``import camel_tools.ner`` work offline without touching a user's real camel-tools data.

    Returns the data directory camel-tools will use in this process.
    """
    if "camel_tools.data.catalogue" in sys.modules:  # already imported: its data dir is fixed
        from camel_tools.data.catalogue import CT_DATA_DIR

        return Path(CT_DATA_DIR)
    real = user_data_dir()
    if (real / "catalogue.json").is_file():
        return real  # the user's own camel-tools data: use it, never write to it
    private = private_data_dir()
    cat = private / "catalogue.json"
    payload = json.dumps(STUB_CATALOGUE, indent=1)
    if not cat.is_file() or cat.read_text(encoding="utf-8") != payload:
        private.mkdir(parents=True, exist_ok=True)
        tmp = cat.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(payload, encoding="utf-8")
        os.replace(tmp, cat)
    os.environ[ENV_DATA] = str(private)
    return private


def memory_note() -> str:
    """This process's resident memory, for the log of a worker that has just loaded the model (Linux only)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        now, peak = (int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))
        return f"{now:.0f} MB resident (peak {peak:.0f} MB)"
    except (OSError, KeyError, ValueError):
        return "an unknown amount of memory"


class CamelTagger:
    """NER backend over a camel-tools model folder: camel-tools loads the model (``NERecognizer``), and
    :class:`~extractors.entities.camel_fast.FastCamelTagger` runs it (same labels in fp32, several times faster).
    In int8 on CPU the model comes from the int8 file quantised once from the same folder and cached
    (``camel_fast.load_int8_model``), so a worker never holds the fp32 weights;
    labels mapped to strict IOB2 over PERS/LOC/ORG/MISC, one per word (a word without word pieces as ``[UNK]``).

    ``quantize``: int8 Linear layers (None: ``AKHBAR_CAMEL_INT8``). ``workers``: processes tagging at once on
    this machine, for the torch thread count (None: ``AKHBAR_NER_WORKERS``, set by the process task runner).
    """

    name = "camel"

    def __init__(self, model_path: str | Path, *, quantize: bool | None = None, workers: int | None = None):
        ensure_catalogue()
        try:
            from camel_tools.ner import NERecognizer
        except Exception as exc:  # pragma: no cover - depends on the environment
            raise EntityError(f"cannot import camel_tools.ner: {exc}") from exc
        import torch

        from extractors.entities.camel_fast import FastCamelTagger, int8_wanted

        int8 = (int8_wanted() if quantize is None else quantize) and not torch.cuda.is_available()
        try:
            if int8:  # the int8 model quantised once from this folder and cached: no fp32 copy in the process
                self._fast = FastCamelTagger(model_path, quantize=True, workers=workers, device="cpu")
            else:
                recognizer = NERecognizer(str(model_path), use_gpu=torch.cuda.is_available())
                self._fast = FastCamelTagger.from_recognizer(recognizer, model_path, quantize=False, workers=workers)
            log.info("camel NER model %s loaded; this process now holds %s", self._fast.model_id, memory_note())
        except Exception as exc:
            raise EntityError(f"cannot load the camel NER model at {model_path}: {exc}") from exc
        self.model_path = Path(model_path)
        self.quantized = self._fast.quantized
        self.model_id = self._fast.model_id

    def tag(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return self._fast.tag(sentences)
