"""Start Herald's processes together for `make run`; Ctrl-C stops them all.

web (runserver on 127.0.0.1:8000, or HERALD_WEB_PORT), one worker that takes every queue
(production runs one per queue: docs/DEPLOYMENT.md), beat, and — when no Infobip base URL is
configured — the local Infobip sandbox that the client then talks to.
"""

import importlib.util
import os
import sys
from pathlib import Path

import django
from honcho.manager import Manager

ROOT = Path(__file__).resolve().parent.parent


def processes() -> dict[str, str]:
    """The commands to run, by name."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings

    python = sys.executable
    celery = str(Path(python).with_name("celery"))
    (ROOT / "var").mkdir(exist_ok=True)
    procs = {
        "web": f"{python} manage.py runserver 127.0.0.1:{web_port()} --noreload",
        "worker": f"{celery} -A config worker -l info -c 2 --without-mingle --without-gossip",
        "beat": f"{celery} -A config beat -l info -s {settings.CELERY_BEAT_SCHEDULE_FILENAME}",
    }
    if settings.INFOBIP_SANDBOX and importlib.util.find_spec("infobip.sandbox"):
        port = settings.INFOBIP_SANDBOX_URL.rsplit(":", 1)[-1].strip("/")
        procs["sandbox"] = f"{python} -m infobip.sandbox --port {port}"
    return procs


def web_port() -> int:
    """The web port: HERALD_WEB_PORT, else 8000."""
    raw = os.environ.get("HERALD_WEB_PORT", "8000").strip()
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"HERALD_WEB_PORT={raw!r}: give a port number such as 8000")
    return int(raw)


def main() -> None:
    """Run every process under one manager until Ctrl-C, then stop them all."""
    manager = Manager()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name, command in processes().items():
        manager.add_process(name, command, env=env, cwd=str(ROOT))
    url = f"http://127.0.0.1:{web_port()}/"
    print(f"Herald on {url} (admin at /admin/) — Ctrl-C stops everything")
    manager.loop()
    sys.exit(manager.returncode)


if __name__ == "__main__":
    main()
