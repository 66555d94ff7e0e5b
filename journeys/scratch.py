"""`journey test SPEC`: a definition run for test contacts on a scratch database, against the
sandbox, with simulated time.

The command makes a throw-away PostgreSQL database (a copy of a migrated template, kept per
migration state, so a run takes seconds, not a migration), starts a sandbox process, and runs
`journey _replay` in a child process on them: the child activates the definition, plays the
scripted events (events.jsonl) on a simulated clock that also stops at every due time, hands
what the journey queues to the sandbox (which checks each request against Infobip's OpenAPI
documents and decides each message's fate), applies those fates, and prints per contact what
was sent and when. The database and the sandbox are gone afterwards; nothing real is touched.

Each events.jsonl line: `{"at": "PT2H" (after the start) or an ISO time, "contact": {"phone":
"+44…", "first_name": …, "timezone": …, "attributes": {…}}, ` and one of `"name": "event",
"key", "properties"` (an API event), `"inbound": "JOIN", "to": "4478…"` (a message to us),
`"reply": "text"`, `"click": true` (on the contact's last journey message).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import select
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


class ScratchError(RuntimeError):
    """The scratch database or the sandbox could not be made (the reason says why)."""


def _server_dsn(dbname: str) -> str:
    d = settings.DATABASES["default"]
    parts = {"dbname": dbname, "user": d.get("USER"), "password": d.get("PASSWORD"),
             "host": d.get("HOST"), "port": d.get("PORT")}  # fmt: skip
    return " ".join(f"{k}='{v}'" for k, v in parts.items() if v)


def _url(dbname: str) -> str:
    d = settings.DATABASES["default"]
    auth = d.get("USER") or ""
    if d.get("PASSWORD"):
        auth += f":{d['PASSWORD']}"
    host = d.get("HOST") or "localhost"
    if host.startswith("/"):
        return f"postgres://{auth}@/{dbname}?host={host}&port={d.get('PORT') or 5432}"
    return f"postgres://{auth}@{host}:{d.get('PORT') or 5432}/{dbname}"


def _migrations_state() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(f"{path.relative_to(ROOT)}:{path.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def child_env(url: str, **extra: str) -> dict[str, str]:
    """The child's environment: the scratch database, no .env, nothing real reachable."""
    # This process's own key and mode: the child reads no .env (it may name real Infobip keys).
    return {**os.environ, "DATABASE_URL": url, "HERALD_READ_DOTENV": "false",
            "SECRET_KEY": settings.SECRET_KEY, "DEBUG": "true" if settings.DEBUG else "false",
            "INFOBIP_BASE_URL": "", "INFOBIP_API_KEY": "", "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_BROKER_URL": "memory://", **extra}  # fmt: skip


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, migrated database (a copy of a per-migration-state template); dropped after."""
    template = f"herald_scratch_tpl_{_migrations_state()}"
    name = f"herald_scratch_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_server_dsn("postgres"), autocommit=True)
    except psycopg.Error as exc:
        raise ScratchError(f"cannot reach the database server: {exc}") from None
    try:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone():
            building = template + "_building"
            admin.execute(f'DROP DATABASE IF EXISTS "{building}"')
            admin.execute(f'CREATE DATABASE "{building}"')
            done = subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
                cwd=ROOT, env=child_env(_url(building)), capture_output=True, text=True,
                check=False,
            )  # fmt: skip
            if done.returncode:
                raise ScratchError(f"migrating the template failed: {done.stderr[-500:]}")
            admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    except psycopg.errors.InsufficientPrivilege:
        raise ScratchError("the database user may not create databases (CREATEDB)") from None
    try:
        yield _url(name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def sandbox_process() -> Iterator[tuple[str, str]]:
    """A sandbox on a free loopback port: (its URL, its API key)."""
    key = "scratch-" + uuid.uuid4().hex[:12]
    proc = subprocess.Popen(
        [sys.executable, "-m", "infobip.sandbox", "--port", "0", "--api-key", key,
         "--push-delay", "0"],
        cwd=ROOT, env={**os.environ, "HERALD_READ_DOTENV": "false"}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().decode() if ready else ""
        if "http://" not in line:
            raise ScratchError(f"the sandbox did not start: {line!r}")
        yield "http://" + line.split("http://", 1)[1].split("/", 1)[0].strip(), key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def journey_test(*, spec: Path, events: Path | None) -> dict[str, Any]:
    """Run `journey _replay` on a scratch database against a sandbox; → its JSON report."""
    with scratch_database() as url, sandbox_process() as (sandbox_url, key):
        args = [sys.executable, "manage.py", "journey", "_replay", str(spec.resolve()), "--json"]
        if events is not None:
            args += ["--events", str(events.resolve())]
        env = child_env(url, INFOBIP_SANDBOX_URL=sandbox_url, INFOBIP_SANDBOX_API_KEY=key)
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                              check=False, timeout=600)  # fmt: skip
        if done.returncode:
            raise ScratchError((done.stderr or done.stdout).strip()[-1000:])
        return json.loads(done.stdout.strip().splitlines()[-1])


def parse_events(path: Path, start: dt.datetime) -> list[tuple[dt.datetime, dict]]:
    """events.jsonl as (time, line), in time order; ValueError names the bad line."""
    from django.utils.dateparse import parse_datetime

    from journeys.spec import duration_parse

    out = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(line, dict) or not isinstance(line.get("contact"), dict):
            raise ValueError(f'{path.name}:{number}: an object with "contact": {{"phone": …}}')
        at = line.get("at", "PT0S")
        offset = duration_parse(at)
        when = start + offset if offset is not None else parse_datetime(str(at))
        if when is None or when.tzinfo is None:
            raise ValueError(f'{path.name}:{number}: "at" is a duration (PT2H) or an ISO time')
        if not any(k in line for k in ("name", "inbound", "reply", "click")):
            raise ValueError(f"{path.name}:{number}: say what happened: name, inbound, reply "
                             "or click")  # fmt: skip
        out.append((when, line))
    return sorted(out, key=lambda item: item[0])


def connection_is_scratch() -> bool:
    """The child refuses to run anywhere but a scratch database."""
    return str(connection.settings_dict.get("NAME", "")).startswith("herald_scratch_")
