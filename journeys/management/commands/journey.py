"""Operator command for journeys: create, update, activate, pause, resume, archive, status…"""

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.cli import add_actor_argument, cli_actor
from core.rules import Refused
from journeys.models import Journey
from journeys.services import (
    JourneyError,
    journey_activate,
    journey_archive,
    journey_create,
    journey_entries_move,
    journey_pause,
    journey_resume,
    journey_status,
    journey_update,
)


def _definition(path: str) -> dict[str, Any]:
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    try:
        definition = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path} is not JSON: {exc}") from None
    if not isinstance(definition, dict):
        raise CommandError(f"{path}: a journey definition is a JSON object")
    return definition


class Command(BaseCommand):
    """Journeys from the command line: the same services and rules as the builder and the API."""

    help = (
        "Journeys: create --file SPEC | update ID --file SPEC | activate|pause|resume|move ID | "
        "archive ID [--stop] | status ID | list | entries ID [--phone N] | backtest ID --days N | "
        "test SPEC [--events FILE]"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a draft journey from a JSON definition")
        create.add_argument("--file", required=True)
        create.add_argument("--activate", action="store_true", help="and activate it")
        update = sub.add_parser("update", help="replace a journey's draft")
        update.add_argument("id", type=int)
        update.add_argument("--file", required=True)
        for name, what in (
            ("activate", "make the draft the live version"),
            ("pause", "hold every wait and send"),
            ("resume", "resume a paused journey"),
            ("move", "move contacts in flight on older versions to the live one"),
            ("status", "state, version and per-step counts"),
        ):
            p = sub.add_parser(name, help=what)
            p.add_argument("id", type=int)
        archive = sub.add_parser("archive", help="let no one in any more")
        archive.add_argument("id", type=int)
        archive.add_argument(
            "--stop", action="store_true", help="contacts in flight leave now (else they finish)"
        )
        sub.add_parser("list", help="every journey")
        test = sub.add_parser(
            "test", help="a definition on a scratch database, against the sandbox"
        )
        test.add_argument("spec")
        test.add_argument("--events", default="", help="events.jsonl (docs/JOURNEYS.md)")
        replay = sub.add_parser("_replay", help=argparse.SUPPRESS)
        replay.add_argument("spec")
        replay.add_argument("--events", default="")
        replay.add_argument("--context", default="")
        backtest = sub.add_parser("backtest", help="replay recent real triggers through the draft")
        backtest.add_argument("id", type=int)
        backtest.add_argument("--days", type=int, default=30)
        entries = sub.add_parser("entries", help="the per-contact inspector")
        entries.add_argument("id", type=int)
        entries.add_argument("--phone", default="")
        for p in sub.choices.values():
            p.add_argument("--json", action="store_true")
            add_actor_argument(p)

    def handle(self, *args: Any, action: str, **o: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**o)
        except (JourneyError, Refused) as exc:
            raise CommandError(str(exc)) from None

    def _journey(self, pk: int) -> Journey:
        journey = Journey.objects.select_related("version").filter(pk=pk).first()
        if journey is None:
            raise CommandError(f"no journey with id {pk}")
        return journey

    def _done(self, journey: Journey, o: dict[str, Any], what: str) -> None:
        journey.refresh_from_db()
        if o["json"]:
            self.stdout.write(json.dumps(journey_status(journey=journey), default=str))
            return
        version = journey.version.number if journey.version else "-"
        self.stdout.write(f"journey {journey.pk} {what}: state={journey.state} version={version}")

    def do_create(self, **o: Any) -> None:
        actor = cli_actor(o["acting_user"])
        journey = journey_create(definition=_definition(o["file"]), actor=actor)
        if o["activate"]:
            journey_activate(journey=journey, actor=actor)
        if o["json"]:
            self.stdout.write(json.dumps({"id": journey.pk}))
            return
        self._done(journey, o, "created")

    def do_update(self, **o: Any) -> None:
        journey = self._journey(o["id"])
        journey_update(
            journey=journey, definition=_definition(o["file"]), actor=cli_actor(o["acting_user"])
        )
        self._done(journey, o, "draft updated")

    def do_activate(self, **o: Any) -> None:
        journey = self._journey(o["id"])
        version = journey_activate(journey=journey, actor=cli_actor(o["acting_user"]))
        self._done(journey, o, f"activated (version {version.number})")

    def do_pause(self, **o: Any) -> None:
        journey = self._journey(o["id"])
        journey_pause(journey=journey, actor=cli_actor(o["acting_user"]))
        self._done(journey, o, "paused")

    def do_resume(self, **o: Any) -> None:
        journey = self._journey(o["id"])
        journey_resume(journey=journey, actor=cli_actor(o["acting_user"]))
        self._done(journey, o, "resumed")

    def do_move(self, **o: Any) -> None:
        journey = self._journey(o["id"])
        moved = journey_entries_move(journey=journey, actor=cli_actor(o["acting_user"]))
        if o["json"]:
            self.stdout.write(json.dumps({"moved": moved}))
            return
        self.stdout.write(f"journey {journey.pk}: moved={moved} to the live version")

    def do_archive(self, **o: Any) -> None:
        journey = self._journey(o["id"])
        mode = "stop" if o["stop"] else "finish"
        journey_archive(journey=journey, actor=cli_actor(o["acting_user"]), mode=mode)
        self._done(journey, o, f"archived ({mode})")

    def do_status(self, **o: Any) -> None:
        journey = self._journey(o["id"])
        status = journey_status(journey=journey)
        if o["json"]:
            self.stdout.write(json.dumps(status, default=str))
            return
        counts = status["counts"]
        exited = " ".join(f"{k}={v}" for k, v in counts["exited"].items() if v)
        won = status["conversions"]
        self.stdout.write(
            f"journey {journey.pk} {journey.name!r} state={status['state']} "
            f"version={status['version']} entered={counts['entered']} active={counts['active']}"
            + (f" exited: {exited}" if exited else "")
            + f" conversions={won['count']} revenue={won['revenue']} {won['currency']}"
        )
        for step in status["steps"]:
            won_here = step.get("conversions")
            extra = (
                f" conversions={won_here['count']} revenue={won_here['revenue']}"
                if won_here
                else ""
            )
            self.stdout.write(
                f"  {step['id']:<16} {step['type']:<9} entered={step['entered']} "
                f"waiting={step['waiting']} sent={step['sent']} delayed={step['delayed']}{extra}"
            )

    def do_list(self, **o: Any) -> None:
        rows = [
            {
                "id": j.pk,
                "name": j.name,
                "state": j.state,
                "trigger": j.trigger_type,
                "version": j.version.number if j.version else None,
            }
            for j in Journey.objects.select_related("version").order_by("id")
        ]
        if o["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for row in rows:
            self.stdout.write(
                f"{row['id']}\t{row['state']}\tv{row['version'] or '-'}\t{row['name']}"
            )
        self.stdout.write(f"journeys={len(rows)}")

    def do_entries(self, **o: Any) -> None:
        from contacts.models import Contact
        from contacts.phones import PhoneChecker, PhoneError
        from journeys.inspect import entries_inspect

        journey = self._journey(o["id"])
        contact = None
        if o["phone"]:
            try:
                e164 = PhoneChecker().check(o["phone"]).e164
            except PhoneError as exc:
                raise CommandError(f"--phone: {exc}") from None
            contact = Contact.objects.filter(phone=e164).first()
            if contact is None:
                raise CommandError(f"no contact with the number {e164}")
        entries = entries_inspect(journey=journey, contact=contact)
        if o["json"]:
            self.stdout.write(json.dumps(entries, default=str))
            return
        for entry in entries:
            self.stdout.write(f"{entry['contact']['phone']} #{entry['entry']}: {entry['story']}")
        self.stdout.write(f"entries={len(entries)}")

    def do_backtest(self, **o: Any) -> None:
        from journeys.simulate import journey_backtest

        journey = self._journey(o["id"])
        report = journey_backtest(
            journey=journey, days=o["days"], actor=cli_actor(o["acting_user"])
        ).as_dict()
        if o["json"]:
            self.stdout.write(json.dumps(report, default=str))
            return
        exits = " ".join(f"{k}={v}" for k, v in report["exits"].items() if v)
        self.stdout.write(
            f"journey {journey.pk} backtest over {o['days']} days: triggers={report['triggers']} "
            f"entries={report['entries']} double_entries={report['double_entries']} "
            f"sends={report['sends']} cost={report['cost']} {report['currency']} "
            f"delayed_quiet_hours={report['delayed_quiet_hours']} "
            f"delayed_caps={report['delayed_caps']} in_flight={report['in_flight']}"
            + (f" exits: {exits}" if exits else "")
        )
        if report["fallbacks"]:
            chains = " ".join(f"{k}={v}" for k, v in report["fallbacks"].items())
            self.stdout.write(
                f"  fallbacks at most: {chains} cost={report['fallback_cost']} "
                f"{report['currency']} (if every first message failed)"
            )
        for reason, n in report["skipped"].items():
            self.stdout.write(f"  skipped {n}: {reason}")

    def do_test(self, **o: Any) -> None:
        from journeys.scratch import ScratchError, journey_test
        from journeys.spec import definition_check

        problems = definition_check(_definition(o["spec"]))
        if problems:
            raise CommandError("; ".join(problems))
        events = Path(o["events"]) if o["events"] else None
        if events is not None and not events.is_file():
            raise CommandError(f"cannot read {o['events']}")
        try:
            report = journey_test(spec=Path(o["spec"]), events=events)
        except ScratchError as exc:
            raise CommandError(str(exc)) from None
        if o["json"]:
            self.stdout.write(json.dumps(report, default=str))
            return
        for phone, steps in report["contacts"].items():
            self.stdout.write(phone)
            for s in steps:
                what = f"{s['text']!r} ({s['state']})" if s["text"] else s["detail"]
                self.stdout.write(f"  +{s['after']:<16} {s['step']:<12} {s['outcome']:<8} {what}")
        self.stdout.write(
            f"journey test {report['journey']!r}: contacts={len(report['contacts'])} "
            f"entries={report['entries']} (scratch database and sandbox, gone)"
        )

    def do__replay(self, **o: Any) -> None:
        from django.utils import timezone

        from journeys.scratch import connection_is_scratch, context_create, parse_events
        from journeys.simulate import journey_replay_script

        if not connection_is_scratch():
            raise CommandError("_replay runs only on a scratch database (journey test makes one)")
        if o["context"]:
            context_create(json.loads(Path(o["context"]).read_text(encoding="utf-8")))
        start = timezone.now()
        try:
            lines = parse_events(Path(o["events"]), start) if o["events"] else []
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        report = journey_replay_script(definition=_definition(o["spec"]), lines=lines, start=start)
        self.stdout.write(json.dumps(report, default=str))
