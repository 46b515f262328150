"""A static web server for the bundled sample news site (samples/site), on a free loopback port.

Text files may contain the placeholder `{{BASE}}`, replaced with the server's base URL when served, so feeds
and sitemaps hold absolute URLs wherever the site runs.
"""

from __future__ import annotations

import mimetypes
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SITE = REPO_ROOT / "samples" / "site"
PLACEHOLDER = b"{{BASE}}"
_TYPES = {".xml": "application/xml", ".txt": "text/plain; charset=utf-8", ".html": "text/html; charset=utf-8"}


class QuietHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print tracebacks for clients hanging up early (crawlers that hit
    a size cap or a deadline do exactly that)."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class StaticSite:
    """`with StaticSite(root) as site:` serves `root` at `site.base_url` until the block ends."""

    def __init__(self, root: Path = SAMPLE_SITE, host: str = "127.0.0.1", port: int = 0) -> None:
        if not root.is_dir():
            raise FileNotFoundError(f"sample site not found at {root}")
        self.root = root.resolve()
        self.requests: list[str] = []  # paths requested, in order
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                path = unquote(urlsplit(self.path).path)
                site.requests.append(path)
                target = (site.root / path.lstrip("/")).resolve()
                if target.is_dir():
                    target = target / "index.html"
                if site.root not in target.parents or not target.is_file():
                    self.send_error(404)
                    return
                body = target.read_bytes().replace(PLACEHOLDER, site.base_url.encode())
                ctype = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = QuietHTTPServer((host, port), Handler)
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="sample-site")

    def __enter__(self) -> StaticSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sources_toml(self, name: str = "sample-news") -> str:
        """A sources.toml for this site with politeness delays off (it is local)."""
        return (
            f'[[sources]]\nname = "{name}"\nhomepage = "{self.base_url}/"\nfeeds = ["{self.base_url}/rss.xml"]\n'
            f"sitemaps = []\nmax_articles = 200\nrequests_per_second = 0\nmax_concurrency = 4\n"
            f'timezone = "Asia/Riyadh"\n'
        )
