"""Operator command for senders per destination country: add (or change), list, remove."""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels.countries import country_name
from channels.models import Sender
from channels.registry import UnknownChannel
from channels.senders import medium_of, sender_document, sender_remove, sender_save
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused


class Command(BaseCommand):
    """Who messages to each country come from (`*` for any other), per channel."""

    help = (
        "Senders per country: add --channel sms --country US --sender +12025550100 "
        "[--dlt-entity-id ID] | list [--channel C] | remove ID | remove --channel C --country CC; "
        "--json for scripts"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="set the sender of a channel for a country (or *)")
        add.add_argument("--channel", required=True, help="sms, whatsapp, viber, rcs (or a type)")
        add.add_argument("--country", required=True, help="ISO code such as US, or * for any")
        add.add_argument("--sender", required=True, help="a number or an alphanumeric name")
        add.add_argument("--dlt-entity-id", default="", help="India: DLT principal entity id")
        add.add_argument("--dlt-telemarketer-id", default="", help="India: telemarketer id")
        add.add_argument("--iys-brand-code", default=None, help="Turkey: IYS brand code")
        add.add_argument("--kr-reseller-code", default=None, help="South Korea: reseller code")
        add.add_argument("--json", action="store_true")
        add_actor_argument(add)
        listing = sub.add_parser("list")
        listing.add_argument("--channel", default="")
        listing.add_argument("--json", action="store_true")
        remove = sub.add_parser("remove")
        remove.add_argument("id", nargs="?", type=int)
        remove.add_argument("--channel", default="")
        remove.add_argument("--country", default="")
        remove.add_argument("--json", action="store_true")
        add_actor_argument(remove)

    def handle(self, *args: str, action: str, **o: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**o)
        except ValidationError as exc:
            raise CommandError(_say(exc)) from exc
        except UnknownChannel as exc:
            raise CommandError(str(exc)) from exc
        except Refused as exc:
            raise CommandError(f"refused: {exc}") from exc

    def do_add(self, **o: Any) -> None:
        row, created = sender_save(
            channel=o["channel"],
            country=o["country"],
            sender=o["sender"],
            dlt_entity_id=o["dlt_entity_id"],
            dlt_telemarketer_id=o["dlt_telemarketer_id"],
            iys_brand_code=o["iys_brand_code"],
            kr_reseller_code=o["kr_reseller_code"],
            actor=cli_actor(o.get("acting_user")),
        )
        if o["json"]:
            self.stdout.write(json.dumps({**sender_document(row), "created": created}))
            return
        verb = "added" if created else "changed"
        self.stdout.write(
            f"sender {verb}: id={row.pk} {row.medium} to {country_name(row.country)} "
            f"({row.country}) from {row.sender}"
        )

    def do_list(self, **o: Any) -> None:
        rows = Sender.objects.all()
        if o["channel"]:
            rows = rows.filter(medium=medium_of(o["channel"]))
        documents = [sender_document(row) for row in rows]
        if o["json"]:
            self.stdout.write(json.dumps(documents, ensure_ascii=False))
            return
        for d in documents:
            extra = f" DLT entity {d['dlt_entity_id']}" if d["dlt_entity_id"] else ""
            self.stdout.write(
                f"{d['id']:>4}  {d['channel']:<9} {d['country']:<2}  {d['sender']}{extra}"
            )
        self.stdout.write(f"{len(documents)} sender(s)")

    def do_remove(self, **o: Any) -> None:
        if o["id"] is not None:
            row = Sender.objects.filter(pk=o["id"]).first()
            what = f"id {o['id']}"
        elif o["channel"] and o["country"]:
            row = Sender.objects.filter(
                medium=medium_of(o["channel"]), country=o["country"].strip().upper()
            ).first()
            what = f"{o['channel']} {o['country'].upper()}"
        else:
            raise CommandError("name the sender: remove ID, or remove --channel C --country CC")
        if row is None:
            raise CommandError(f"no sender {what}")
        document = sender_document(row)
        sender_remove(sender=row, actor=cli_actor(o.get("acting_user")))
        if o["json"]:
            self.stdout.write(json.dumps({**document, "removed": True}))
        else:
            self.stdout.write(
                f"sender removed: {document['channel']} {document['country']} "
                f"({document['sender']})"
            )


def _say(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return "; ".join(exc.messages)
