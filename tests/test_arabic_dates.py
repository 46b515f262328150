"""Arabic date forms (extractors/extract/dates.py) and the published_at order of evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from extractors.extract.dates import find_date, hijri_to_gregorian, parse_date, parse_structured_date

RIYADH = "Asia/Riyadh"
FETCHED = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)


def d(text, tz=RIYADH, fetched_at=None):
    m = find_date(text, timezone=tz, fetched_at=fetched_at)
    return m.value if m else None


def local(y, mo, day, h=0, mi=0, tz=RIYADH):
    from zoneinfo import ZoneInfo

    return datetime(y, mo, day, h, mi, tzinfo=ZoneInfo(tz))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("الجمعة 15 مارس 2024", (2024, 3, 15)),  # Egyptian / Gulf
        ("15 إبريل 2024", (2024, 4, 15)),
        ("3 يونية 2023", (2023, 6, 3)),
        ("15 آذار 2024", (2024, 3, 15)),  # Levantine
        ("1 كانون الثاني 2024", (2024, 1, 1)),
        ("20 تشرين الأول 2023", (2023, 10, 20)),
        ("8 فيفري 2019", (2019, 2, 8)),  # Maghrebi
        ("12 جويلية 2023", (2023, 7, 12)),
        ("3 أوت 2022", (2022, 8, 3)),
        ("1 شتنبر 2022", (2022, 9, 1)),  # Moroccan
        ("3 مارس/آذار 2024", (2024, 3, 3)),  # combined
        ("ديسمبر/ كانون الأول", None),
        ("7 ديسمبر (كانون الأول) 2023", (2023, 12, 7)),
    ],
)
def test_month_families(text, expected):
    got = d(text)
    if expected is None:
        assert got is None
    else:
        assert got == local(*expected)


def test_eastern_and_persian_digits():
    assert d("١٥ مارس ٢٠٢٤") == local(2024, 3, 15)
    assert d("۱۵ مارس ۲۰۲۴") == local(2024, 3, 15)
    assert d("الجمعة، ١٥ مارس ٢٠٢٤ ١٠:٣٠ م") == local(2024, 3, 15, 22, 30)


def test_times_and_weekdays():
    assert d("الجمعة 15 مارس 2024 الساعة 10:30 صباحا") == local(2024, 3, 15, 10, 30)
    assert d("15 مارس 2024 - 10:30 مساء") == local(2024, 3, 15, 22, 30)
    assert d("15 مارس 2024 10:30 م") == local(2024, 3, 15, 22, 30)
    assert d("15 مارس 2024 12:05 ص") == local(2024, 3, 15, 0, 5)


def test_date_without_time_is_midnight_in_timezone():
    got = d("15 مارس 2024", tz="Africa/Cairo")
    assert got == local(2024, 3, 15, tz="Africa/Cairo")
    assert got.tzinfo is not None
    assert d("15 مارس 2024", tz="UTC") == datetime(2024, 3, 15, tzinfo=UTC)


def test_hijri_without_hijridate_is_close():
    # the tabular fallback is within two days of Umm al-Qura
    from datetime import date

    assert abs((hijri_to_gregorian(1445, 9, 5) - date(2024, 3, 15)).days) <= 2


def test_dual_hijri_gregorian_prefers_gregorian():
    assert d("الخميس 5 رمضان 1445 هـ الموافق 14 مارس 2024 م") == local(2024, 3, 14)
    assert d("5 رمضان 1445هـ - 14 مارس 2024م") == local(2024, 3, 14)


def test_hijri_alone_umm_al_qura():
    pytest.importorskip("hijridate", reason="exact Umm al-Qura dates need the hijridate package")
    assert d("5 رمضان 1445 هـ") == local(2024, 3, 15)
    assert d("1 محرم 1446هـ") == local(2024, 7, 7)
    assert d("10 ذو الحجة 1445 هـ") == local(2024, 6, 16)
    assert d("3 جمادى الأولى 1436هـ") == local(2015, 2, 22)
    assert hijri_to_gregorian(1445, 9, 1).isoformat() == "2024-03-11"


def test_relative_dates_need_fetched_at():
    assert d("منذ ساعتين", fetched_at=FETCHED) == FETCHED - timedelta(hours=2)
    assert d("منذ 3 ساعات", fetched_at=FETCHED) == FETCHED - timedelta(hours=3)
    assert d("منذ 5 دقائق", fetched_at=FETCHED) == FETCHED - timedelta(minutes=5)
    assert d("قبل ساعة", fetched_at=FETCHED) == FETCHED - timedelta(hours=1)
    assert d("منذ ثلاث ساعات", fetched_at=FETCHED) == FETCHED - timedelta(hours=3)
    assert d("أمس", fetched_at=FETCHED) == local(2024, 3, 14)
    assert d("منذ يومين", fetched_at=FETCHED) == local(2024, 3, 13)
    # without fetched_at nothing is invented
    assert d("منذ ساعتين") is None
    assert d("أمس") is None
    # «اليوم» alone is a word (and a newspaper's name), not a date
    assert d("اليوم السابع", fetched_at=FETCHED) is None


def test_explicit_zones():
    assert d("15 مارس 2024 10:30 GMT+3", tz="UTC") == datetime(2024, 3, 15, 7, 30, tzinfo=UTC)
    assert d("15 مارس 2024 الساعة 10:30 بتوقيت مكة المكرمة", tz="UTC") == datetime(2024, 3, 15, 7, 30, tzinfo=UTC)
    assert d("15 مارس 2024 الساعة 10:30 بتوقيت غرينتش", tz=RIYADH) == datetime(2024, 3, 15, 10, 30, tzinfo=UTC)
    assert d("15 مارس 2024 ، 10:30 GMT", tz=RIYADH) == datetime(2024, 3, 15, 10, 30, tzinfo=UTC)


def test_iso_and_numeric_forms():
    assert d("2024/03/15") == local(2024, 3, 15)
    assert d("15-03-2024") == local(2024, 3, 15)  # day first on Arabic pages
    assert d("15/3/2024 10:30") == local(2024, 3, 15, 10, 30)
    assert d("2024-03-15T10:00:00+03:00", tz="UTC") == datetime(2024, 3, 15, 7, 0, tzinfo=UTC)
    assert parse_structured_date("2024-03-15T07:00:00Z")[0] == datetime(2024, 3, 15, 7, tzinfo=UTC)
    assert parse_structured_date("2024-03-15", timezone=RIYADH) == (local(2024, 3, 15), False)
    assert parse_structured_date("Fri, 15 Mar 2024 10:00:00 +0300")[0] == datetime(2024, 3, 15, 7, tzinfo=UTC)
    assert parse_structured_date("15 مارس 2024", timezone=RIYADH)[0] == local(2024, 3, 15)


def test_no_date_is_none():
    assert d("") is None
    assert d("لا يوجد تاريخ في هذا السطر") is None
    assert d("قتل 15 شخصا في 2024") is None
    assert parse_date("32 مارس 2024") is None
    assert parse_structured_date("not a date") is None
    assert parse_structured_date(None) is None


@pytest.mark.parametrize(
    "text,zone,expected",
    [
        ("الجمعة 7 آذار 2025 | 11:20 مساءً", "Asia/Beirut", "2025-03-07T23:20:00+02:00"),
        ("نُشر في 2025/03/04 الساعة 10:45 مساءً", "Asia/Amman", "2025-03-04T22:45:00+03:00"),
        ("الأحد، 9 فبراير 2025 08:15 م", "Africa/Cairo", "2025-02-09T20:15:00+02:00"),
    ],
)
def test_evening_time_without_zone_is_local_to_the_source(text, zone, expected):
    found = find_date(text, timezone=zone)
    assert found is not None and found.value.isoformat() == expected
    local_day = found.value.astimezone(ZoneInfo(zone)).date()
    assert local_day.isoformat() == expected[:10]  # the source's own day, not the next one as UTC would give
