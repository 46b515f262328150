"""Bytes → str for HTML pages, robust to the wrong or missing charsets common on Arabic sites.

Order of evidence:

1. a byte-order mark (as browsers do: a BOM is unambiguous and overrides any label);
2. the HTTP ``Content-Type`` charset (``encoding=``);
3. ``<meta charset>`` / ``<meta http-equiv="Content-Type" content="…; charset=…">`` in the first bytes;
4. detection: valid UTF-8, then a windows-1256 check (Arabic letters), then charset_normalizer.

A page that is overwhelmingly valid UTF-8 (at least 16 bytes of valid multi-byte characters, and invalid bytes
no more than 10% of those) is UTF-8 with its few invalid bytes replaced by U+FFFD, whatever its label says: one
bad byte in an Arabic UTF-8 page must not turn it into windows-1256 mojibake. `decode_html_counted` also says
how many bytes were replaced (the fetch log keeps that count).

A declared charset is only used when it fits the bytes: a single-byte label (ISO-8859-1, windows-1252, …)
on bytes that are valid multi-byte UTF-8 means UTF-8, and a Latin label on bytes that read as Arabic in
windows-1256 (and as accented Latin nonsense in the label) means windows-1256. A UTF-8 label on bytes that
are not UTF-8 falls through to detection.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["DecodedHtml", "decode_html", "decode_html_counted", "sniff_meta_charset", "normalize_charset"]

_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""",
    re.IGNORECASE,
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels that browsers treat as windows-1252 / Latin and that Arabic sites often send by mistake.
_LATIN = {"latin-1", "iso8859-1", "cp1252", "iso8859-15", "ascii", "cp1254", "iso8859-9"}
_ARABIC_1256 = re.compile("[\u0621-\u064a]")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")
_LATIN_SUPPLEMENT = re.compile("[\u00c0-\u00ff]")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_REPLACEMENT_UTF8 = "\ufffd".encode()
# "Overwhelmingly UTF-8": enough valid multi-byte text to be sure, and few invalid bytes next to it.
MIN_VALID_MULTIBYTE = 16  # bytes, about eight Arabic letters
MAX_INVALID_SHARE = 0.1  # invalid bytes per byte of valid multi-byte characters (windows-1256 Arabic has ~0 valid)


@dataclass(frozen=True, slots=True)
class DecodedHtml:
    """A decoded page: its text, and how many of its bytes could not be decoded (each became U+FFFD)."""

    text: str
    replaced_bytes: int = 0


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for an HTML/HTTP charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    aliases = {
        "x-user-defined": "cp1252",
        "windows-1256": "cp1256",
        "win-1256": "cp1256",
        "arabic": "iso8859-6",
        "iso-8859-6-i": "iso8859-6",
        "iso-8859-6-e": "iso8859-6",
        "x-mac-arabic": "mac-arabic",
        "utf8": "utf-8",
        "unicode": "utf-8",
    }
    label = aliases.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def sniff_meta_charset(data: bytes, limit: int = 4096) -> str | None:
    """Charset declared by <meta charset> or <meta http-equiv> in the first `limit` bytes."""
    m = _META_CHARSET.search(data[:limit])
    return normalize_charset(m.group(1).decode("ascii", "ignore")) if m else None


def _strict(data: bytes, enc: str) -> str | None:
    try:
        return data.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return None


def _looks_arabic_1256(data: bytes) -> str | None:
    """Decode as windows-1256 when that gives mostly Arabic letters among the non-ASCII characters."""
    high = len(_HIGH_BYTE.findall(data))
    if high < 8:
        return None
    text = data.decode("cp1256", errors="replace")
    non_ascii = [c for c in text if ord(c) >= 0x80 and c.isalpha()]
    if not non_ascii:
        return None
    arabic = sum(1 for c in non_ascii if _ARABIC_1256.match(c))
    return text if arabic / len(non_ascii) >= 0.7 else None


def _latin_mojibake(text: str) -> bool:
    """Many Latin-1 supplement letters in a row: the signature of Arabic read as windows-1252."""
    letters = sum(1 for c in text if c.isalpha())
    if not letters:
        return False
    return len(_LATIN_SUPPLEMENT.findall(text)) / letters > 0.15


def decode_html(data: bytes | str, encoding: str | None = None) -> str:
    """Decode an HTML page to text (see the module docstring for the order of evidence)."""
    return decode_html_counted(data, encoding).text


def decode_html_counted(data: bytes | str, encoding: str | None = None) -> DecodedHtml:
    """The page's text and the number of bytes replaced while decoding it."""
    if isinstance(data, str):
        return DecodedHtml(data)
    if not data:
        return DecodedHtml("")
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return _replacing(data[len(bom) :], enc)
    utf8 = _Utf8Reading(data)
    for declared in (normalize_charset(encoding), sniff_meta_charset(data)):
        if declared:
            text = _decode_as_declared(data, declared, utf8)
            if text is not None:
                return DecodedHtml(text)
            lenient = utf8.lenient()
            if lenient is not None:
                return lenient
    return _detect(data, utf8)


def _replacing(data: bytes, enc: str) -> DecodedHtml:
    """`data` decoded with replacement, and the number of bytes replaced."""
    text = data.decode(enc, errors="replace")
    if enc != "utf-8":
        return DecodedHtml(text, text.count("\ufffd"))
    # Every valid character encodes back to its own bytes; each replacement stands for 1-3 invalid bytes.
    replacements = text.count("\ufffd") - data.count(_REPLACEMENT_UTF8)
    valid_bytes = len(text.encode("utf-8")) - 3 * replacements
    return DecodedHtml(text, len(data) - valid_bytes)


def utf8_with_few_errors(data: bytes) -> DecodedHtml | None:
    """`data` as UTF-8 with its invalid bytes replaced, when it is overwhelmingly valid UTF-8; else None."""
    decoded = _replacing(data, "utf-8")
    ascii_bytes = len(data.translate(None, _HIGH_BYTES))
    valid_multibyte = len(data) - ascii_bytes - decoded.replaced_bytes
    if valid_multibyte < MIN_VALID_MULTIBYTE or decoded.replaced_bytes > MAX_INVALID_SHARE * valid_multibyte:
        return None
    return decoded


class _Utf8Reading:
    """The strict UTF-8 decoding of a page, tried at most once (most pages need it, some twice)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._tried = False
        self._text: str | None = None

    def text(self) -> str | None:
        if not self._tried:
            self._tried = True
            self._text = _strict(self._data, "utf-8") or None
        return self._text

    def lenient(self) -> DecodedHtml | None:
        """Not valid UTF-8, but overwhelmingly so (a few bad bytes): decoded with replacement; else None."""
        if self.text() is not None:
            return None
        return utf8_with_few_errors(self._data)


def _decode_as_declared(data: bytes, declared: str, utf8: _Utf8Reading) -> str | None:
    """The page decoded as its HTTP header or <meta> says, or None when that label is unusable."""
    if declared in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"):
        declared = "utf-8"  # an ASCII-compatible page cannot really be UTF-16 (HTML spec does the same)
    if declared == "utf-8":
        return utf8.text()  # None: mislabelled, detect instead
    text = _strict(data, declared)
    if text is None:
        return None
    if data.isascii():
        return text  # pure ASCII: any label is right
    # a single-byte label on valid multi-byte UTF-8 (even with a bad byte or two) is almost surely wrong
    as_utf8 = utf8.text()
    if as_utf8 is not None:
        return as_utf8
    lenient = utf8.lenient()
    if lenient is not None:
        return None  # the caller takes the lenient UTF-8 reading
    if declared in _LATIN and _latin_mojibake(text):
        arabic = _looks_arabic_1256(data)
        if arabic is not None:
            return arabic
    return text


def _detect(data: bytes, utf8: _Utf8Reading) -> DecodedHtml:
    """No usable declaration: UTF-8 (with a few bad bytes replaced), then Arabic windows-1256, then
    charset-normalizer's guess."""
    text = utf8.text()
    if text is not None:
        return DecodedHtml(text)
    lenient = utf8.lenient()
    if lenient is not None:
        return lenient
    arabic = _looks_arabic_1256(data)
    if arabic is not None:
        return DecodedHtml(arabic, arabic.count("\ufffd"))
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        if best is not None and best.encoding:
            return _replacing(data, normalize_charset(best.encoding) or best.encoding)
    except Exception:  # pragma: no cover - detection is best effort
        pass
    return _replacing(data, "cp1256")
