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
`"reply": "text"`, `"click": true` (on the contact's last journey message), `"join": "VIP"`
(the contact joins the list), `"update": true` (the contact as given: a segment trigger looks at
it, a date trigger looks at its date), `"outcome": "delivered|failed|clicked|replied"` (of a
message of the trigger's campaign or a test one: a message trigger hears it).
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
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
# What a scripted line may say happened (docs/JOURNEYS.md, "journey test").
EVENT_KINDS = ("name", "inbound", "reply", "click", "join", "update", "outcome")


class ScratchError(RuntimeError):
    """The scratch database or the sandbox could not be made (the reason says why)."""


def _server_dsn(dbname: str) -> str:
    d = settings.DATABASES["default"]
    parts = {
        "dbname": dbname,
        "user": d.get("USER"),
        "password": d.get("PASSWORD"),
        "host": d.get("HOST"),
        "port": d.get("PORT"),
    }
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
    return {
        **os.environ,
        "DATABASE_URL": url,
        "HERALD_READ_DOTENV": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "true" if settings.DEBUG else "false",
        "INFOBIP_BASE_URL": "",
        "INFOBIP_API_KEY": "",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": "memory://",
        **extra,
    }


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
                cwd=ROOT,
                env=child_env(_url(building)),
                capture_output=True,
                text=True,
                check=False,
            )
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
        [
            sys.executable,
            "-m",
            "infobip.sandbox",
            "--port",
            "0",
            "--api-key",
            key,
            "--push-delay",
            "0",
        ],
        cwd=ROOT,
        env={**os.environ, "HERALD_READ_DOTENV": "false"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
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


def _names(node: Any, field: str) -> set[str]:
    """The values of every `{"field": field, "value": [...]}` rule anywhere in `node`."""
    found: set[str] = set()
    if isinstance(node, dict):
        if node.get("field") == field:
            value = node.get("value")
            found |= {str(v) for v in (value if isinstance(value, list) else [value]) if v}
        for child in node.values():
            found |= _names(child, field)
    elif isinstance(node, list):
        for child in node:
            found |= _names(child, field)
    return found


def spec_context(definition: Any) -> dict[str, Any]:
    """What the definition names that lives in this database — its lists, its segments (with
    their rules), the campaign a message trigger narrows to — for the scratch database, where
    the definition is checked as activation checks it. Contacts are not copied: only the test
    contacts of the events file exist there."""
    from campaigns.models import Campaign, Segment

    trigger = definition.get("trigger") if isinstance(definition, dict) else None
    trigger = trigger if isinstance(trigger, dict) else {}
    audiences = [trigger.get(side) for side in ("include", "exclude")]
    segment_names = {
        str(n)
        for a in audiences
        if isinstance(a, dict)
        for n in a.get("segments") or []
        if isinstance(n, str)
    }
    if isinstance(trigger.get("segment"), str):
        segment_names.add(trigger["segment"])
    segments = [
        {"name": s.name, "rules": s.rules} for s in Segment.objects.filter(name__in=segment_names)
    ]
    lists = {
        str(n)
        for a in audiences
        if isinstance(a, dict)
        for n in a.get("lists") or []
        if isinstance(n, str)
    }
    if isinstance(trigger.get("list"), str):
        lists.add(trigger["list"])
    lists |= _names([definition, [s["rules"] for s in segments]], "list")
    context: dict[str, Any] = {"lists": sorted(lists), "segments": segments}
    campaign = trigger.get("campaign")
    if isinstance(campaign, int) and not isinstance(campaign, bool):
        found = Campaign.objects.filter(pk=campaign, open_ended=False).first()
        if found is not None:
            context["campaign"] = {"id": found.pk, "name": found.name}
    return context


def context_create(context: dict[str, Any]) -> None:
    """In the scratch database: the lists, segments and campaign the definition names."""
    from campaigns.models import Campaign, Segment
    from contacts.models import ContactList

    for name in context.get("lists") or []:
        ContactList.objects.get_or_create(name=name)
    for segment in context.get("segments") or []:
        Segment.objects.update_or_create(name=segment["name"], defaults={"rules": segment["rules"]})
    if campaign := context.get("campaign"):
        Campaign.objects.create(
            pk=campaign["id"],
            name=campaign["name"],
            channel="sms",
            state="running",
            text="A test message",
        )
        # The send steps' campaigns are created after it: the sequence moves past it.
        statement = sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT max(id) FROM {table}))"
        ).format(table=sql.Identifier(Campaign._meta.db_table))
        with connection.cursor() as cursor:
            cursor.execute(statement, [Campaign._meta.db_table])


def journey_test(*, spec: Path, events: Path | None) -> dict[str, Any]:
    """Run `journey _replay` on a scratch database against a sandbox; → its JSON report."""
    definition = json.loads(spec.read_text(encoding="utf-8"))
    context_file = spec.with_name(f".{spec.name}.{uuid.uuid4().hex[:8]}.context.json")
    context_file.write_text(json.dumps(spec_context(definition), default=str))
    try:
        return _journey_test(spec, events, context_file)
    finally:
        context_file.unlink(missing_ok=True)


def _journey_test(spec: Path, events: Path | None, context: Path) -> dict[str, Any]:
    with scratch_database() as url, sandbox_process() as (sandbox_url, key):
        args = [
            sys.executable,
            "manage.py",
            "journey",
            "_replay",
            str(spec.resolve()),
            "--json",
            "--context",
            str(context.resolve()),
        ]
        if events is not None:
            args += ["--events", str(events.resolve())]
        env = child_env(url, INFOBIP_SANDBOX_URL=sandbox_url, INFOBIP_SANDBOX_API_KEY=key)
        done = subprocess.run(
            args, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600
        )
        if done.returncode:
            raise ScratchError((done.stderr or done.stdout).strip()[-1000:])
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return answer


def parse_events(path: Path, start: dt.datetime) -> list[tuple[dt.datetime, dict[str, Any]]]:
    """events.jsonl as (time, line), in time order; ValueError names the bad line."""
    return parse_events_text(path.read_text(encoding="utf-8"), start, name=path.name)


def parse_events_text(
    text: str, start: dt.datetime, *, name: str = "events"
) -> list[tuple[dt.datetime, dict[str, Any]]]:
    """Events lines (JSON, one a line) as (time, line), in time order; ValueError names the
    bad line."""
    from django.utils.dateparse import parse_datetime

    from contacts.phones import PhoneChecker, PhoneError
    from journeys.spec import duration_parse

    out = []
    path = Path(name)
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(line, dict) or not isinstance(line.get("contact"), dict):
            raise ValueError(f'{path.name}:{number}: an object with "contact": {{"phone": …}}')
        phone = line["contact"].get("phone")
        try:
            PhoneChecker().check(phone if isinstance(phone, str) else "")
        except PhoneError as exc:
            raise ValueError(f"{path.name}:{number}: contact.phone: {exc}") from None
        at = line.get("at", "PT0S")
        offset = duration_parse(at)
        try:
            when = start + offset if offset is not None else parse_datetime(str(at))
        except (ValueError, OverflowError):
            when = None
        if when is None or when.tzinfo is None or abs(when - start) > dt.timedelta(days=400):
            raise ValueError(
                f'{path.name}:{number}: "at" is a duration (PT2H) or an ISO time, '
                "within 400 days of the start"
            )
        if not any(k in line for k in EVENT_KINDS):
            raise ValueError(f"{path.name}:{number}: say what happened: {', '.join(EVENT_KINDS)}")
        if "outcome" in line and line["outcome"] not in (
            "delivered",
            "failed",
            "clicked",
            "replied",
        ):
            raise ValueError(
                f"{path.name}:{number}: outcome is delivered, failed, clicked or replied"
            )
        out.append((when, line))
    return sorted(out, key=lambda item: item[0])


def connection_is_scratch() -> bool:
    """The child refuses to run anywhere but a scratch database."""
    return str(connection.settings_dict.get("NAME", "")).startswith("herald_scratch_")
