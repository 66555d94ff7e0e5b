"""The sandbox's HTTP server: routing, `App` key auth, spec validation and fault injection.

See the package docstring for why this is the standard library's ThreadingHTTPServer.
"""

import contextlib
import copy
import logging
import random
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from infobip.openapi import Violation
from infobip.sandbox import api, control
from infobip.sandbox.config import Config
from infobip.sandbox.errors import LEGACY, V3, Response, error
from infobip.sandbox.persistence import Persistence
from infobip.sandbox.reports import Reporter
from infobip.sandbox.state import Message, Store
from infobip.sandbox.validation import RequestValidator, request_validator

log = logging.getLogger("infobip.sandbox")


@dataclass
class Request:
    """One parsed request: path parameters, query arguments and the (JSON) body."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    body_json: Any = None

    def args(self, name: str) -> list[str]:
        """Every value of query argument `name` (repeated or comma-separated)."""
        return [v for raw in self.query.get(name, []) for v in raw.split(",") if v]

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Route:
    method: str
    regex: re.Pattern[str]
    handler: Any
    envelope: str
    is_send: bool
    is_control: bool
    validator: RequestValidator | None


def _routes() -> list[Route]:
    routes = []
    for group, is_control in ((api.ROUTES, False), (control.ROUTES, True)):
        for method, template, handler, envelope, is_send in group:
            has_body = template not in api.NO_BODY
            regex = re.compile(
                "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "/?$"
            )
            validator = None
            if method == "POST" and not is_control and has_body:
                validator = request_validator(method.lower(), template)
            routes.append(Route(method, regex, handler, envelope, is_send, is_control, validator))
    return routes


class Sandbox:
    """The whole fake Infobip: options, memory, reports and the routes that use them."""

    def __init__(
        self,
        config: Config,
        api_key: str,
        inbound_number: str = "447860099299",
        persistence: Persistence | None = None,
    ) -> None:
        self.config = config
        self.startup_config = copy.deepcopy(config)
        self.api_key = api_key
        self.inbound_number = inbound_number
        self.store = Store()
        self.reporter = Reporter(self.store, config)
        self.routes = _routes()
        self._rng = random.Random()
        self.generation = 0  # bumped by reset()
        self.persistence = persistence
        if persistence is not None:
            stored = persistence.load()
            self.store.load(stored)
            unreported = [m for m in stored if m.state != "final"]
            if unreported:
                self.reporter.schedule(unreported)
            self.reporter.on_final = persistence.finalized

    def accept(self, messages: list[Message], not_before: float | None = None) -> None:
        """Record accepted messages and plan their reports."""
        self.store.add(messages, self.config)
        if self.persistence is not None:
            self.persistence.added(messages)
        self.reporter.schedule(messages, not_before=not_before)

    def reset(self) -> None:
        # Requests in flight (a slow answer) belong to before the reset: they must not land in
        # the state that follows it (a test's counts would include the previous test's batch).
        self.generation += 1
        self.reporter.clear()
        self.store.reset()
        if self.persistence is not None:
            self.persistence.reset()
        self.config.__dict__.update(copy.deepcopy(self.startup_config).__dict__)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, whether the path exists under another method)."""
        exists = False
        for route in self.routes:
            found = route.regex.match(path)
            if found:
                if route.method == method:
                    return route, found.groupdict(), True
                exists = True
        return None, {}, exists

    def handle(
        self, method: str, raw_path: str, headers: Any, body: bytes
    ) -> tuple[Response, bool]:
        """The response to one request, and whether to drop the connection instead of answering."""
        split = urlsplit(raw_path)
        route, params, exists = self.match(method, split.path)
        v3 = split.path.startswith(("/sms/3/", "/messages-api/", "/_sandbox/"))
        envelope = V3 if v3 else LEGACY
        self.store.count("requests")
        if route is None:
            return error(envelope, 405 if exists else 404), False
        if headers.get("Authorization", "") != f"App {self.api_key}":
            self.store.count("rejected_401")
            return error(route.envelope, 401), False
        drop = False
        if not route.is_control:
            generation = self.generation
            fault, drop = self._fault(route)
            if fault is not None:
                return fault, False
            if generation != self.generation:
                return error(route.envelope, 503), False  # reset while this one waited
        req = Request(method, split.path, parse_qs(split.query), body, params)
        if method == "POST" and body:
            try:
                req.body_json = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                self.store.count("rejected_400")
                return error(route.envelope, 400, [Violation("", f"Malformed JSON: {exc}")]), drop
        if route.validator is not None:
            found = route.validator.violations(req.body_json)
            if found:
                self.store.count("rejected_400")
                return error(route.envelope, 400, found), drop
        return route.handler(self, req), drop

    def _fault(self, route: Route) -> tuple[Response | None, bool]:
        """An injected 429/5xx answer (or None), and whether to drop after reading."""
        cfg = self.config
        if cfg.slow_ms and self._rng.random() < cfg.slow_rate:
            self.store.count("fault_slow")
            time.sleep(cfg.slow_ms / 1000)
        r = self._rng.random()
        if r < cfg.rate_429:
            self.store.count("fault_429")
            headers: dict[str, str] = {}
            if self._rng.random() < cfg.retry_after_share:
                headers["Retry_After"] = str(cfg.retry_after_seconds)
            return error(route.envelope, 429, (), **headers), False
        if r < cfg.rate_429 + cfg.rate_5xx:
            self.store.count("fault_5xx")
            return error(route.envelope, self._rng.choice((500, 502, 503))), False
        if route.is_send and r < cfg.rate_429 + cfg.rate_5xx + cfg.drop_after_read:
            self.store.count("fault_dropped")
            return None, True
        return None, False


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every method goes through Sandbox.handle."""

    protocol_version = "HTTP/1.1"
    server_version = "InfobipSandbox/1.0"
    server: "SandboxHTTPServer"  # the only server that serves this handler
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            response, drop = self.server.sandbox.handle(self.command, self.path, self.headers, body)
        except Exception:
            log.exception("sandbox request failed: %s %s", self.command, self.path)
            response, drop = error(V3, 500), False
        if drop:
            # The request was read and its messages accepted; the caller never learns that.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = orjson.dumps(response.body) if response.body is not None else b""
        self.send_response(response.status)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-request (timeouts, dropped keep-alive) is not an error here.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        log.exception("sandbox connection from %s failed", client_address)
