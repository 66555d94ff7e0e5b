"""Processes and databases for the benchmarks and drills: PostgreSQL, Redis, sandbox, worker, web.

Everything here is loopback only and owned by the run: the databases are named `herald_bench*`
(created, migrated and dropped by the run), the Redis database is 13 (bench) or 14 (drill), and
every process is started in its own session and stopped by its id in a `finally`.
"""

import contextlib
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SANDBOX_KEY = "bench-sandbox-key"
WEBHOOK_TOKEN = "bench-webhook-token-" + "x" * 24
TEXT = "Hi {{first_name}}, our spring offers start today: 20% off for you."


def server_url() -> str:
    """The PostgreSQL server of DATABASE_URL (make bench passes the test server's)."""
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:54329/herald")
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("the benchmarks need PostgreSQL: set DATABASE_URL=postgres://...")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def db_url(name: str) -> str:
    return f"{server_url()}/{name}"


def broker_url(db: int) -> str:
    """CELERY_BROKER_URL's Redis server, on our own database number."""
    url = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6399/0")
    parts = urlsplit(url)
    if not parts.scheme.startswith("redis"):
        raise SystemExit("the benchmarks need Redis: set CELERY_BROKER_URL=redis://...")
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def pg(
    statement: str | sql.Composable,
    db: str = "postgres",
    fetch: bool = False,
    params: Sequence[Any] | None = None,
) -> Any:
    """Run one statement on the server as the admin connection (autocommit)."""
    import psycopg

    with psycopg.connect(db_url(db), autocommit=True) as conn:
        cur = conn.execute(statement, params)  # type: ignore[arg-type]
        return cur.fetchall() if fetch else None


def create_db(name: str) -> str:
    """A fresh, migrated database `name`; returns its URL."""
    assert name.startswith("herald_bench"), name
    drop_db(name)
    pg(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = db_url(name)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=django_env(url, broker_url(13)),
        check=True,
    )
    return url


def drop_db(name: str) -> None:
    assert name.startswith("herald_bench"), name
    pg(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def db_exists(name: str) -> bool:
    return bool(pg("SELECT 1 FROM pg_database WHERE datname = %s", fetch=True, params=[name]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def django_env(database_url: str, broker: str, **extra: Any) -> dict[str, str]:
    """Environment for a Herald process (worker, web, management command) on our resources."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "HERALD_READ_DOTENV": "false",
        "DEBUG": "false",
        "SECRET_KEY": "bench-secret-key-not-for-production-" + "y" * 20,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "INFOBIP_BASE_URL": "",
        "INFOBIP_API_KEY": "",
        "INFOBIP_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "INFOBIP_SANDBOX_API_KEY": SANDBOX_KEY,
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "WHATSAPP_TEMPLATE_SYNC_INTERVAL": "0",
        # No collectstatic in a bench run: pages link plain static names.
        "HERALD_STATIC_MANIFEST": "false",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def setup_django(database_url: str, broker: str, **extra: Any) -> None:
    """Configure this process's Django on our database (call before importing models)."""
    os.environ.update(django_env(database_url, broker, **extra))
    import django

    django.setup()


# --- processes ----------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_hwm_mb(pid: int) -> tuple[float, dict[int, float]]:
    """Sum of each process's own peak RSS (VmHWM) over `pid` and its descendants, in MB."""
    per, todo = {}, [pid]
    while todo:
        p = todo.pop()
        per[p] = _status_kb(p, "VmHWM") / 1024
        todo += _children(p)
    return round(sum(per.values()), 1), {k: round(v, 1) for k, v in per.items()}


def children_cpu_s(pid: int) -> float:
    """CPU time (user + system, s) used so far by the direct children of `pid` (a pool's)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for child in _children(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # Fields after the ")" that ends the command name: utime and stime are 12th, 13th.
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return round(total / tick, 2)


def tree_pss_mb(pid: int) -> float:
    """Sum of the proportional set size (shared pages split between sharers) of a process tree."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
        todo += _children(p)
    return round(total / 1024, 1)


class PssSampler(threading.Thread):
    """Samples tree_pss_mb(pid) every `interval` s; `.peak` is the largest sum seen."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.peak = max(self.peak, tree_pss_mb(self.pid))
            self.halt.wait(self.interval)

    def stop(self) -> float:
        self.halt.set()
        self.join()
        return self.peak


class Process:
    """A subprocess in its own session, stopped (by its own id) at the end."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self, ready: bytes | None = None, timeout: float = 60) -> "Process":
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if ready is None:
            return self
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            with self.log.open("rb") as fh:
                fh.seek(offset)
                if ready in fh.read():
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return bool(self.proc and self.proc.poll() is None)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the main process (celery then stops its pool warmly), else SIGKILL all."""
        if not self.alive:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):  # stragglers of the group, if any
            os.killpg(self.proc.pid, signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def worker(
    env: dict[str, str],
    log: Path,
    include: str = "",
    concurrency: int = 2,
    name: str = "",
    queues: str = "",
    loglevel: str = "warning",
) -> Process:
    """`celery -A config worker -c 2` (prefork), started and ready; `name` is its -n node name,
    `queues` its -Q (default: every queue, as `make run`)."""
    args = [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "worker",
        "-l",
        loglevel,
        "-c",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "-n",
        name or f"bench-{uuid.uuid4().hex[:8]}@%h",
    ]
    if include:
        args += ["-I", include]
    if queues:
        args += ["-Q", queues]
    # At -l warning celery prints no "ready." line: wait for the pool children instead.
    proc = Process("worker", args, env, log).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not proc.alive:
            raise RuntimeError(f"worker exited early:\n{proc.tail()}")
        if len(_children(proc.pid)) >= concurrency:
            time.sleep(1.0)  # the consumer connects after the pool is up
            return proc
        time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"worker not ready:\n{proc.tail()}")


def gunicorn(env: dict[str, str], port: int, log: Path, access_log: Path) -> Process:
    """`gunicorn config.wsgi -k gthread -w 2 --threads 4` on loopback (as docs/DEPLOYMENT.md).

    Threads, because a webhook request mostly waits on PostgreSQL and Redis: with two sync
    workers and Infobip pushing four at a time, a push queued behind others (p50 28 → 11 ms).
    The access log records each request's time.
    """
    args = [
        str(VENV_BIN / "gunicorn"),
        "config.wsgi",
        "-k",
        "gthread",
        "-w",
        "2",
        "--threads",
        "4",
        "-b",
        f"127.0.0.1:{port}",
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        "%(s)s %(D)s %(U)s",
        "--timeout",
        "120",
    ]
    proc = Process("gunicorn", args, env, log).start(ready=b"Booting worker", timeout=60)
    wait_http(f"http://127.0.0.1:{port}/healthz/")
    return proc


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


class Sandbox:
    """`python -m infobip.sandbox` in its own process, with a control client."""

    def __init__(self, log: Path, args: list[str]) -> None:
        env = {
            **os.environ,
            "HERALD_READ_DOTENV": "false",
            "DEBUG": "true",
            "INFOBIP_BASE_URL": "",
            "INFOBIP_API_KEY": "",
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infobip.sandbox",
                "--port",
                "0",
                "--api-key",
                SANDBOX_KEY,
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log.open("ab"),
            start_new_session=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().decode() if ready else ""
        if "http://" not in line:
            self.stop()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.url = "http://" + line.split("http://", 1)[1].split("/", 1)[0]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"App {SANDBOX_KEY}"

    def control(self, method: str, path: str, body: Any = None, timeout: float = 120) -> Any:
        r = self.http.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=timeout)
        r.raise_for_status()
        return r.json()

    def configure(self, **options: Any) -> None:
        self.control("POST", "config", options)

    def state(self) -> dict:
        return self.control("GET", "state")

    def reset(self) -> None:
        self.control("POST", "reset")

    def truths(self) -> dict[str, dict]:
        """Every message the sandbox accepted: messageId → truth."""
        out: dict[str, dict] = {}
        offset = 0
        while True:
            page = self.http.get(
                f"{self.url}/_sandbox/messages",
                params={"offset": offset, "limit": 10000},
                timeout=120,
            ).json()["results"]
            for t in page:
                out[t["messageId"]] = t
            if len(page) < 10000:
                return out
            offset += len(page)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class TcpProxy:
    """A loopback TCP forwarder that can be cut (all connections closed, new ones reset)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut = False
        # The listener lives as long as the proxy: closed for an outage and bound again after,
        # its port could meanwhile become some client connection's ephemeral port (free_port is
        # one), and the drill then failed to bring the "database" back (EADDRINUSE) by chance.
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def up(self) -> None:
        """Forward new connections again."""
        self._cut = False

    def down(self) -> None:
        """Reset the open connections and every new one (the database 'goes away')."""
        self._cut = True
        with self._lock:
            socks, self._socks = self._socks, set()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._cut:
                # SO_LINGER 0: close with a reset, as fast a failure as a refused connection.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._cut:  # cut while this one connected upstream
                    client.close()
                    upstream.close()
                    continue
                self._socks |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """SIGTERM (timeout, kill) unwinds like Ctrl-C, so `finally` stops our processes."""
    signal.signal(signal.SIGTERM, _interrupt)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> str:
    import platform

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    total = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) // 1024 // 1024
    pgv = pg("SHOW server_version", fetch=True)[0][0]
    return (
        f"{os.cpu_count()} cores ({cpu or 'unknown CPU'}), {total} GB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"PostgreSQL {pgv.split()[0]}"
    )
