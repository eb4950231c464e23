"""A TCP proxy on a loopback port whose connections a test can cut, and whose door it can close.

Put it between a client (the CLI, a browser) and a server to drop connections mid-stream as a
flaky network or a restarting proxy would: ``cut()`` resets every open connection, ``refuse()``
makes new ones fail until ``accept()``. The server itself notices nothing but a client gone.
``requests`` lists the requests that went through (their first line and ``Last-Event-ID``).
"""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType
from typing import Self

from tests.support.servers import free_port

__all__ = ["CutProxy"]


class CutProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target_port``; use as a context manager."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        """Client connections accepted so far (refused ones included)."""
        self.requests: list[tuple[str, str | None]] = []
        """Each request forwarded: its request line and its Last-Event-ID header (None without one)."""
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._refusing = False
        self._closed = False
        threading.Thread(target=self._accept, name="cut-proxy", daemon=True).start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def cut(self) -> int:
        """Reset every open connection (both sides); returns how many client connections were open."""
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            _reset(sock)
        return len(sockets) // 2

    def refuse(self) -> None:
        """Reset new connections at once (as if the server were away), and cut the open ones."""
        self._refusing = True
        self.cut()

    def accept(self) -> None:
        """Forward new connections again."""
        self._refusing = False

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            if self._refusing:
                _reset(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            pumping = [2]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink, pumping), daemon=True).start()

    def _note_request(self, data: bytes) -> None:
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        if not head[0].split(" ", 1)[0].isupper() or not head[0].endswith(("HTTP/1.1", "HTTP/1.0")):
            return  # a request body, not a request
        headers = dict(line.lower().split(":", 1) for line in head[1:] if ":" in line)
        last = headers.get("last-event-id")
        self.requests.append((head[0], last.strip() if last is not None else None))

    def _pump(self, source: socket.socket, sink: socket.socket, pumping: list[int]) -> None:
        """Copy one direction; the connection closes once both directions ended (or one failed)."""
        failed = False
        from_client = source.getsockname()[1] == self.port
        try:
            while data := source.recv(65536):
                if from_client:
                    self._note_request(data)
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            failed = True
        with self._lock:
            pumping[0] -= 1
            done = (failed or pumping[0] == 0) and source in self._open
            if done:
                self._open.discard(source)
                self._open.discard(sink)
        if done:
            source.close()
            sink.close()


def _reset(sock: socket.socket) -> None:
    """End the connection at once, with RST where it can (SO_LINGER 0), as a failed network would.

    A thread blocked reading the socket keeps it alive through ``close`` alone; ``shutdown`` wakes
    it, so the peer learns of the cut now.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
