"""Starting the sandbox: `python -m infobip.sandbox [options]` and `manage.py sandbox`."""

import argparse
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from infobip.sandbox.server import SandboxHTTPServer

from infobip.sandbox import real_credentials_reason
from infobip.sandbox.config import ConfigError, add_arguments, config_from_options

log = logging.getLogger("infobip.sandbox")


class RefusedError(RuntimeError):
    """The sandbox must not start (real credentials configured, or bad options)."""


def settings_values() -> dict[str, str]:
    """The Infobip settings the sandbox needs, from Django settings (config.settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return {
            "base_url": settings.INFOBIP_BASE_URL,
            "api_key": settings.INFOBIP_API_KEY,
            "sandbox_key": settings.INFOBIP_SANDBOX_API_KEY,
            "inbound_number": settings.INFOBIP_WHATSAPP_SENDER,
        }
    except ImproperlyConfigured as exc:
        raise RefusedError(f"cannot read Herald's settings: {exc}") from exc


def build(options: dict[str, Any], values: dict[str, str]) -> "SandboxHTTPServer":
    """The HTTP server for `options` (parsed flags), after the real-credentials check."""
    from infobip.sandbox.persistence import Persistence
    from infobip.sandbox.server import Sandbox, SandboxHTTPServer

    reason = real_credentials_reason(values["base_url"], values["api_key"], values["sandbox_key"])
    if reason:
        raise RefusedError(
            f"refusing to start the Infobip sandbox: {reason}. The sandbox is for development "
            "without an Infobip account; unset INFOBIP_BASE_URL and INFOBIP_API_KEY to use it."
        )
    try:
        config = config_from_options(options)
    except ConfigError as exc:
        raise RefusedError(f"bad sandbox option: {exc}") from exc
    key = options.get("api_key") or values["sandbox_key"]
    persistence = Persistence(options["state_db"]) if options.get("state_db") else None
    sandbox = Sandbox(config, key, values["inbound_number"], persistence)
    return SandboxHTTPServer((options.get("host") or "127.0.0.1", int(options["port"])), sandbox)


class _Out(Protocol):
    """Where serve prints: a text stream (stdout, a command's OutputWrapper)."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def serve(options: dict[str, Any], out: _Out = sys.stdout) -> None:
    """Run until interrupted."""
    server = build(options, settings_values())
    host, port = server.server_address[:2]
    if isinstance(host, bytes):  # an AF_UNIX-style address; a TCP server's host is a str
        host = host.decode()
    print(
        f"Infobip sandbox on http://{host}:{port}/ — Sandbox: no real messages are sent "
        f"(reports after {server.sandbox.config.push_delay}s; control API at /_sandbox/)",
        file=out,
        flush=True,
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # honcho stops processes with SIGTERM
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.sandbox.reporter.stop()
        if server.sandbox.persistence is not None:
            server.sandbox.persistence.close()
        server.server_close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m infobip.sandbox`."""
    parser = argparse.ArgumentParser(
        prog="python -m infobip.sandbox", description="Local fake of Infobip's HTTP API."
    )
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        serve(options)
    except RefusedError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot listen on port {options['port']}: {exc}", file=sys.stderr)
        return 2
    return 0
