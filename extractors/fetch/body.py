"""Response bodies read defensively: content types, bounded Content-Encoding decoding, the size cap while
streaming, and sniffing of binary data labelled as text. Nothing here touches the network."""

from __future__ import annotations

import zlib
from typing import Protocol

from extractors.fetch.errors import FetchError

HTML_TYPES = ("text/html", "application/xhtml+xml")
XML_TYPES = (
    "application/xml", "text/xml", "application/rss+xml", "application/atom+xml", "application/rdf+xml",
    "application/x-gzip", "application/gzip", "text/plain", "application/octet-stream",
)
SNIFF_BYTES = 1024

_MAGIC = (
    (b"%PDF-", "PDF"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"PK\x03\x04", "ZIP"), (b"PK\x05\x06", "ZIP"),
    (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"\xff\xd8\xff", "JPEG"), (b"\x1f\x8b", "gzip"),
    (b"\x7fELF", "ELF"), (b"7z\xbc\xaf\x27\x1c", "7z"), (b"Rar!\x1a\x07", "RAR"), (b"OggS", "Ogg"),
    (b"ID3", "MP3"), (b"\x1aE\xdf\xa3", "WebM"), (b"\x00\x00\x01\x00", "ICO"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "MS Office"), (b"wOFF", "WOFF"), (b"wOF2", "WOFF2"),
)


def media_type(content_type: str | None) -> str:
    """`text/html` from `text/HTML; charset=utf-8`; empty when there is no content type."""
    return (content_type or "").split(";")[0].strip().lower()


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, lower case, or None."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


def sniff_binary(head: bytes) -> str | None:
    """Name of the binary format `head` (the first bytes of a body) starts with, or None if it may be text.

    Recognises common magic numbers and NUL-filled data; UTF-16/32 text (NULs in one byte lane only, or a
    byte order mark) is not binary.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return None
    for magic, name in _MAGIC:
        if name and head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return head[8:12].decode().strip()
    if head[4:8] == b"ftyp":
        return "MP4"
    sample = head[:SNIFF_BYTES]
    nul = sample.count(0)
    if nul >= max(8, len(sample) // 64):
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if even and odd:  # UTF-16 text has its NULs in one byte lane only
            return "NUL bytes"
    return None


def refuse_binary(head: bytes, media: str, status: int) -> None:
    """Raise FetchError when `head` is binary data, whatever content type it was labelled with."""
    what = sniff_binary(head)
    if what is not None:
        raise FetchError(f"skipped: binary content labelled {media or 'with no content type'} ({what})", status)


class _Decompressor(Protocol):
    def decompress(self, data: bytes, max_length: int = ..., /) -> bytes: ...

    def flush(self, length: int = ..., /) -> bytes: ...


class BoundedDecoder:
    """Content-Encoding decoding whose output per call is capped, so a compression bomb never inflates."""

    def __init__(self, header: str | None) -> None:
        codings = [c.strip().lower() for c in (header or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self._raw_deflate_fallback = False
        self._d: _Decompressor | None
        if not codings:
            self._d = None
        elif codings in (["gzip"], ["x-gzip"]):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif codings == ["deflate"]:
            self._d = zlib.decompressobj()
            self._raw_deflate_fallback = True  # some servers send raw deflate without the zlib header
        else:
            raise FetchError(f"bad content encoding: unsupported Content-Encoding {header!r}")

    def decode(self, data: bytes, max_out: int) -> bytes:
        """Up to `max_out` (>= 1) bytes of output; more output pending means the body is over the cap."""
        if self._d is None:
            return data
        try:
            try:
                out = self._d.decompress(data, max_out)
            except zlib.error:
                if not self._raw_deflate_fallback:
                    raise
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._d.decompress(data, max_out)
            self._raw_deflate_fallback = False
            return out
        except zlib.error as exc:
            raise FetchError(f"bad content encoding: {exc}") from None

    def flush(self, max_out: int) -> bytes:
        if self._d is None:
            return b""
        try:
            return self._d.flush(max_out)
        except zlib.error as exc:
            raise FetchError(f"bad content encoding: {exc}") from None


class BodyCollector:
    """Collects decoded chunks up to `limit` bytes; with `sniff`, refuses binary data once the head is in.

    With `truncate` a longer body is cut at `limit` (robots.txt: RFC 9309 reads at least the first 500 KiB)."""

    def __init__(self, limit: int, *, media: str, status: int, sniff: bool, truncate: bool = False) -> None:
        self.limit = limit
        self.media = media
        self.status = status
        self.truncate = truncate  # keep the first `limit` bytes of a longer body instead of refusing it
        self.full = False  # with `truncate`: the cap is reached, read no more
        self._chunks: list[bytes] = []
        self._size = 0
        self._sniffed = not sniff

    def room(self) -> int:
        """Most output to ask the decoder for: one byte over the cap, so an oversized body shows."""
        return self.limit - self._size + 1

    def add(self, data: bytes) -> None:
        if self.truncate and self._size + len(data) >= self.limit:
            data = data[: self.limit - self._size]
            self.full = True
        self._size += len(data)
        if self._size > self.limit:
            raise FetchError(f"too large: body over the {self.limit} byte cap", self.status)
        if data:
            self._chunks.append(data)
        if not self._sniffed and self._size >= SNIFF_BYTES:
            self._sniffed = True
            refuse_binary(b"".join(self._chunks)[:SNIFF_BYTES], self.media, self.status)

    def finish(self) -> bytes:
        """The whole body (a body shorter than the sniffed head is sniffed now)."""
        if not self._sniffed:
            refuse_binary(b"".join(self._chunks), self.media, self.status)
        return b"".join(self._chunks)
