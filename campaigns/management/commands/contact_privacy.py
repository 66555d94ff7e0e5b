"""Operator command for one contact's privacy: evidence export, erasure (audited)."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.erasure import ErasureError, contact_erase, contact_evidence
from contacts.models import Contact
from contacts.phones import PhoneError, international_number
from core.cli import add_actor_argument, cli_actor


class Command(BaseCommand):
    """Export a contact's consent history and messages, or erase them."""

    help = "contact_privacy evidence PHONE [--out FILE] | erase PHONE --yes"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        evidence = sub.add_parser("evidence", help="consent history and messages, as JSON")
        evidence.add_argument("phone")
        evidence.add_argument("--out", help="write to this file instead of standard output")
        erase = sub.add_parser("erase", help="anonymise their ledger rows, delete the contact")
        erase.add_argument("phone")
        erase.add_argument("--yes", action="store_true", help="confirm; erasure cannot be undone")
        erase.add_argument("--json", action="store_true")
        add_actor_argument(erase)

    def handle(self, *args: str, action: str, phone: str, **o: Any) -> None:
        try:
            e164 = international_number(phone)
        except PhoneError as exc:
            raise CommandError(f"{phone!r}: {exc}") from None
        contact = Contact.objects.filter(phone=e164).first()
        if contact is None:
            raise CommandError(f"no contact with the number {e164}")
        if action == "evidence":
            document = json.dumps(contact_evidence(contact=contact), indent=2, ensure_ascii=False)
            if o["out"]:
                with open(o["out"], "w", encoding="utf-8") as out:
                    out.write(document)
                self.stdout.write(f"evidence written: {o['out']}")
            else:
                self.stdout.write(document)
            return
        if not o["yes"]:
            raise CommandError("erasure cannot be undone: add --yes to confirm")
        actor = cli_actor(o.get("acting_user"))
        try:
            result = contact_erase(contact=contact, actor=actor)
        except ErasureError as exc:
            raise CommandError(str(exc)) from None
        if o["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write("erased: " + " ".join(f"{k}={v}" for k, v in result.items()))
