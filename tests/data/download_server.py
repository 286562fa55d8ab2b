"""A fake download source on 127.0.0.1 for `avemotion download` tests: files by URL path, HTTP Range
requests (206, 416), and scripted faults per path (a dropped connection, HTTP 500, Ctrl-C mid-file).

Paths follow the mirror layout MIRROR/<host>/<path>, so one server stands in for Zenodo's record
API and files, GitHub's raw and LFS media endpoints and the EmoDB site (`--mirror server.url`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import threading
import time
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeSource:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        # path -> actions, one consumed per request: "500", "404", "drop:N" (send N bytes of the body,
        # then close), "sigint:N" (send N bytes, Ctrl-C this process, then close), "norange" (200, whole)
        self.faults: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.before_sigint = None  # called before a "sigint:N" fault sends the signal
        self.lock = threading.Lock()
        source = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                source._get(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fetched(self, suffix: str) -> list[str | None]:
        """The Range headers of the requests for paths ending with `suffix`."""
        return [rng for path, rng in self.requests if path.endswith(suffix)]

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(h.path).path)
        rng = h.headers.get("Range")
        with self.lock:
            self.requests.append((path, rng))
            actions = self.faults.get(path)
            action = actions.pop(0) if actions else None
        if path not in self.files or action == "404":
            h.send_error(404)
            return
        if action == "500":
            h.send_error(500, "scripted failure")
            return
        data = self.files[path]
        start = 0
        if rng and action != "norange":
            start = int(rng.split("=", 1)[1].split("-", 1)[0])
            if start >= len(data):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        body = data[start:]
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Accept-Ranges", "bytes")
        h.end_headers()
        if action and action.split(":")[0] in ("drop", "sigint"):
            kind, n = action.split(":")
            h.wfile.write(body[:int(n)])
            h.wfile.flush()
            if kind == "sigint":
                if self.before_sigint is not None:
                    self.before_sigint()  # e.g. until the client has written what it received
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C in the terminal does
                time.sleep(1.0)  # the main thread sets the stop flag before the client sees the drop
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            h.close_connection = True
            return
        h.wfile.write(body)


def zip_bytes(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A zip of `members` (name -> bytes) and symbolic links (name -> target), stored uncompressed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2018, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name, date_time=(2018, 1, 1, 0, 0, 0))
            info.external_attr = (0o120777 << 16)
            info.create_system = 3
            zf.writestr(info, target)
    return buf.getvalue()


def zenodo_record(record: str, files: dict[str, bytes], wrong_md5: tuple[str, ...] = ()) -> bytes:
    """A Zenodo-like record (GET /api/records/<id>): each file's key, size and "md5:..." checksum."""
    entries = []
    for key, data in files.items():
        md5 = hashlib.md5(data).hexdigest()
        if key in wrong_md5:
            md5 = hashlib.md5(data + b"x").hexdigest()
        entries.append({"id": key, "key": key, "size": len(data), "checksum": f"md5:{md5}",
                        "links": {"self": f"https://zenodo.org/api/records/{record}/files/{key}/content"}})
    return json.dumps({"id": int(record), "metadata": {"title": "fake"}, "files": entries}).encode()


def lfs_pointer(data: bytes) -> bytes:
    """The Git LFS pointer of `data`, as the repository holds it in place of the file."""
    return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\n"
            f"size {len(data)}\n").encode()
