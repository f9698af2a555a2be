"""The benchmark's HTTP load generator, against a plain HTTP server in a thread (no broker)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from shopstream.bench.harness import http_load


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn answers
    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).served.append(self.path)
        body = b"{}" if self.path.startswith("/ok") else b"no"
        self.send_response(200 if self.path.startswith("/ok") else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    _Handler.served = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_path_is_requested_once_and_timed(url: str) -> None:
    paths = [f"/ok?q={i}" for i in range(40)]
    times, rps = http_load(url, paths, clients=4)
    assert sorted(_Handler.served) == sorted(paths)
    assert len(times) == 40 and all(t > 0 for t in times) and rps > 0


def test_an_error_answer_fails_the_run(url: str) -> None:
    with pytest.raises(RuntimeError, match="404"):
        http_load(url, ["/ok", "/missing"], clients=1)
