"""A local HTTP server for the player: the page's files from ``web/`` plus the scene.

Standard library only. It binds 127.0.0.1 by default and serves nothing but the page's own
files, ``scene.json`` and ``scene.bin``.
"""

from __future__ import annotations

import mimetypes
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional

from ..errors import InputError

WEB = Path(__file__).parent / "web"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".json": "application/json", ".bin": "application/octet-stream", ".png": "image/png"}


def web_files() -> dict[str, Path]:
    """The page's files by URL path (``/index.html``, ``/main.js``, ...)."""
    return {f"/{p.name}": p for p in sorted(WEB.iterdir()) if p.is_file()}


def _handler(routes: dict[str, Callable[[], bytes]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server name)
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            if path == "/":
                path = "/index.html"
            body = routes.get(path)
            if body is None:
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            data = body()
            self.send_response(HTTPStatus.OK)
            suffix = Path(path).suffix
            self.send_header("Content-Type", TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args) -> None:  # quiet: the terminal shows the URL only
            pass

    return Handler


def site(meta_json: bytes, blob: bytes) -> dict[str, Callable[[], bytes]]:
    """URL path -> bytes: the page's files (read on each request) and the scene."""
    routes: dict[str, Callable[[], bytes]] = {path: file.read_bytes for path, file in web_files().items()}
    routes["/scene.json"] = lambda: meta_json
    routes["/scene.bin"] = lambda: blob
    return routes


class PlayerServer:
    """The player's HTTP server; ``url`` is known once constructed (port 0 picks a free one)."""

    def __init__(self, meta_json: bytes, blob: bytes, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            self.httpd = ThreadingHTTPServer((host, port), _handler(site(meta_json, blob)))
        except OSError as exc:
            raise InputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
        self.httpd.daemon_threads = True
        bound_host, bound_port = self.httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}/"

    def serve(self, open_browser: bool = False, on_ready: Optional[Callable[[str], None]] = None) -> None:
        """Serve until Ctrl-C (KeyboardInterrupt), then close the socket."""
        if on_ready:
            on_ready(self.url)
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(self.url,), daemon=True).start()
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.httpd.server_close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
