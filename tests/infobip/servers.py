"""Real loopback servers for what `responses` cannot fake: timeouts and dropped connections."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RawServer:
    """Accepts TCP connections on 127.0.0.1 and, per `mode`, never answers or hangs up.

    `hang`: read the request and say nothing (the client's read timeout fires).
    `drop`: read the request and close the socket (the connection drops before an answer).
    `script`: answer each connection with the next raw HTTP response in `answers`.
    """

    def __init__(self, mode: str, answers: list[bytes] | None = None) -> None:
        self.mode = mode
        self.answers = list(answers or [])
        self.requests: list[bytes] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def connections(self) -> int:
        return len(self.requests)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._open.append(conn)
            conn.settimeout(2)
            self.requests.append(_read_request(conn))
            if self.mode == "drop":
                conn.close()
            elif self.mode == "script":
                answer = self.answers.pop(0) if self.answers else _http(500, b"{}")
                conn.sendall(answer)
                conn.close()

    def __enter__(self) -> "RawServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._open:
            conn.close()
        self._listener.close()


def _read_request(conn: socket.socket) -> bytes:
    """Read one whole HTTP request (headers and Content-Length body)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    except OSError:
        return data


def _http(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def http_answer(status: int, body: bytes = b"{}", **headers: str) -> bytes:
    """A raw HTTP/1.1 response for RawServer's `script` mode."""
    return _http(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (connection refused)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    yield port
