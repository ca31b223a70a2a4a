"""A real webhook receiver on 127.0.0.1, in a thread of the test process.

It records every POST it gets (headers, raw body, whether the signature
checks out with the secret it was given) and answers as told, one planned
answer per request: an HTTP status, "close" (reads the request, then hangs
up without a word) or "hang" (reads it, then says nothing until the receiver
stops). With no plan left it answers `default`. stop() and start() again
keep the port, so "the receiver is down" is a real refused connection."""

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLOSE = "close"
HANG = "hang"
# A hanging answer is released at the latest after this (or at stop()).
HANG_SECONDS = 30


@dataclass(frozen=True)
class Received:
    headers: dict
    body: bytes
    signature_ok: bool
    answer: object  # the status it answered, or CLOSE / HANG

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers.get("X-Dchweb-Delivery", "")


class Receiver:
    def __init__(self, secret: str, default=200):
        self.secret = secret
        self.default = default
        self.received: list[Received] = []
        self._plan: list = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = None
        self._thread = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/dchweb"

    def plan(self, *answers) -> None:
        """The answers to the next requests, in order."""
        with self._lock:
            self._plan.extend(answers)

    def start(self) -> "Receiver":
        self._released.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        self._server = None

    def delivered(self) -> list[Received]:
        """What it received and answered with a 2xx."""
        return [
            r for r in self.received if isinstance(r.answer, int) and r.answer < 300
        ]

    def _next_answer(self):
        with self._lock:
            return self._plan.pop(0) if self._plan else self.default

    def _record(self, headers, body, answer) -> None:
        expected = (
            "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        )
        given = headers.get("X-Dchweb-Signature", "")
        with self._lock:
            self.received.append(
                Received(
                    dict(headers), body, hmac.compare_digest(expected, given), answer
                )
            )

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                answer = receiver._next_answer()
                receiver._record(self.headers, body, answer)
                if answer == HANG:
                    receiver._released.wait(HANG_SECONDS)
                if answer in (CLOSE, HANG):
                    self.close_connection = True
                    return
                self.send_response(answer)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if answer < 300 else b"receiver says no")

            def log_message(self, *args):
                pass

        return Handler
