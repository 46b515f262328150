"""A scriptable HTTP test site on 127.0.0.1 for the tests: routes, request log, odd behaviours."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from flows.sample_site import QuietHTTPServer

Response = tuple[int, dict[str, str], bytes]
Handler = Callable[["Request"], Response | None]


@dataclass(frozen=True)
class Request:
    path: str  # path with query
    headers: dict[str, str]
    at: float  # time.monotonic() when it arrived


@dataclass
class LocalSite:
    routes: dict[str, Handler | Response] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        site = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                site.requests.append(req)
                route = site.routes.get(self.path) or site.routes.get(urlsplit(self.path).path)
                if route is None:
                    status, headers, body = 404, {"Content-Type": "text/html"}, b"<h1>not found</h1>"
                elif callable(route):
                    out = route(req)
                    if out is None:  # handler wrote the response itself
                        return
                    status, headers, body = out
                else:
                    status, headers, body = route
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_raw(self) -> None:
                pass

        self._server = QuietHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def html(body: str, status: int = 200, **headers: str) -> Response:
    return status, {"Content-Type": "text/html; charset=utf-8", **headers}, body.encode("utf-8")


def xml(body: str, ctype: str = "application/xml") -> Response:
    return 200, {"Content-Type": ctype}, body.encode("utf-8")
