"""docs/DEPLOYMENT.md followed: the shipped supervision runs Herald, restarts what exits, and the
web process serves its static files with DEBUG off.

Against the real PostgreSQL and Redis of the integration run and the sandbox: collectstatic,
then `supervisord -c deploy/supervisord.conf` (web, a worker per queue, beat), /healthz/ green
in every part, a worker and the web master killed with -9 and restarted by supervisord.
"""

import configparser
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONF = ROOT / "deploy" / "supervisord.conf"
QUEUES = ("sending", "receiving", "events", "housekeeping")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ctl(env: dict, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(CONF), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout


def _pid(env: dict, program: str) -> int:
    out = _ctl(env, "pid", f"herald:{program}").strip()
    return int(out) if out.isdigit() else 0


def _wait(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := predicate():
                return value
        except requests.RequestException:
            pass
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in log.glob("*.log"))
    pytest.fail(f"{what} within {timeout}s\n{logs}")


def test_the_systemd_units_run_what_supervisord_runs() -> None:
    units = ROOT / "deploy" / "systemd"
    worker = configparser.ConfigParser(interpolation=None)
    worker.read(units / "herald-worker@.service")
    assert "-Q %i" in worker["Service"]["ExecStart"]
    assert worker["Service"]["Restart"] == "always"
    target = (units / "herald.target").read_text()
    for queue in QUEUES:
        assert f"herald-worker@{queue}.service" in target
    for name in ("herald-web.service", "herald-beat.service"):
        unit = configparser.ConfigParser(interpolation=None)
        unit.read(units / name)
        assert unit["Service"]["Restart"] == "always"
    supervised = configparser.ConfigParser(interpolation=None)
    supervised.read(CONF)
    for queue in QUEUES:
        assert f"-Q {queue} " in supervised[f"program:worker-{queue}"]["command"]


def test_supervisord_runs_herald_and_restarts_what_exits(
    integration_env, transactional_db, tmp_path
):
    port = _free_port()
    static_root = tmp_path / "static"
    env = {
        **integration_env,
        "DEBUG": "false",
        "SECRET_KEY": "deploy-test-" + "k" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HERALD_STATIC_MANIFEST": "true",
        "STATIC_ROOT": str(static_root),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "HERALD_SWEEP_INTERVAL": "3",
    }
    env.pop("HERALD_CACHE_URL", None)
    # The guide: static files collected once per release, the folders supervisord writes to.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    (ROOT / "var" / "log").mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "run").mkdir(parents=True, exist_ok=True)
    logs = ROOT / "var" / "log"
    for old in logs.glob("*.log"):
        old.unlink()
    supervisord = subprocess.Popen(
        [str(BIN / "supervisord"), "-c", str(CONF), "-n"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> dict | None:
            answer = requests.get(f"{base}/healthz/", timeout=10)
            return answer.json() if answer.status_code == 200 else None

        health = _wait(healthy, 180, "/healthz/ did not turn 200", logs)
        assert set(health["worker"]["queues"]) == set(QUEUES)
        assert health["infobip"] == "sandbox"

        # Static files with DEBUG off, from the web process: hashed, compressed.
        login = requests.get(f"{base}/login/", timeout=10).text
        css = re.search(r'href="(/static/herald/herald\.[0-9a-f]{12}\.css)"', login)
        assert css, login[:500]
        served = requests.get(base + css.group(1), headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert served.status_code == 200
        assert served.headers["Content-Encoding"] == "gzip"

        # A worker killed with -9 comes back, and its queue's work with it.
        before = _pid(env, "worker-sending")
        os.killpg(before, signal.SIGKILL)
        _wait(
            lambda: _pid(env, "worker-sending") not in (0, before),
            60,
            "supervisord did not restart the sending worker",
            logs,
        )
        time.sleep(4)  # past one sweep interval: the heartbeat it answers is a new one
        health = _wait(healthy, 90, "/healthz/ did not turn 200 after the restart", logs)
        assert health["worker"]["queues"]["sending"]["heartbeat_age_s"] < 9

        # The web master killed with -9 comes back too.
        web = _pid(env, "web")
        os.kill(web, signal.SIGKILL)
        _wait(lambda: _pid(env, "web") not in (0, web), 60, "web not restarted", logs)
        _wait(
            lambda: requests.get(f"{base}/healthz/live/", timeout=10).status_code == 200,
            60,
            "the restarted web process did not answer",
            logs,
        )
    finally:
        _ctl(env, "shutdown")
        try:
            supervisord.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(supervisord.pid, signal.SIGKILL)
            supervisord.wait(timeout=30)
