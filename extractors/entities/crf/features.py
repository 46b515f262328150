"""Feature extraction for the CRF named-entity tagger (no torch, no camel-tools data).

Per-word features are computed once per distinct word string and cached; a sentence's feature lists are
then assembled from the cached per-word parts with position prefixes (-2..+2). Resources (gazetteer of
entity phrases and per-word label statistics from the training data, word clusters, word lists) are plain
dicts in a :class:`Resources` object, read from the model folder's resources JSON; the training package
builds them (extractors/entities/training/crf_resources.py).

Words are compared in :func:`extractors.arabic.fold_word` form: the shipped model was trained on it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extractors.arabic import fold_word
from extractors.entities.base import EntityError
from extractors.entities.crf.lexicon import GeneralLexicon

AL = "\u0627\u0644"  # ال
_CONJ = ("\u0648", "\u0641")  # و ف
_PREP = ("\u0628", "\u0644", "\u0643")  # ب ل ك


def split_clitics(w: str) -> tuple[str, str, bool]:
    """Aggressively split a normalised word into (proclitics, stem, had_article). For features only."""
    pre = ""
    if len(w) >= 4 and w[0] in _CONJ:
        pre, w = w[0], w[1:]
    if w.startswith("\u0644\u0644") and len(w) >= 4:  # لل = ل + ال
        return pre + "\u0644", w[2:], True
    if len(w) >= 5 and w[0] in _PREP and w[1:3] == AL:
        pre, w = pre + w[0], w[1:]
    if w.startswith(AL) and len(w) >= 4:
        return pre, w[2:], True
    if not pre and len(w) >= 5 and w[0] in _PREP:
        return w[0], w[1:], False
    return pre, w, False


def article_form(w: str) -> str:
    """Strip only conjunction/preposition proclitics, keeping or restoring the article: للامم -> الامم."""
    pre, stem, had_al = split_clitics(w)
    if not pre:
        return w
    return AL + stem if had_al else stem


_TRIGGER_WORDS = {
    "PT": "رئيس رييس وزير ملك امير شيخ سيد سيده دكتور د مستشار نائب متحدث ناطق جنرال عقيد لواء زعيم بابا مدرب "
    "لاعب فنان فنانه كاتب شاعر مخرج مغني مطرب ممثل ممثله سفير مبعوث امين مساعد مدير رئيسه وزيره قائد مراسل "
    "حاكم ولي مفتي اسقف بطريرك نجم بطل محامي قاضي مسؤول عضو السيدين ابن بن ابو ام",
    "SAY": "قال قالت اعلن اعلنت اكد اكدت صرح اضاف اضافت اوضح اشار ذكر افاد نقل دعا طالب التقي استقبل",
    "OT": "شركه وكاله جامعه منظمه حزب حركه مجلس وزاره بنك مصرف صحيفه جريده مجله اتحاد هيئه مؤسسه لجنه نادي "
    "فريق منتخب جبهه جمعيه معهد مركز محكمه قناه اذاعه تلفزيون مجموعه امم صندوق برلمان حكومه جيش قوات "
    "مؤتمر منتدي اكاديميه مستشفي مصنع مكتب دائره سلطه مرصد مفوضيه تنظيم تحالف ائتلاف كتله ميليشيا فصيل",
    "LT": "مدينه بلده قريه منطقه محافظه ولايه عاصمه اقليم جزيره جزر نهر بحر خليج جبل شمال جنوب شرق غرب شمالي "
    "جنوبي شرقي غربي حدود مطار ميناء دوله مخيم بلاد ضاحيه حي شارع ساحه وادي ريف",
    "MT": "جائزه مهرجان كاس بطوله دوري اولمبياد مسلسل فيلم كتاب روايه عمليه حرب معركه اتفاقيه اتفاق لغه",
}
# Trigger words (normalised, without the article): the words around names in news text -> their kind.
TRIGGERS: dict[str, str] = {w: kind for kind, words in _TRIGGER_WORDS.items() for w in words.split()}


# Institutional head nouns (normalised, without the article): the head of an organisation's name in construct
# state («وزارة الخارجية», «نادي الهلال»), which docs/ENTITIES.md puts inside the ORG span; taken from the
# guideline's definition (government bodies, parties and movements, companies, clubs, universities, courts,
# councils, agencies, media), not from evaluation data. The `heads` feature; training/harmonise.py uses it too.
def _folded_words(text: str) -> frozenset[str]:
    return frozenset(fold_word(w) for w in text.split())


INSTITUTION_HEADS = _folded_words(
    "وزارة مجلس هيئة شركة نادي جامعة حزب حركة منظمة وكالة لجنة محكمة نيابة حكومة بنك مصرف اتحاد جمعية "
    "مؤسسة معهد صندوق جيش برلمان بلدية سلطة أمانة ديوان مديرية مفوضية جبهة تنظيم "
    "تحالف ائتلاف منتخب أكاديمية مستشفى مركز غرفة نقابة شرطة صحيفة جريدة مجلة قناة "
    "إذاعة تلفزيون منتدى مرصد قوات")


def _phrase_key(text: str) -> tuple[str, ...]:
    return tuple(text.split(" "))


@dataclass
class Resources:
    """Lexical resources used by the features."""

    phrases: dict[tuple[str, ...], str] = field(default_factory=dict)  # entity phrase -> "LOC" or "LOC|PERS"
    word_stats: dict[str, str] = field(default_factory=dict)  # word -> "LOC:hi" style label-share features
    clusters: dict[str, str] = field(default_factory=dict)  # word -> "coarse:fine" cluster ids
    freq: dict[str, int] = field(default_factory=dict)  # word -> frequency in the training text
    max_phrase: int = 4
    ext: dict[tuple[str, ...], str] = field(default_factory=dict)  # external (CLDR) gazetteer phrase -> type
    max_ext: int = 1
    general: GeneralLexicon | None = None  # normalised word -> general lexicon code (own file, not in the JSON)
    names: dict[str, str] = field(default_factory=dict)  # normalised word -> 'f' (given) / 'l' (family) / 'fl'
    people: dict[str, str] = field(default_factory=dict)  # name word -> 'roles:band' (training/people_build.py)

    def to_json(self) -> dict[str, Any]:
        return {
            "phrases": [[" ".join(k), v] for k, v in sorted(self.phrases.items())],
            "word_stats": self.word_stats,
            "clusters": self.clusters,
            "freq": self.freq,
            **({"ext": [[" ".join(k), v] for k, v in sorted(self.ext.items())]} if self.ext else {}),
            **({"names": self.names} if self.names else {}),
            **({"people": self.people} if self.people else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resources:
        phrases = {_phrase_key(k): v for k, v in data["phrases"]}
        return cls(phrases=phrases, word_stats=data.get("word_stats", {}), clusters=data.get("clusters", {}),
                   freq=data.get("freq", {}), max_phrase=max((len(k) for k in phrases), default=1),
                   names=data.get("names", {}), people=data.get("people", {})
                   ).with_external({_phrase_key(k): v for k, v in data.get("ext", [])})

    def with_external(self, ext: dict[tuple[str, ...], str]) -> Resources:
        self.ext = dict(ext)
        self.max_ext = max((len(k) for k in ext), default=1)
        return self

    @classmethod
    def load(cls, path: str | Path) -> Resources:
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))


# Switches tried during model development and off in the shipped model; their code is gone, so a resources
# file asking for one of them is refused rather than silently tagged with fewer features.
RETIRED_SWITCHES: dict[str, Any] = {"char_ngrams": 0, "general_conj": False, "people_phrases": False}


@dataclass
class FeatureConfig:
    window: int = 2
    affixes: int = 4
    gazetteer: bool = True
    word_stats: bool = True
    clusters: bool = True
    triggers: bool = True
    bigrams: bool = True
    freq: bool = True
    conjunctions: int = 1  # rarity of a word conjoined with its neighbours' (0: off)
    ext_gazetteer: bool = False  # CLDR place/currency/language/month names (models/ner_cldr_gazetteer.tsv)
    general: bool = False  # general-Arabic frequency and stem productivity codes (crf/lexicon.py)
    names: bool = False  # given / family name list (from Faker's Arabic locales, training/lexicon_build.py)
    people: bool = False  # people's name words from Wikidata and arabnamer (training/people_build.py)
    heads: bool = False  # institutional head noun, in construct state (IH=c) or with the article (IH=d)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureConfig:
        """The configuration a resources file names; EntityError when it needs a retired switch."""
        retired = {k: v for k, v in data.items() if k in RETIRED_SWITCHES and v != RETIRED_SWITCHES[k]}
        if retired or data.get("conjunctions", 1) > 1:
            raise EntityError(f"CRF features {retired or {'conjunctions': data['conjunctions']}} are no longer "
                              "supported; retrain with: python scripts/train_crf.py")
        return cls(**{k: v for k, v in data.items() if k not in RETIRED_SWITCHES})


def _shape(w: str) -> str:
    if w.isdigit():
        return "D"
    if any(c.isdigit() for c in w):
        return "dx"
    if w.isascii():
        if w.isalpha():
            return "L" if w[:1].isupper() else "l"
        return "P"
    if w.isalpha():
        return "A"
    if len(w) == 1:
        return "p"
    return "x"


def _affixes(n: str, stem: str, longest: int) -> list[str]:
    out = []
    for k in range(1, longest + 1):
        if len(n) > k:
            out.append(f"p{k}={n[:k]}")
            out.append(f"s{k}={n[-k:]}")
        if len(stem) > k + 1:
            out.append(f"sp{k}={stem[:k]}")
            out.append(f"ss{k}={stem[-k:]}")
    return out


def _general_parts(code: str | None) -> Parts:
    if code is None:
        return [], []
    gf, gm, ga = code.split("|")
    return [f"gf={gf}", f"gm={gm}", f"ga={ga}", f"gfm={gf}|{gm}"], [f"gf={gf}", f"gm={gm}"]


def _general_band(code: str | None) -> str:
    """A coarse general-frequency band: '-' without the general lexicon, 'x' for a word not in it."""
    if code is None:
        return "-"
    gf = code.split("|")[0]
    return str(int(gf) // 3) if gf.isdigit() else "x"


def _freq_band(f: int) -> str:
    return "0" if f == 0 else "1" if f == 1 else "2-4" if f < 5 else "5-19" if f < 20 else "20+"


def _rarity(f: int) -> str:
    return "0" if f == 0 else "1" if f < 3 else "m" if f < 20 else "f"


@dataclass(slots=True)
class Word:
    """The cached per-word parts a sentence's features are assembled from."""

    own: list[str]  # features of the word at its own position
    ctx: list[str]  # features it gives its neighbours (prefixed with their offset)
    norm: str  # fold_word form
    stem: str  # clitics stripped
    rare: str  # training-frequency class
    article: str  # proclitics stripped, article kept (للامم -> الامم)


# Distinct words whose features are kept. The pipeline benchmark (N=5,000, 2 workers) measured 726 MB for the
# workers with 30,000 and 598 MB with 10,000, for 6% more tagging CPU and the same wall time; without a bound
# a worker grew ~100 MB per 2,000 pages.
WORD_CACHE_LIMIT = 10_000

Parts = tuple[list[str], list[str]]  # (own features, context features) of one resource


class Featurizer:
    """Turns token sentences into CRFsuite feature lists; caches per-word parts."""

    def __init__(self, resources: Resources, config: FeatureConfig | None = None):
        self.res = resources
        self.cfg = config or FeatureConfig()
        self._word_cache: dict[str, Word] = {}
        # first words of the gazetteer phrases: a position whose word cannot start a phrase is skipped at once
        self._phrase_first = {k[0] for k in resources.phrases}
        self._ext_first = {k[0] for k in resources.ext}

    def _word(self, tok: str) -> Word:
        hit = self._word_cache.get(tok)
        if hit is not None:
            return hit
        n = fold_word(tok)
        pre, stem, had_al = split_clitics(n)
        shape = _shape(n)
        own = [f"w={n}", f"st={stem}", f"pc={pre}{'+al' if had_al else ''}", f"sh={shape}", f"len={min(len(stem), 8)}"]
        if n != tok:
            own.append(f"raw={tok}")
        own.extend(_affixes(n, stem, self.cfg.affixes))
        ctx = [f"w={n}", f"st={stem}", f"sh={shape}"]
        general = self._general_code(n, stem)
        for lexical in (self._trigger(n, stem), self._word_stats(n, stem), self._freq(n), self._cluster(n, stem),
                        _general_parts(general), self._name(n, stem)):
            own.extend(lexical[0])
            ctx.extend(lexical[1])
        if self.cfg.heads and stem in INSTITUTION_HEADS:
            head = "IH=" + ("d" if had_al else "c")
            own.append(head)
            ctx.append(head)
        rare = _rarity(self.res.freq.get(n, 0)) if self.cfg.freq else "x"
        self._person(n, stem, f"{rare}|{_general_band(general)}", own, ctx)
        hit = Word(own, ctx, n, stem, rare, article_form(n))
        if len(self._word_cache) >= WORD_CACHE_LIMIT:  # bounded memory on long runs (news vocabulary is open)
            self._word_cache.clear()
        self._word_cache[tok] = hit
        return hit

    def _trigger(self, n: str, stem: str) -> Parts:
        trig = TRIGGERS.get(stem) or TRIGGERS.get(n) if self.cfg.triggers else None
        return ([f"T={trig}"], [f"T={trig}"]) if trig else ([], [])

    def _word_stats(self, n: str, stem: str) -> Parts:
        if not self.cfg.word_stats:
            return [], []
        ws = self.res.word_stats.get(n)
        if ws is None and stem != n:
            ws = self.res.word_stats.get(stem)
            if ws is not None:
                ws = "st" + ws
        return ([f"R={ws}"], [f"R={ws}"]) if ws else ([], [])

    def _freq(self, n: str) -> Parts:
        if not self.cfg.freq:
            return [], []
        band = "fq=" + _freq_band(self.res.freq.get(n, 0))
        return [band], [band]

    def _cluster(self, n: str, stem: str) -> Parts:
        c = self.res.clusters.get(n) or self.res.clusters.get(stem) if self.cfg.clusters else None
        if not c:
            return [], []
        coarse, _, fine = c.partition(":")
        return [f"c={fine}", f"cc={coarse}"], [f"c={fine}", f"cc={coarse}"]

    def _general_code(self, n: str, stem: str) -> str | None:
        lex = self.res.general
        if not (self.cfg.general and lex):
            return None
        return lex.get(n) or (lex.get(stem) if stem != n else None) or lex.default

    def _name(self, n: str, stem: str) -> Parts:
        nk = self.res.names.get(n) or self.res.names.get(stem) if self.cfg.names else None
        return ([f"NM={nk}"], [f"NM={nk}"]) if nk else ([], [])

    def _person(self, n: str, stem: str, rarity: str, own: list[str], ctx: list[str]) -> None:
        """People's-name features; the last own feature conjoins the name band with the word's rarity bands."""
        pk = self.res.people.get(n) or self.res.people.get(stem) if self.cfg.people else None
        if not pk:
            return
        roles, _, pband = pk.partition(":")
        own.extend("PN" + r for r in roles)
        own.append("PNb=" + pband)
        ctx.append("PN=" + ("g" if "g" in roles else "s" if "s" in roles else roles[:1]))
        ctx.append("PNb=" + pband)
        own.append(f"PNr={pband}|{rarity}")

    def _gazetteer(self, words: list[Word]) -> list[str | None]:
        """Longest-match tagging of the sentence against entity phrases: 'B-LOC', 'I-ORG|PERS', ..."""
        phrases, m, starts = self.res.phrases, self.res.max_phrase, self._phrase_first
        ns = [w.norm for w in words]
        out: list[str | None] = [None] * len(ns)
        i, n = 0, len(ns)
        while i < n:
            found = 0
            first = words[i].article  # the word with its proclitics stripped but its article kept
            if ns[i] not in starts and first not in starts:
                i += 1
                continue
            for length in range(min(m, n - i), 0, -1):
                key = tuple(ns[i : i + length])
                t = phrases.get(key)
                if t is None and first != key[0]:
                    t = phrases.get((first, *key[1:]))
                if t is not None:
                    _mark(out, i, length, "B-" + t, t)
                    found = length
                    break
            i += found or 1
        return out

    def _external_at(self, words: list[Word], i: int) -> tuple[int, str | None]:
        """(length, label of its first word) of the longest external-gazetteer phrase starting at i, or (0, None)."""
        w0, stem = words[i].norm, words[i].stem
        firsts = (w0, words[i].article, stem, AL + stem)
        if not any(f in self._ext_first for f in firsts):
            return 0, None
        for length in range(min(self.res.max_ext, len(words) - i), 0, -1):
            rest = tuple(words[j].norm for j in range(i + 1, i + length))
            for k, first in enumerate(firsts):
                t = self.res.ext.get((first, *rest))
                if t is not None:
                    return length, ("B-" if k < 2 else "b-") + t  # b-: matched through the bare stem
        return 0, None

    def _external(self, words: list[Word]) -> list[str | None]:
        """Longest match against the external (CLDR) gazetteer; the first word may carry proclitics/article."""
        n = len(words)
        out: list[str | None] = [None] * n
        i = 0
        while i < n:
            found = 0
            if words[i].norm[:1].isalpha():
                found, label = self._external_at(words, i)
                if label is not None:
                    _mark(out, i, found, label, label[2:])
            i += found or 1
        return out

    def sentence(self, tokens: Sequence[str]) -> list[list[str]]:
        cfg = self.cfg
        words = [self._word(t) for t in tokens]
        gaz = self._gazetteer(words) if cfg.gazetteer and self.res.phrases else None
        xg = self._external(words) if cfg.ext_gazetteer and self.res.ext else None
        out = []
        for i in range(len(tokens)):
            f = ["b"]
            f.extend(words[i].own)
            if gaz is not None and gaz[i]:
                f.append(f"G={gaz[i]}")
            if xg is not None:
                _external_features(f, xg, i, words[i].rare)
            self._window(f, words, gaz, i)
            if cfg.conjunctions:
                _rarity_conjunctions(f, words, i)
            if cfg.bigrams:
                _bigrams(f, words, i)
            out.append(f)
        return out

    def _window(self, f: list[str], words: list[Word], gaz: list[str | None] | None, i: int) -> None:
        """The neighbours' context features, prefixed with their offset (-2..+2); BOUND past an edge."""
        n = len(words)
        for d in range(1, self.cfg.window + 1):
            for j, sign in ((i - d, "-"), (i + d, "+")):
                pfx = f"{sign}{d}"
                if 0 <= j < n:
                    ctx = words[j].ctx if d == 1 else words[j].ctx[:2] + words[j].ctx[3:]  # no shape beyond 1
                    f.extend(pfx + x for x in ctx)
                    if gaz is not None and gaz[j]:
                        f.append(f"{pfx}G={gaz[j]}")
                elif j == -1 or j == n:
                    f.append(pfx + "BOUND")


def _mark(out: list[str | None], i: int, length: int, first: str, etype: str) -> None:
    out[i] = first
    for j in range(i + 1, i + length):
        out[j] = "I-" + etype


def _external_features(f: list[str], xg: list[str | None], i: int, rare: str) -> None:
    if xg[i]:
        f.append(f"X={xg[i]}")
        f.append(f"X={xg[i]}|{rare}")
    if i > 0 and xg[i - 1]:
        f.append(f"-1X={xg[i - 1]}")
    if i + 1 < len(xg) and xg[i + 1]:
        f.append(f"+1X={xg[i + 1]}")


def _rarity_conjunctions(f: list[str], words: list[Word], i: int) -> None:
    n = len(words)
    r = words[i].rare
    rp = words[i - 1].rare if i > 0 else "B"
    rn = words[i + 1].rare if i + 1 < n else "E"
    f.append(f"rr={rp}{r}{rn}")
    if i > 0:
        f.append(f"s-r={words[i - 1].stem}|{r}")
    if i + 1 < n:
        f.append(f"r-s={r}|{words[i + 1].stem}")


def _bigrams(f: list[str], words: list[Word], i: int) -> None:
    if i > 0:
        f.append(f"bg-={words[i - 1].norm}|{words[i].norm}")
    if i + 1 < len(words):
        f.append(f"bg+={words[i].norm}|{words[i + 1].norm}")
