"""A local SMTP sink for the benchmarks: accepts every message, keeps none, counts them.

Enough of RFC 5321 for Django's SMTP backend (``smtplib``): EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT. One thread per connection, on 127.0.0.1 and a free port; no dependency.
"""

from __future__ import annotations

import socketserver
import threading


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        self.server.sink.count("connections")
        self._reply("220 bench-sink ESMTP")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                self._reply("250-bench-sink")
                self._reply("250-8BITMIME")
                self._reply("250 SMTPUTF8")
            elif verb == b"DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                self.server.sink.count("messages")
                self._reply("250 OK: queued")
            elif verb == b"QUIT":
                self._reply("221 Bye")
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                self._reply("250 OK")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    sink: SmtpSink


class SmtpSink:
    """``with SmtpSink() as sink:`` — ``sink.url`` for ``EMAIL_URL``; ``sink.messages`` received."""

    def __init__(self) -> None:
        self.messages = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Session)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self.url = f"smtp://127.0.0.1:{self.port}"

    def count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def __enter__(self) -> SmtpSink:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
