"""The shipped NER recipe's dev training (scripts/train_crf.py --dev), started in the background when the session
collects the test that checks its figures: it takes minutes of one core while most other tests wait on servers
and sockets, so it runs beside them instead of after them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_NAME = "test_shipped_recipe_scores_the_quoted_dev_f1"
CORPORA = ("anercorp", "aqmar", "wojood")

_running: dict[str, tuple[subprocess.Popen, Path]] = {}


def missing_corpora() -> list[str]:
    from extractors.entities.training import corpora

    return [name for name in CORPORA if not corpora.available(name)]


def start() -> tuple[subprocess.Popen, Path]:
    """The training process and its run log, started now unless it already was."""
    if "dev" not in _running:
        out = Path(tempfile.mkdtemp(prefix="akhbar-recipe-"))
        log = out / "runs.jsonl"
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train_crf.py"), "--dev",
                                 "--out", str(out / "model"), "--log", str(log)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _running["dev"] = (proc, log)
    return _running["dev"]


def stop() -> None:
    """End a training nobody waited for (the test failed early), and remove its files."""
    for proc, log in _running.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(log.parent, ignore_errors=True)
