"""Feature extraction for the CRF named-entity tagger (no torch, no camel-tools data).

Per-word features are computed once per distinct word string and cached; a sentence's feature lists are
then assembled from the cached per-word parts with position prefixes (-2..+2). Resources (gazetteer of
entity phrases and per-word label statistics from the training data, word clusters) are plain dicts in a
:class:`Resources` object, so the training script can build them from part of the data (jackknifing).
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

TYPES = ("PERS", "LOC", "ORG", "MISC")

_DIAC = dict.fromkeys(
    [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06DD), *range(0x06DF, 0x06E9),
     *range(0x06EA, 0x06EE), 0x0640, 0x200C, 0x200D, 0x200E, 0x200F]
)
_NORM_TABLE = str.maketrans(
    {
        **{k: None for k in _DIAC},
        "\u0622": "\u0627", "\u0623": "\u0627", "\u0625": "\u0627", "\u0671": "\u0627",  # alef variants
        "\u0649": "\u064a",  # alef maqsura -> yaa
        "\u0629": "\u0647",  # taa marbuta -> haa
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
    }
)


def norm(word: str) -> str:
    """Comparison form of one word: no diacritics/tatweel, unified alef, yaa, taa marbuta, ASCII digits, lower case."""
    out = word.translate(_NORM_TABLE)
    if not out.isascii():
        out = unicodedata.normalize("NFKC", out).translate(_NORM_TABLE)
    return out.lower()


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


# Trigger words (normalised, without the article): the words around names in news text.
TRIGGERS: dict[str, str] = {}
for _t, _words in {
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
}.items():
    for _w in _words.split():
        TRIGGERS[_w] = _t


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
    people: dict[str, str] = field(default_factory=dict)  # name word -> 'roles:band' (extractors/entities/training/people_build.py)

    @classmethod
    def from_sentences(cls, sentences: Iterable[tuple[Sequence[str], Sequence[str]]], clusters=None) -> Resources:
        phrase_types: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        word_counts: dict[str, Counter] = defaultdict(Counter)
        for tokens, tags in sentences:
            ns = [norm(t) for t in tokens]
            for n, tag in zip(ns, tags):
                word_counts[n][tag[2:] if tag != "O" else "O"] += 1
            for etype, s, e in spans(tags):
                key = tuple(ns[s:e])
                if e - s <= 6:
                    phrase_types[key][etype] += 1
                    first = article_form(key[0])
                    if first != key[0]:
                        phrase_types[(first, *key[1:])][etype] += 1
        phrases = {}
        for key, cnt in phrase_types.items():
            if len(key) == 1 and len(key[0]) < 2:
                continue
            total = sum(cnt.values())
            phrases[key] = "|".join(sorted(t for t, c in cnt.items() if c / total >= 0.25))
        stats = {}
        for w, cnt in word_counts.items():
            total = sum(cnt.values())
            feats = []
            for t in TYPES:
                share = cnt.get(t, 0) / total
                if share >= 0.5:
                    feats.append(f"{t}:hi")
                elif share >= 0.1:
                    feats.append(f"{t}:lo")
            if feats:
                if total < 3:
                    feats = [f + "1" for f in feats]
                stats[w] = "|".join(feats)
        freq = {w: sum(c.values()) for w, c in word_counts.items()}
        return cls(phrases=phrases, word_stats=stats, clusters=dict(clusters or {}), freq=freq,
                   max_phrase=max((len(k) for k in phrases), default=1))

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self) -> dict:
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
    def from_json(cls, data: dict) -> Resources:
        phrases = {tuple(k.split(" ")): v for k, v in data["phrases"]}
        ext = {tuple(k.split(" ")): v for k, v in data.get("ext", [])}
        return cls(phrases=phrases, word_stats=data.get("word_stats", {}), clusters=data.get("clusters", {}),
                   freq=data.get("freq", {}), max_phrase=max((len(k) for k in phrases), default=1),
                   ext=ext, max_ext=max((len(k) for k in ext), default=1), names=data.get("names", {}),
                   people=data.get("people", {}))

    def with_external(self, ext: dict[tuple[str, ...], str]) -> Resources:
        self.ext = dict(ext)
        self.max_ext = max((len(k) for k in ext), default=1)
        return self

    @classmethod
    def load(cls, path) -> Resources:
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(json.load(fh))


def load_external(path) -> dict[tuple[str, ...], str]:
    """The external gazetteer file (``form<TAB>type`` lines, '#' comments) as {word tuple: type}."""
    out: dict[tuple[str, ...], str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or "\t" not in line:
                continue
            form, typ = line.rstrip("\n").split("\t")[:2]
            out[tuple(form.split(" "))] = typ
    return out


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity spans (type, start, end) of an IOB2 (or loose IOB) tag sequence; an I- that does not continue starts one."""
    out = []
    etype, start = None, 0
    for i, tag in enumerate(tags):
        if tag == "O" or not tag:
            if etype:
                out.append((etype, start, i))
            etype = None
            continue
        bio, t = tag[0], tag[2:]
        if bio == "B" or t != etype:
            if etype:
                out.append((etype, start, i))
            etype, start = t, i
    if etype:
        out.append((etype, start, len(tags)))
    return out


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
    char_ngrams: int = 0  # n of character n-grams inside the stem (0 = none)
    conjunctions: int = 1  # rarity of a word conjoined with its neighbours (0 none, 1, 2 = more)
    ext_gazetteer: bool = False  # CLDR place/currency/language/month names (extractors/entities/models/ner_cldr_gazetteer.tsv)
    general: bool = False  # general-Arabic frequency and stem productivity codes (extractors/entities/crf/lexicon.py)
    names: bool = False  # given / family name list (extractors/entities/crf/lexicon.py, from Faker's Arabic locales)
    general_conj: bool = False  # general-frequency bands of the previous, current and next word, conjoined
    people: bool = False  # people's name words from Wikidata and arabnamer (extractors/entities/training/people_build.py)
    people_phrases: bool = False  # their full names join the external gazetteer as PERS (needs ext_gazetteer)

    def to_json(self) -> dict:
        return dict(self.__dict__)


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


# Distinct words whose features are kept. The pipeline benchmark (N=5,000, 2 workers) measured 726 MB for the
# workers with 30,000 and 598 MB with 10,000, for 6% more tagging CPU and the same wall time; without a bound
# a worker grew ~100 MB per 2,000 pages.
WORD_CACHE_LIMIT = 10_000


class Featurizer:
    """Turns token sentences into CRFsuite feature lists; caches per-word parts."""

    def __init__(self, resources: Resources, config: FeatureConfig | None = None):
        self.res = resources
        self.cfg = config or FeatureConfig()
        self._word_cache: dict[str, tuple] = {}
        # first words of the gazetteer phrases: a position whose word cannot start a phrase is skipped at once
        self._phrase_first = {k[0] for k in resources.phrases}
        self._ext_first = {k[0] for k in resources.ext}

    def _word(self, tok: str):
        hit = self._word_cache.get(tok)
        if hit is not None:
            return hit
        cfg, res = self.cfg, self.res
        n = norm(tok)
        pre, stem, had_al = split_clitics(n)
        shape = _shape(n)
        own = [f"w={n}", f"st={stem}", f"pc={pre}{'+al' if had_al else ''}", f"sh={shape}",
               f"len={min(len(stem), 8)}"]
        if n != tok:
            own.append(f"raw={tok}")
        for k in range(1, cfg.affixes + 1):
            if len(n) > k:
                own.append(f"p{k}={n[:k]}")
                own.append(f"s{k}={n[-k:]}")
            if len(stem) > k + 1:
                own.append(f"sp{k}={stem[:k]}")
                own.append(f"ss{k}={stem[-k:]}")
        ctx = [f"w={n}", f"st={stem}", f"sh={shape}"]
        if cfg.triggers:
            trig = TRIGGERS.get(stem) or TRIGGERS.get(n)
            if trig:
                own.append("T=" + trig)
                ctx.append("T=" + trig)
        if cfg.word_stats:
            ws = res.word_stats.get(n)
            if ws is None and stem != n:
                ws = res.word_stats.get(stem)
                if ws is not None:
                    ws = "st" + ws
            if ws:
                own.append("R=" + ws)
                ctx.append("R=" + ws)
        if cfg.freq:
            f = res.freq.get(n, 0)
            fb = "0" if f == 0 else "1" if f == 1 else "2-4" if f < 5 else "5-19" if f < 20 else "20+"
            own.append("fq=" + fb)
            ctx.append("fq=" + fb)
        if cfg.char_ngrams and len(stem) > cfg.char_ngrams:
            k = cfg.char_ngrams
            padded = f"<{stem}>"
            own.extend("cg=" + padded[i : i + k] for i in range(len(padded) - k + 1))
        if cfg.clusters and res.clusters:
            c = res.clusters.get(n) or res.clusters.get(stem)
            if c:
                coarse, _, fine = c.partition(":")
                own.append("c=" + fine)
                own.append("cc=" + coarse)
                ctx.append("c=" + fine)
                ctx.append("cc=" + coarse)
        if cfg.general and res.general:
            code = res.general.get(n) or (res.general.get(stem) if stem != n else None) or res.general.default
            gf, gm, ga = code.split("|")
            own.extend((f"gf={gf}", f"gm={gm}", f"ga={ga}", f"gfm={gf}|{gm}"))
            ctx.extend((f"gf={gf}", f"gm={gm}"))
            gband = "x" if not gf.isdigit() else str(int(gf) // 3)
        if cfg.names and res.names:
            nk = res.names.get(n) or res.names.get(stem)
            if nk:
                own.append("NM=" + nk)
                ctx.append("NM=" + nk)
        pk = None
        if cfg.people and res.people:
            pk = res.people.get(n) or res.people.get(stem)
            if pk:
                roles, _, pband = pk.partition(":")
                own.extend("PN" + r for r in roles)
                own.append("PNb=" + pband)
                ctx.append("PN=" + ("g" if "g" in roles else "s" if "s" in roles else roles[:1]))
                ctx.append("PNb=" + pband)
        rare = "x"
        if cfg.freq:
            f = res.freq.get(n, 0)
            rare = "0" if f == 0 else "1" if f < 3 else "m" if f < 20 else "f"
        if not (cfg.general and res.general):
            gband = "-"
        if pk:
            own.append(f"PNr={pband}|{rare}|{gband}")
        hit = (own, ctx, n, stem, rare, gband, article_form(n))
        if len(self._word_cache) >= WORD_CACHE_LIMIT:  # bounded memory on long runs (news vocabulary is open)
            self._word_cache.clear()
        self._word_cache[tok] = hit
        return hit

    def doc_key(self, tok: str) -> str | None:
        """Grouping key of a word for document-level features: its clitic-stripped stem (letters only)."""
        w = self._word(tok)
        stem = w[3]
        return stem if len(stem) >= 2 and stem.isalpha() else None

    def _gazetteer(self, words: list[tuple]) -> list[str | None]:
        """Longest-match tagging of the sentence against entity phrases: 'B-LOC', 'I-ORG|PERS', ..."""
        phrases, m, starts = self.res.phrases, self.res.max_phrase, self._phrase_first
        ns = [w[2] for w in words]
        out: list[str | None] = [None] * len(ns)
        i, n = 0, len(ns)
        while i < n:
            found = 0
            first = words[i][6]  # the word with its proclitics stripped but its article kept
            if ns[i] not in starts and first not in starts:
                i += 1
                continue
            for L in range(min(m, n - i), 0, -1):
                key = tuple(ns[i : i + L])
                t = phrases.get(key)
                if t is None:
                    if first != key[0]:
                        t = phrases.get((first, *key[1:]))
                if t is not None:
                    out[i] = "B-" + t
                    for j in range(i + 1, i + L):
                        out[j] = "I-" + t
                    found = L
                    break
            i += found or 1
        return out

    def _external(self, words) -> list[str | None]:
        """Longest match against the external (CLDR) gazetteer; the first word may carry proclitics/article."""
        ext, m = self.res.ext, self.res.max_ext
        n = len(words)
        out: list[str | None] = [None] * n
        i = 0
        while i < n:
            found = 0
            w0 = words[i][2]
            if w0[:1].isalpha():
                stem = words[i][3]
                firsts = (w0, words[i][6], stem, AL + stem)
                if not any(f in self._ext_first for f in firsts):
                    i += 1
                    continue
                for L in range(min(m, n - i), 0, -1):
                    rest = tuple(words[j][2] for j in range(i + 1, i + L))
                    for k, first in enumerate(firsts):
                        t = ext.get((first, *rest))
                        if t is not None:
                            out[i] = ("B-" if k < 2 else "b-") + t
                            for j in range(i + 1, i + L):
                                out[j] = "I-" + t
                            found = L
                            break
                    if found:
                        break
            i += found or 1
        return out

    def sentence(self, tokens: Sequence[str]) -> list[list[str]]:
        cfg = self.cfg
        words = [self._word(t) for t in tokens]
        ns = [w[2] for w in words]
        gaz = self._gazetteer(words) if cfg.gazetteer and self.res.phrases else None
        xg = self._external(words) if cfg.ext_gazetteer and self.res.ext else None
        n = len(tokens)
        out = []
        win = cfg.window
        for i in range(n):
            f = ["b"]
            f.extend(words[i][0])
            if gaz is not None and gaz[i]:
                f.append("G=" + gaz[i])
            if xg is not None:
                if xg[i]:
                    f.append("X=" + xg[i])
                    f.append(f"X={xg[i]}|{words[i][4]}")
                if i > 0 and xg[i - 1]:
                    f.append("-1X=" + xg[i - 1])
                if i + 1 < n and xg[i + 1]:
                    f.append("+1X=" + xg[i + 1])
            for d in range(1, win + 1):
                for j, sign in ((i - d, "-"), (i + d, "+")):
                    pfx = f"{sign}{d}"
                    if 0 <= j < n:
                        ctx = words[j][1] if d == 1 else words[j][1][:2] + words[j][1][3:]
                        f.extend(pfx + x for x in ctx)
                        if gaz is not None and gaz[j]:
                            f.append(f"{pfx}G={gaz[j]}")
                    elif j == -1 or j == n:
                        f.append(pfx + "BOUND")
            if cfg.conjunctions >= 1:
                r = words[i][4]
                rp = words[i - 1][4] if i > 0 else "B"
                rn = words[i + 1][4] if i + 1 < n else "E"
                f.append(f"rr={rp}{r}{rn}")
                if i > 0:
                    f.append(f"s-r={words[i - 1][3]}|{r}")
                if i + 1 < n:
                    f.append(f"r-s={r}|{words[i + 1][3]}")
                if cfg.conjunctions >= 2:
                    rp2 = words[i - 2][4] if i > 1 else "B"
                    rn2 = words[i + 2][4] if i + 2 < n else "E"
                    f.append(f"rrrrr={rp2}{rp}{r}{rn}{rn2}")
                    f.append(f"pc-r={words[i][0][2]}|{r}")
                    if i > 0:
                        f.append(f"s2-r={words[i - 2][3] if i > 1 else 'B'}|{words[i - 1][3]}|{r}")
            if cfg.general_conj:
                gp = words[i - 1][5] if i > 0 else "B"
                gn = words[i + 1][5] if i + 1 < n else "E"
                f.append(f"gg={gp}{words[i][5]}{gn}")
                f.append(f"gr={words[i][5]}{words[i][4]}")
            if cfg.bigrams:
                if i > 0:
                    f.append(f"bg-={ns[i - 1]}|{ns[i]}")
                if i + 1 < n:
                    f.append(f"bg+={ns[i]}|{ns[i + 1]}")
            out.append(f)
        return out
