"""A static web server for the bundled sample news site (samples/site), on a free loopback port.

Text files may contain the placeholder `{{BASE}}`, replaced when served with the base URL the client asked for
(its Host header: `localhost:8000` or the machine's name work as well as 127.0.0.1), so feeds, sitemaps and
canonical links hold absolute URLs wherever the site runs. To browse it or point another tool at it:

    python -m flows.sample_site [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import contextlib
import mimetypes
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SITE = REPO_ROOT / "samples" / "site"
PLACEHOLDER = b"{{BASE}}"
_TYPES = {".xml": "application/xml", ".txt": "text/plain; charset=utf-8", ".html": "text/html; charset=utf-8"}
# A Host header fit to be written into the pages as their base (a name or address, an optional port).
_HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


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
                body = target.read_bytes().replace(PLACEHOLDER, site.base_for(self.headers.get("Host")).encode())
                ctype = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = QuietHTTPServer((host, port), Handler)
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="sample-site")

    def base_for(self, host_header: str | None) -> str:
        """The base URL of the site as the client reached it (its Host header), else the one it listens on."""
        if host_header and _HOST_HEADER.fullmatch(host_header.strip()):
            return f"http://{host_header.strip()}"
        return self.base_url

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in the foreground)."""
        self._thread.join()

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


def main(argv: list[str] | None = None) -> int:
    """Serve the sample site in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m flows.sample_site",
                                     description="Serve the bundled sample news site (samples/site).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free port)")
    args = parser.parse_args(argv)
    site = StaticSite(host=args.host, port=args.port)
    with site:
        print(f"serving the sample site at {site.base_url}/ (feed {site.base_url}/rss.xml); Ctrl-C stops",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            site.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
