"""Canonical URLs and article ids.

The canonical form (docs/ARCHITECTURE.md, section 3) is an IRI: percent-encoding is decoded where the bytes
are valid UTF-8 and the character is not reserved, so `/%D8%B3%D9%88%D8%B1%D9%8A%D8%A7` and `/سوريا` are the
same article. Tracking parameters, fragments, default ports and trailing slashes are removed; scheme and host
are lower-cased.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048

# Query parameters that only track where a click came from; they never select content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "ref_src", "ref_url", "cmpid", "ocid", "ito", "at_medium", "at_campaign", "spm",
        "__twitter_impression", "smid", "xtor",
    }
)
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_")

# Characters whose percent-encoding must stay, because decoding them changes what the URL means.
_KEEP_ENCODED = set(":/?#[]@!$&'()*+,;=% \"<>\\^`{|}")
_PCT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


class BadURL(ValueError):
    """A URL that cannot be fetched (wrong scheme, no host, too long, malformed)."""


def _decode_percent_run(match: re.Match[str]) -> str:
    run = match.group(0)
    raw = bytes(int(run[i + 1 : i + 3], 16) for i in range(0, len(run), 3))
    out: list[str] = []
    i = 0
    while i < len(raw):
        # Find the longest valid UTF-8 sequence starting at i (1..4 bytes).
        for width in (1, 2, 3, 4):
            chunk = raw[i : i + width]
            try:
                ch = chunk.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1 and ch not in _KEEP_ENCODED and ch.isprintable():
                out.append(ch)
            else:
                out.append("".join(f"%{b:02X}" for b in chunk))
            i += width
            break
        else:
            out.append(f"%{raw[i]:02X}")
            i += 1
    return "".join(out)


def _iri_component(part: str) -> str:
    return _PCT_RUN.sub(_decode_percent_run, part)


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k in TRACKING_PARAMS or k.startswith(TRACKING_PREFIXES)


_USERINFO = re.compile(r"^(\s*[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@")


def without_userinfo(url: str) -> str:
    """`url` with any `user:password@` removed, for anything stored or logged (works on invalid URLs too).
    akhbar never sends such credentials: canonical URLs have none."""
    return _USERINFO.sub(r"\1", url)


def canonical_url(url: str) -> str:
    """Return the canonical IRI form of an http(s) URL, or raise BadURL."""
    if not isinstance(url, str):
        raise BadURL("URL must be a string")
    url = url.strip()
    if not url:
        raise BadURL("empty URL")
    if len(url) > MAX_URL_LENGTH:
        raise BadURL(f"URL longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise BadURL("URL contains control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadURL(f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadURL(f"unsupported scheme {parts.scheme!r} (only http and https)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise BadURL("URL has no host")
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError:
        raise BadURL(f"invalid host name {parts.hostname!r}") from None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if port is not None and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{host}:{port}"
    path = _iri_component(parts.path) or "/"
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query_pairs = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query = _iri_component(urlencode(query_pairs, safe=":/@!$'()*,;")) if query_pairs else ""
    return urlunsplit((scheme, netloc, path, query, ""))


def article_id(canonical: str) -> str:
    """Hex SHA-256 of the canonical URL (callers pass canonical_url(url))."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def to_request_url(iri: str) -> str:
    """Percent-encode an IRI's non-ASCII characters so it can go on the wire."""
    from urllib.parse import quote

    parts = urlsplit(iri)
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="=&%:/@!$'()*+,;-._~?")
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def host_of(url: str) -> str:
    """Host (with non-default port) used as the politeness key."""
    parts = urlsplit(url)
    return parts.netloc.lower()


# -- <link rel=canonical> ------------------------------------------------------------------------------------
CANONICAL_SCAN_BYTES = 256 * 1024  # canonical links live in <head>; never scan a whole huge page
_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_HEAD_END = re.compile(r"<body\b|</head\s*>", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _link_attrs(tag: str) -> dict[str, str]:
    import html as _html

    body = tag[5:-1]  # between "<link" and ">"
    attrs: dict[str, str] = {}
    for m in _ATTR.finditer(body):
        name = m.group(1).lower()
        if name not in attrs:
            value = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
            attrs[name] = _html.unescape(value or "")
    return attrs


def registrable_domain(host: str) -> str:
    """The registrable domain of a host name (`news.bbc.co.uk` -> `bbc.co.uk`), by the Public Suffix List
    bundled with the `tld` package; IP literals and unknown suffixes come back unchanged."""
    h = host.lower().strip("[]").rstrip(".")
    try:
        ipaddress.ip_address(h)
        return h
    except ValueError:
        pass
    try:
        from tld import get_fld

        fld = get_fld(h, fix_protocol=True, fail_silently=True)
    except Exception:
        fld = None
    return fld.lower() if fld else h


def canonical_from_html(html_head: bytes | str, page_url: str) -> str | None:
    """The canonical URL a page declares with `<link rel="canonical" href=...>`, canonicalised, or None.

    Only a link on the same host or the same registrable domain counts (a page cannot claim to be another
    site's article); a link to the site's homepage is ignored (a common CMS mistake that would merge every
    article into one); two different canonical links are ignored as ambiguous. Relative links are resolved
    against `page_url`. Only the document head (at most CANONICAL_SCAN_BYTES) is read.
    """
    from urllib.parse import urljoin

    if isinstance(html_head, bytes):
        text = html_head[:CANONICAL_SCAN_BYTES].decode("utf-8", errors="replace")
    else:
        text = html_head[:CANONICAL_SCAN_BYTES]
    end = _HEAD_END.search(text)
    if end:
        text = text[: end.start()]
    text = _COMMENT.sub(" ", text)
    try:
        page = canonical_url(page_url)
    except BadURL:
        return None
    page_host = urlsplit(page).hostname or ""
    found: set[str] = set()
    for tag in _LINK_TAG.findall(text):
        attrs = _link_attrs(tag)
        rels = attrs.get("rel", "").lower().split()
        href = attrs.get("href", "").strip()
        if "canonical" not in rels or not href:
            continue
        try:
            url = canonical_url(urljoin(page, href))
        except (BadURL, ValueError):
            continue
        found.add(url)
    if len(found) != 1:
        return None
    url = found.pop()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host != page_host and registrable_domain(host) != registrable_domain(page_host):
        return None
    if parts.path in ("", "/") and not parts.query:
        return None  # the homepage: never an article's canonical
    return url
