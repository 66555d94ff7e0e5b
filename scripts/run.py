"""`make run`: the database, migrations, the demo admin, then Herald's processes; Ctrl-C stops all.

With no DATABASE_URL (in the environment or .env) the embedded PostgreSQL of
core/embedded_pg.py is started in var/pg first and stopped last. Then web (runserver on
127.0.0.1:8000), worker, beat, and — when no Infobip base URL is configured — the local Infobip
sandbox that the client then talks to, under one honcho manager (RUN_PORT: another port).
"""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import django
from honcho.manager import Manager

ROOT = Path(__file__).resolve().parent.parent
# `make run RUN_PORT=8011`: another port for a second checkout (8000 by default).
PORT = int(os.environ.get("RUN_PORT") or 8000)


def _setup() -> None:
    if PORT != 8000:  # the sandbox pushes reports to this server
        os.environ.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{PORT}")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


def processes() -> dict[str, str]:
    """The commands to run, by name."""
    _setup()
    from django.conf import settings

    python = sys.executable
    celery = str(Path(python).with_name("celery"))
    (ROOT / "var").mkdir(exist_ok=True)
    procs = {
        "web": f"{python} manage.py runserver 127.0.0.1:{PORT} --noreload",
        "worker": f"{celery} -A config worker -l info -c 2 --without-mingle --without-gossip",
        "beat": f"{celery} -A config beat -l info -s {settings.CELERY_BEAT_SCHEDULE_FILENAME}",
    }
    if settings.INFOBIP_SANDBOX and importlib.util.find_spec("infobip.sandbox"):
        port = settings.INFOBIP_SANDBOX_URL.rsplit(":", 1)[-1].strip("/")
        procs["sandbox"] = f"{python} -m infobip.sandbox --port {port}"
    return procs


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def main() -> None:
    """Start the database when it is ours, prepare it, run every process until Ctrl-C."""
    _setup()
    from django.conf import settings

    from core import embedded_pg

    directory = settings.EMBEDDED_PG_DIR
    if directory is not None:
        started = embedded_pg.start(directory)
        embedded_pg.create_database(directory)
        state = "started" if started else "already running"
        print(f"postgresql: {state} (embedded, data in {directory / 'data'})")
    code = 1
    manager = Manager()
    try:
        _manage("migrate", "--no-input")
        _manage("ensure_demo_admin")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, command in processes().items():
            manager.add_process(name, command, env=env, cwd=str(ROOT))
        print(f"Herald on http://127.0.0.1:{PORT}/ (admin at /admin/) — Ctrl-C stops everything")
        manager.loop()
        code = manager.returncode or 0
    except KeyboardInterrupt:
        code = 130
    except subprocess.CalledProcessError as exc:
        code = exc.returncode
    finally:
        _stop_children(manager)
        # Last, after web, worker and beat have let go of their connections.
        if directory is not None and embedded_pg.stop(directory):
            print("postgresql: stopped")
    sys.exit(code)


def _stop_children(manager: Manager, wait: float = 10) -> None:
    """Make sure no process outlives the manager: loop() returns once all have stopped, but an
    error inside it (a closed terminal: its output pipe breaks) would leave them running."""
    pids = [p["pid"] for p in manager._processes.values() if p.get("pid")]  # no public list
    alive = [pid for pid in pids if _alive(pid)]
    if not alive:
        return
    manager.terminate()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(_alive(pid) for pid in alive):
        time.sleep(0.2)
    manager.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    main()
