"""Arabic date parsing for news pages.

Understands the forms Arabic news sites print:

* Gregorian month names in the Egyptian/Gulf (يناير … ديسمبر), Levantine (كانون الثاني … كانون الأول),
  Maghrebi (جانفي، فيفري، أفريل، ماي، جوان، جويلية، أوت) and Moroccan (يوليوز، غشت، شتنبر، نونبر، دجنبر) families,
  and combined forms such as «3 مارس/آذار 2024» or «ديسمبر (كانون الأول) 2023»;
* Eastern Arabic (٠-٩) and Persian (۰-۹) digits, weekday names, times («الساعة 10:30 صباحا», «10:30 م»);
* Hijri dates («5 رمضان 1445 هـ»), converted with the Umm al-Qura calendar (``hijridate`` when installed,
  else the tabular Islamic calendar, which can be a day or two off); in a dual date
  («… هـ الموافق 15 مارس 2024 م») the Gregorian part wins;
* relative dates («منذ ساعتين», «منذ 3 ساعات», «قبل 5 دقائق», «أمس», «منذ يومين»), only against a known
  ``fetched_at``;
* explicit zones («GMT+3», «+03:00», «بتوقيت مكة», «بتوقيت غرينتش»);
* ISO and numeric forms (2024-03-15T10:00:00+03:00, 2024/03/15, 15-03-2024 day first).

Dates without a time are midnight in the given timezone; times without a zone are in that timezone.
Every function returns timezone-aware datetimes, or None when there is no date: nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from datetime import timezone as dt_timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from extractors.arabic import normalize_arabic

__all__ = [
    "DateMatch",
    "find_date",
    "find_dates",
    "parse_date",
    "parse_structured_date",
    "hijri_to_gregorian",
    "get_tz",
]


@dataclass(frozen=True, slots=True)
class DateMatch:
    """One date found in a text."""

    value: datetime  # timezone-aware
    has_time: bool  # False: the day is known, the time is midnight by convention
    kind: str  # "gregorian", "hijri", "numeric", "iso", "relative"
    start: int  # span in the *normalised* text
    end: int


# --------------------------------------------------------------------------------------------- tables
def _n(s: str) -> str:
    return normalize_arabic(s).lower()


_GREGORIAN_MONTHS: dict[str, int] = {}
for _names, _num in [
    # Egyptian / Gulf
    (["يناير"], 1), (["فبراير", "فبرایر"], 2), (["مارس"], 3), (["أبريل", "إبريل", "ابريل", "أبريـل"], 4),
    (["مايو"], 5), (["يونيو", "يونية", "يونيه"], 6), (["يوليو", "يولية", "يوليه"], 7),
    (["أغسطس", "اغسطس", "أغسطس"], 8), (["سبتمبر"], 9), (["أكتوبر", "اكتوبر"], 10), (["نوفمبر"], 11),
    (["ديسمبر"], 12),
    # Levantine / Iraqi
    (["كانون الثاني"], 1), (["شباط"], 2), (["آذار", "اذار"], 3), (["نيسان"], 4), (["أيار", "ايار"], 5),
    (["حزيران"], 6), (["تموز"], 7), (["آب", "اب"], 8), (["أيلول", "ايلول"], 9), (["تشرين الأول"], 10),
    (["تشرين الثاني"], 11), (["كانون الأول"], 12),
    # Maghrebi (Algeria, Tunisia)
    (["جانفي"], 1), (["فيفري"], 2), (["أفريل", "افريل"], 4), (["ماي"], 5), (["جوان"], 6),
    (["جويلية", "جويلييه"], 7), (["أوت", "اوت"], 8),
    # Moroccan
    (["يوليوز"], 7), (["غشت"], 8), (["شتنبر"], 9), (["نونبر"], 11), (["دجنبر"], 12),
]:
    for _name in _names:
        _GREGORIAN_MONTHS[_n(_name)] = _num

_HIJRI_MONTHS: dict[str, int] = {}
for _names, _num in [
    (["محرم", "المحرم"], 1), (["صفر"], 2), (["ربيع الأول", "ربيع أول"], 3),
    (["ربيع الآخر", "ربيع الثاني", "ربيع ثاني", "ربيع آخر"], 4),
    (["جمادى الأولى", "جمادى الأول", "جمادى أولى"], 5),
    (["جمادى الآخرة", "جمادى الآخر", "جمادى الثانية", "جمادى الثاني", "جمادى آخرة"], 6),
    (["رجب"], 7), (["شعبان"], 8), (["رمضان"], 9), (["شوال"], 10),
    (["ذو القعدة", "ذي القعدة", "ذو القعده"], 11), (["ذو الحجة", "ذي الحجة"], 12),
]:
    for _name in _names:
        _HIJRI_MONTHS[_n(_name)] = _num


def _alternation(names) -> str:
    # Longest first so that «كانون الثاني» wins over shorter names, «مايو» over «ماي».
    parts = sorted(set(names), key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in parts)


_GM = _alternation(_GREGORIAN_MONTHS)
_HM = _alternation(_HIJRI_MONTHS)
_AR = "\u0600-\u06ff"
_NOT_LETTER_AFTER = rf"(?![{_AR}A-Za-z])"
_NOT_LETTER_BEFORE = rf"(?<![{_AR}A-Za-z])"

# «15 مارس 2024», «15 من مارس 2024», «3 مارس/آذار 2024», «3 ديسمبر (كانون الأول) 2023», «8 فيفري، 2019»
_GREG_RE = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}})\s*(?:من\s+)?(?:شهر\s+)?(?:ال)?(?P<m1>{_GM}){_NOT_LETTER_AFTER}"
    rf"(?:\s*[/\-–(|،,]\s*(?:ال)?(?P<m2>{_GM}){_NOT_LETTER_AFTER}\s*\)?)?"
    rf"\s*[،,]?\s*(?:من\s+)?(?:عام\s+|سنه\s+)?(?P<year>\d{{4}})(?!\d)"
)
# Month first: «مارس 15، 2024» (rare, but some CMS templates print it)
_GREG_MDY_RE = re.compile(
    rf"{_NOT_LETTER_BEFORE}(?P<m1>{_GM}){_NOT_LETTER_AFTER}(?:\s*[/\-(]\s*(?P<m2>{_GM})\s*\)?)?"
    rf"\s*(?P<day>\d{{1,2}})\s*[،,]\s*(?P<year>\d{{4}})(?!\d)"
)
_HIJRI_RE = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}})\s*(?:من\s+)?(?:شهر\s+)?(?P<month>{_HM}){_NOT_LETTER_AFTER}"
    rf"\s*[،,]?\s*(?:سنه\s+|عام\s+)?(?P<year>1[3-5]\d\d)(?!\d)\s*(?:ه(?:جري(?:ه)?)?{_NOT_LETTER_AFTER})?"
)
_ISO_RE = re.compile(
    r"(?<!\d)(?P<year>(?:19|20)\d\d)[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})(?!\d)"
    r"(?:(?:T|\s+|\s*-\s*)(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.\d+)?)?"
    r"(?P<tz>\s*(?:Z|[+-]\d{2}:?\d{2}))?)?",
    re.IGNORECASE,
)
_DMY_RE = re.compile(r"(?<![\d/.-])(?P<day>\d{1,2})[-/.](?P<month>\d{1,2})[-/.](?P<year>(?:19|20)\d\d)(?!\d)")
_TIME_RE = re.compile(
    rf"(?:(?:الساعه|ساعه|الساعة)\s*)?(?<![\d:])(?P<h>\d{{1,2}})\s*[:：]\s*(?P<mi>\d{{2}})(?::(?P<s>\d{{2}}))?(?!\d)"
    rf"(?:\s*(?P<ampm>صباحا|صباحاً|صباح|ص|مساءا|مساء|مساءً|م|ظهرا|ظهر|عصرا|عصر|ليلا|ليل|فجرا|فجر|"
    rf"am|pm|a\.m\.|p\.m\.){_NOT_LETTER_AFTER})?",
    re.IGNORECASE,
)
_OFFSET_RE = re.compile(
    r"(?:(?:gmt|utc|جرينتش|غرينتش|غرينيتش|جرينيتش)\s*(?P<sign>[+\-−])\s*(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?)"
    r"|(?:(?<=[\d\s])(?P<sign2>[+\-])(?P<oh2>\d{2}):?(?P<om2>\d{2})(?!\d))"
    r"|(?P<utc>(?:gmt|utc)(?![+\-\d\w])|(?:بتوقيت|توقيت)\s+(?:جرينتش|غرينتش|غرينيتش|جرينيتش|عالمي|gmt))",
    re.IGNORECASE,
)
_CITY_ZONES = {
    "مكه": "Asia/Riyadh", "مكه المكرمه": "Asia/Riyadh", "السعوديه": "Asia/Riyadh", "الرياض": "Asia/Riyadh",
    "القاهره": "Africa/Cairo", "مصر": "Africa/Cairo", "بيروت": "Asia/Beirut", "لبنان": "Asia/Beirut",
    "دمشق": "Asia/Damascus", "سوريا": "Asia/Damascus", "القدس": "Asia/Jerusalem", "فلسطين": "Asia/Gaza",
    "عمان": None,  # Amman or Oman: ambiguous, ignored
    "الاردن": "Asia/Amman", "بغداد": "Asia/Baghdad", "العراق": "Asia/Baghdad", "الكويت": "Asia/Kuwait",
    "الدوحه": "Asia/Qatar", "قطر": "Asia/Qatar", "ابوظبي": "Asia/Dubai", "ابو ظبي": "Asia/Dubai",
    "دبي": "Asia/Dubai", "الامارات": "Asia/Dubai", "المنامه": "Asia/Bahrain", "البحرين": "Asia/Bahrain",
    "مسقط": "Asia/Muscat", "صنعاء": "Asia/Aden", "اليمن": "Asia/Aden", "الخرطوم": "Africa/Khartoum",
    "السودان": "Africa/Khartoum", "طرابلس": "Africa/Tripoli", "ليبيا": "Africa/Tripoli", "تونس": "Africa/Tunis",
    "الجزائر": "Africa/Algiers", "الرباط": "Africa/Casablanca", "المغرب": "Africa/Casablanca",
    "نواكشوط": "Africa/Nouakchott", "موريتانيا": "Africa/Nouakchott", "انقره": "Europe/Istanbul",
    "اسطنبول": "Europe/Istanbul", "تركيا": "Europe/Istanbul", "طهران": "Asia/Tehran", "ايران": "Asia/Tehran",
    "لندن": "Europe/London", "باريس": "Europe/Paris", "واشنطن": "America/New_York",
}
_CITY_RE = re.compile(
    r"(?:بتوقيت|توقيت)\s+(?P<city>" + _alternation(_CITY_ZONES) + rf"){_NOT_LETTER_AFTER}"
)
_WEEKDAYS = [_n(w) for w in ["الاثنين", "الإثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"]]

# Relative dates. Number words cover what news sites print («منذ ثلاث ساعات»).
_NUMBER_WORDS = {
    _n(k): v
    for k, v in {
        "واحد": 1, "واحدة": 1, "اثنين": 2, "اثنتين": 2, "ثلاث": 3, "ثلاثة": 3, "أربع": 4, "أربعة": 4,
        "خمس": 5, "خمسة": 5, "ست": 6, "ستة": 6, "سبع": 7, "سبعة": 7, "ثماني": 8, "ثمان": 8, "ثمانية": 8,
        "تسع": 9, "تسعة": 9, "عشر": 10, "عشرة": 10,
    }.items()
}
_UNITS = {  # normalised unit word -> (seconds, count implied by the word or None)
    "ثانيه": (1, 1), "ثانيتين": (1, 2), "ثوان": (1, None), "ثواني": (1, None), "ثانيه واحده": (1, 1),
    "دقيقه": (60, 1), "دقيقتين": (60, 2), "دقيقتان": (60, 2), "دقائق": (60, None),
    "ساعه": (3600, 1), "ساعتين": (3600, 2), "ساعتان": (3600, 2), "ساعات": (3600, None),
    "يوم": (86400, 1), "يومين": (86400, 2), "يومان": (86400, 2), "ايام": (86400, None),
    "اسبوع": (604800, 1), "اسبوعين": (604800, 2), "اسابيع": (604800, None),
}
_REL_RE = re.compile(
    rf"{_NOT_LETTER_BEFORE}(?:منذ|قبل)\s+(?:(?P<num>\d{{1,3}})\s*|(?P<word>{_alternation(_NUMBER_WORDS)})\s+)?"
    rf"(?P<unit>{_alternation(_UNITS)}){_NOT_LETTER_AFTER}"
)
_YESTERDAY_RE = re.compile(rf"{_NOT_LETTER_BEFORE}(?:امس|البارحه){_NOT_LETTER_AFTER}")
_TODAY_RE = re.compile(rf"{_NOT_LETTER_BEFORE}(?:اليوم){_NOT_LETTER_AFTER}")
_RELATIVE_DAY_UNITS = 86400


# --------------------------------------------------------------------------------------------- helpers
@lru_cache(maxsize=64)
def get_tz(name: str | None) -> tzinfo:
    """ZoneInfo for an IANA name; UTC for None, "UTC" or an unknown name."""
    if not name or name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _as_tz(tz: str | tzinfo | None) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    return get_tz(tz)


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def hijri_to_gregorian(year: int, month: int, day: int) -> date | None:
    """Convert an Umm al-Qura Hijri date to a Gregorian date (None when it is not a valid date)."""
    if not (1 <= month <= 12 and 1 <= day <= 30):
        return None
    try:  # Umm al-Qura table (1343–1500 AH) from the optional `hijridate` package
        from hijridate import Hijri

        g = Hijri(year, month, day).to_gregorian()
        return date(g.year, g.month, g.day)
    except ImportError:
        pass
    except (ValueError, OverflowError):
        if day == 30:  # a 29-day month in Umm al-Qura: not a valid date
            return None
    # Tabular (arithmetic) Islamic calendar: within a day or two of Umm al-Qura.
    jd = day + -(-(59 * (month - 1)) // 2) + 354 * (year - 1) + (3 + 11 * year) // 30 + 1948439
    # jd -> Gregorian (Fliegel–Van Flandern)
    a = jd + 32044
    b = (4 * a + 3) // 146097
    c = a - 146097 * b // 4
    d_ = (4 * c + 3) // 1461
    e = c - 1461 * d_ // 4
    m_ = (5 * e + 2) // 153
    gd = e - (153 * m_ + 2) // 5 + 1
    gm = m_ + 3 - 12 * (m_ // 10)
    gy = 100 * b + d_ - 4800 + m_ // 10
    return _valid(gy, gm, gd)


def _ampm_hour(h: int, marker: str | None) -> int | None:
    if h > 23:
        return None
    if not marker:
        return h
    mk = marker.lower().replace(".", "")
    pm = mk in ("م", "مساء", "مساءا", "pm", "عصرا", "عصر", "ليلا", "ليل", "ظهرا", "ظهر")
    if mk in ("ظهرا", "ظهر") and h < 12 and h <= 3:
        return h + 12
    if mk in ("ظهرا", "ظهر"):
        return h
    if mk in ("ليلا", "ليل") and h == 12:
        return 0
    if mk in ("ليلا", "ليل") and h <= 4:
        return h  # «الساعة 2 ليلا» is after midnight
    if pm and h < 12:
        return h + 12
    if not pm and h == 12:
        return 0
    return h


def _find_time(text: str, lo: int, hi: int) -> tuple[time, int, int] | None:
    """First time of day in text[lo:hi]."""
    for m in _TIME_RE.finditer(text, lo, hi):
        h = _ampm_hour(int(m.group("h")), m.group("ampm"))
        mi = int(m.group("mi"))
        s = int(m.group("s") or 0)
        if h is None or mi > 59 or s > 59:
            continue
        return time(h, mi, s), m.start(), m.end()
    return None


def _find_zone(text: str, lo: int, hi: int) -> tzinfo | None:
    m = _CITY_RE.search(text, lo, hi)
    if m:
        name = _CITY_ZONES.get(re.sub(r"\s+", " ", m.group("city")))
        if name:
            return get_tz(name)
    for m in _OFFSET_RE.finditer(text, lo, hi):
        if m.group("utc"):
            return UTC
        sign = m.group("sign") or m.group("sign2")
        oh = m.group("oh") or m.group("oh2")
        om = m.group("om") or m.group("om2") or "0"
        hours, minutes = int(oh), int(om)
        if hours > 14 or minutes > 59:
            continue
        delta = timedelta(hours=hours, minutes=minutes)
        return dt_timezone(-delta if sign in "-−" else delta)
    return None


def _parse_offset(value: str) -> tzinfo | None:
    v = value.strip().lower()
    if v == "z":
        return UTC
    mm = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", v)
    if not mm or int(mm.group(2)) > 14:
        return None
    delta = timedelta(hours=int(mm.group(2)), minutes=int(mm.group(3)))
    return dt_timezone(-delta if mm.group(1) == "-" else delta)


def _combine(d: date, t: time | None, tz: tzinfo) -> datetime:
    return datetime.combine(d, t or time(0, 0), tzinfo=tz)


# --------------------------------------------------------------------------------------------- parsing
def _gregorian(m: re.Match[str]) -> date | None:
    """The date of a match with groups day, m1 (a Gregorian month name) and year; None when invalid."""
    month = _GREGORIAN_MONTHS.get(re.sub(r"\s+", " ", m.group("m1")))
    return _valid(int(m.group("year")), month, int(m.group("day"))) if month else None


def _date_candidates(nt: str) -> list[tuple[int, int, date, str]]:
    """(start, end, date, kind) for every absolute calendar date in the normalised text."""
    found: list[tuple[int, int, date, str]] = []
    for m in _GREG_RE.finditer(nt):
        d = _gregorian(m)
        if d:
            found.append((m.start(), m.end(), d, "gregorian"))
    for m in _GREG_MDY_RE.finditer(nt):
        d = _gregorian(m)
        if d and not any(s <= m.start() < e for s, e, _, _ in found):
            found.append((m.start(), m.end(), d, "gregorian"))
    for m in _HIJRI_RE.finditer(nt):
        month = _HIJRI_MONTHS.get(re.sub(r"\s+", " ", m.group("month")))
        d = hijri_to_gregorian(int(m.group("year")), month, int(m.group("day"))) if month else None
        if d:
            found.append((m.start(), m.end(), d, "hijri"))
    for m in _ISO_RE.finditer(nt):
        d = _valid(int(m.group("year")), int(m.group("month")), int(m.group("day")))
        if d:
            found.append((m.start(), m.end(), d, "iso"))
    for m in _DMY_RE.finditer(nt):
        day, month, year = int(m.group("day")), int(m.group("month")), int(m.group("year"))
        d = _valid(year, month, day) or (_valid(year, day, month) if month > 12 else None)
        if d:
            found.append((m.start(), m.end(), d, "numeric"))
    found.sort(key=lambda x: x[0])
    return found


def find_dates(
    text: str,
    *,
    timezone: str | tzinfo | None = "UTC",
    fetched_at: datetime | None = None,
    allow_relative: bool = True,
) -> list[DateMatch]:
    """All dates in `text`, in order of appearance (relative ones only when fetched_at is given)."""
    if not text:
        return []
    tz = _as_tz(timezone)
    nt = normalize_arabic(text).lower()
    results: list[DateMatch] = []
    cands = _date_candidates(nt)
    for i, (start, end, d, kind) in enumerate(cands):
        # a time belongs to this date when it follows it (or precedes it) closely
        nxt = cands[i + 1][0] if i + 1 < len(cands) else len(nt)
        hi = min(nxt, end + 60)
        prev_end = cands[i - 1][1] if i else 0
        t = None
        m = None
        span_end = end
        if kind == "iso":
            m = _ISO_RE.match(nt, start)
            if m and m.group("h") is not None:
                h, mi, s = int(m.group("h")), int(m.group("mi")), int(m.group("s") or 0)
                if h < 24 and mi < 60 and s < 60:
                    t = time(h, mi, s)
        if t is None:
            found_t = _find_time(nt, end, hi) or _find_time(nt, max(prev_end, start - 40), start)
            if found_t:
                t, _, t_end = found_t
                span_end = max(span_end, t_end)
        zone = None
        if kind == "iso" and t is not None and m and m.group("tz"):
            zone = _parse_offset(m.group("tz"))
        if t is not None and zone is None:
            zone = _find_zone(nt, start, min(len(nt), max(hi, span_end + 40)))
        results.append(DateMatch(_combine(d, t, zone or tz), t is not None, kind, start, span_end))
    if fetched_at is not None and allow_relative:
        results.extend(_relative(nt, fetched_at, tz))
        results.sort(key=lambda r: r.start)
    return results


def _relative(nt: str, fetched_at: datetime, tz: tzinfo) -> list[DateMatch]:
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)
    out: list[DateMatch] = []
    for m in _REL_RE.finditer(nt):
        seconds, implied = _UNITS[re.sub(r"\s+", " ", m.group("unit"))]
        if m.group("num"):
            count = int(m.group("num"))
        elif m.group("word"):
            count = _NUMBER_WORDS[re.sub(r"\s+", " ", m.group("word"))]
        else:
            count = implied or 1
        if implied and (m.group("num") or m.group("word")) and implied != 1:
            count = implied  # «منذ ساعتين» already says two
        value = fetched_at - timedelta(seconds=seconds * count)
        if seconds >= _RELATIVE_DAY_UNITS:
            local = value.astimezone(tz)
            out.append(DateMatch(_combine(local.date(), None, tz), False, "relative", m.start(), m.end()))
        else:
            out.append(DateMatch(value.astimezone(tz), True, "relative", m.start(), m.end()))
    for rx, days in ((_YESTERDAY_RE, 1), (_TODAY_RE, 0)):
        for m in rx.finditer(nt):
            local_day = fetched_at.astimezone(tz).date() - timedelta(days=days)
            found_t = _find_time(nt, m.end(), min(len(nt), m.end() + 30))
            t = found_t[0] if found_t else None
            if days == 0 and t is None:
                continue  # «اليوم» alone is too common (and a newspaper's name) to be a date
            zone = _find_zone(nt, m.start(), min(len(nt), m.end() + 60)) if t else None
            out.append(DateMatch(_combine(local_day, t, zone or tz), t is not None, "relative", m.start(), m.end()))
    return out


_PRIORITY = {"gregorian": 0, "iso": 1, "numeric": 2, "hijri": 3, "relative": 4}


def find_date(
    text: str,
    *,
    timezone: str | tzinfo | None = "UTC",
    fetched_at: datetime | None = None,
    allow_relative: bool = True,
) -> DateMatch | None:
    """The date a short text (a dateline, byline or date widget) states, or None.

    A Gregorian date beats a Hijri one (dual dates «… هـ الموافق … م»), an absolute date beats a relative one;
    otherwise the first date wins.
    """
    found = find_dates(text, timezone=timezone, fetched_at=fetched_at, allow_relative=allow_relative)
    if not found:
        return None
    return min(found, key=lambda r: (_PRIORITY[r.kind], r.start))


def parse_date(
    text: str, *, timezone: str | tzinfo | None = "UTC", fetched_at: datetime | None = None
) -> datetime | None:
    """Convenience: the datetime of `find_date`, or None."""
    m = find_date(text, timezone=timezone, fetched_at=fetched_at)
    return m.value if m else None


def parse_structured_date(
    value: str | None, *, timezone: str | tzinfo | None = "UTC", fetched_at: datetime | None = None
) -> tuple[datetime, bool] | None:
    """Parse a machine-readable date (JSON-LD, meta, <time datetime>): ISO 8601, RFC 2822, then Arabic text.

    Returns (datetime, has_time) or None.
    """
    if not value or not isinstance(value, str):
        return None
    v = value.strip()
    if not v or len(v) > 200:
        return None
    tz = _as_tz(timezone)
    iso = v.replace("Z", "+00:00") if v.endswith("Z") else v
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso):
            return _combine(date.fromisoformat(iso), None, tz), False
        dt = datetime.fromisoformat(iso)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz)
        return dt, True
    except ValueError:
        pass
    if re.match(r"^[A-Za-z]{3},?\s+\d", v):
        try:
            dt = parsedate_to_datetime(v)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=tz)
            return dt, True
        except (TypeError, ValueError):
            pass
    m = find_date(v, timezone=tz, fetched_at=fetched_at)
    if m:
        return m.value, m.has_time
    return None


def date_coverage(text: str, m: DateMatch) -> float:
    """Share of the (normalised, letters and digits only) text covered by the date and weekday words."""
    nt = normalize_arabic(text).lower()
    rest = nt[: m.start] + " " + nt[m.end :]
    for w in _WEEKDAYS:
        rest = rest.replace(w, " ")
    rest = re.sub(r"(?<![\w])(?:م|ه|الموافق|الساعه|نشر|في|بتاريخ|تاريخ|اخر|تحديث|بتوقيت|\w+ المكرمه)(?!\w)", " ", rest)
    rest_len = len(re.sub(r"[\W_]+", "", rest))
    total = len(re.sub(r"[\W_]+", "", nt)) or 1
    return 1 - rest_len / total
