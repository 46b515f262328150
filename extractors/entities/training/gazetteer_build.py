"""Build ``extractors/entities/models/ner_cldr_gazetteer.tsv``: Arabic place names and other lists from Unicode CLDR.

    python -m extractors.entities.training.gazetteer_build   # rewrites the shipped file (needs babel)

Sources, all installed Python packages with permissive licences (nothing from ANERcorp or SaudiNewsNet):

* Unicode CLDR data as shipped inside ``babel`` (Unicode License v3, permissive): Arabic names of
  territories (countries, regions; type ``LOC``), exemplar cities of time zones (``LOC``), currency names
  (``CUR``) and language names (``LANG``), from the locale ``ar`` and its regional variants ``ar_*``;
* month and weekday names from CLDR (babel) and from ``dateparser``'s Arabic data (BSD licence) (``TIME``).

The file has one normalised form (words separated by spaces, in the tagger's word form
``extractors.arabic.fold_word``) and its type per line. Training copies it into the model's resources; this
builder is not imported at run time.
"""

from __future__ import annotations

import re
from pathlib import Path

from extractors.arabic import fold_word

OUT = Path(__file__).resolve().parents[1] / "models" / "ner_cldr_gazetteer.tsv"
_PAREN = re.compile(r"\([^)]*\)")
_SKIP = {"العالم", "غير معروف", "منطقة غير معروفة", "منطقة مجهولة"}


def name_forms(name: str) -> list[str]:
    """The normalised forms of one CLDR name (parentheses dropped, split at dashes and commas, 1-6 words)."""
    out = []
    name = _PAREN.sub(" ", name)
    for part in re.split(r"\s+-\s+|[،,]", name):
        words = [fold_word(w) for w in part.replace("-", " ").split()]
        words = [w for w in words if w and any(ch.isalpha() for ch in w)]
        if words and 1 <= len(words) <= 6:
            out.append(" ".join(words))
    return out


def arabic_locales() -> list[str]:
    """CLDR's Arabic locales as babel ships them: ``ar`` and its regional variants ``ar_*``."""
    import babel

    return ["ar"] + sorted(code for code in babel.localedata.locale_identifiers() if code.startswith("ar_"))


def write_form_table(path: Path, header: str, forms: dict[str, str]) -> None:
    """A shipped list: a ``#`` header line, then ``form<TAB>value`` per form, sorted."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"# {header}\n")
        for form in sorted(forms):
            fh.write(f"{form}\t{forms[form]}\n")


def collect() -> dict[str, str]:
    from babel import Locale

    entries: dict[str, str] = {}

    def add(name: str, typ: str) -> None:
        if not name or name in _SKIP or any(ch.isdigit() for ch in name):
            return
        for f in name_forms(name):
            if len(f) >= 3 and (typ != "TIME" or len(f) >= 4):  # «اب», «احد» are ordinary words too
                entries.setdefault(f, typ)  # first type wins: LOC before CUR/LANG

    locales = arabic_locales()
    for code in locales:
        loc = Locale.parse(code)
        for name in loc.territories.values():
            add(name, "LOC")
        for zone in loc.time_zones.values():
            city = dict(zone).get("city")
            if city:
                add(city, "LOC")
    for code in locales:
        loc = Locale.parse(code)
        for name in loc.currencies.values():
            add(name, "CUR")
        for name in loc.languages.values():
            add(name, "LANG")
        for ctx in loc.months.values():
            for width in ctx.values():
                for name in width.values():
                    add(name, "TIME")
        for ctx in loc.days.values():
            for width in ctx.values():
                for name in width.values():
                    add(name, "TIME")
    try:
        from dateparser.data.date_translation_data import ar as dp_ar

        for key in ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
                    "saturday", "sunday"):
            for name in dp_ar.info.get(key, []):
                add(name, "TIME")
    except ImportError:  # pragma: no cover - optional source
        pass
    return entries


def main() -> int:
    entries = collect()
    write_form_table(OUT, "form\ttype  (Unicode CLDR via babel, Unicode License v3, Copyright © 2004-2025 Unicode, "
                          "Inc.; month/day names also from dateparser, BSD-3-Clause; built by python -m "
                          "extractors.entities.training.gazetteer_build)", entries)
    print(f"{len(entries)} forms -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
