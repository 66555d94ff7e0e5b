"""`manage.py conversation reply`: the inbox's reply service on the command line (issue 26 #12).

The same service as the conversation page and the API (inbox.conversations.conversation_reply):
through the ledger, the opt-out rule (`--transactional`, audited), the session window, once per
`--key`. `conversation replies` lists a contact's replies with each one's delivery state.
"""

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Message
from contacts.models import Contact
from contacts.phones import PhoneChecker, PhoneError
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused
from inbox.conversations import ReplyError, conversation_reply
from inbox.models import ConversationReply

WAITING = ("queued", "sending", "accepted")
FAILED = ("failed", "rejected", "undeliverable", "expired", "skipped")


class Command(BaseCommand):
    help = "Reply to a contact from the inbox (through the ledger), or list their replies."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        reply = sub.add_parser("reply", help="send a free-form reply on a reply medium")
        reply.add_argument("--to", required=True, help="the contact's number")
        reply.add_argument("--channel", default="sms", help="sms, whatsapp, viber or rcs")
        reply.add_argument("--text", required=True)
        reply.add_argument(
            "--transactional",
            action="store_true",
            help="confirm that a reply to an opted-out contact answers something they asked "
            "(an order, an appointment): audited; without it such a reply is refused",
        )
        reply.add_argument("--key", default="", help="run twice with one key: one reply")
        reply.add_argument(
            "--wait", action="store_true", help="wait for the delivery report (or a failure)"
        )
        reply.add_argument("--timeout", type=float, default=60.0, help="seconds --wait waits")
        reply.add_argument("--json", action="store_true")
        add_actor_argument(reply)
        listed = sub.add_parser("replies", help="a contact's replies with their delivery state")
        listed.add_argument("--to", required=True, help="the contact's number")
        listed.add_argument("--json", action="store_true")

    def handle(self, *args: str, action: str, **options: Any) -> None:
        try:
            phone = PhoneChecker().check(options["to"]).e164
        except PhoneError as exc:
            raise CommandError(f"{options['to']!r}: {exc}") from exc
        contact = Contact.objects.filter(phone=phone).first()
        if contact is None:
            raise CommandError(f"no contact with the number {phone}")
        if action == "replies":
            self._list(contact, as_json=options["json"])
            return
        try:
            reply = conversation_reply(
                contact=contact,
                channel=options["channel"],
                text=options["text"],
                actor=cli_actor(options["acting_user"]),
                transactional=options["transactional"],
                key=options["key"],
            )
        except ReplyError as exc:
            hint = " (--transactional)" if exc.field == "transactional" else ""
            raise CommandError(f"not sent: {exc}{hint}") from exc
        except Refused as exc:
            raise CommandError(f"not sent: {exc}") from exc
        state, reason = self._state(reply.message_id)
        if options["wait"]:
            state, reason = self._wait(reply.message_id, options["timeout"])
        result = {
            "id": reply.pk,
            "to": phone,
            "channel": reply.channel,
            "messageId": reply.message_id,
            "state": state,
            "reason": reason,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"{reply.channel} reply to {phone}: {state} messageId={reply.message_id}"
                + (f" ({reason})" if reason else "")
            )
        if state in FAILED:
            raise CommandError(f"not delivered: {state} {reason}".strip())

    def _state(self, message_id: str) -> tuple[str, str]:
        row = Message.objects.filter(message_id=message_id).values_list("state", "reason").first()
        return row if row is not None else ("", "")

    def _wait(self, message_id: str, timeout: float) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            state, reason = self._state(message_id)
            if state not in WAITING or time.monotonic() > deadline:
                return state, reason
            time.sleep(0.25)

    def _list(self, contact: Contact, *, as_json: bool) -> None:
        replies = list(ConversationReply.objects.filter(contact=contact)[:50])
        states = {
            str(m): (s, r)
            for m, s, r in Message.objects.filter(
                campaign_id__in=[x.campaign_id for x in replies if x.campaign_id]
            ).values_list("message_id", "state", "reason")
        }
        rows: list[dict[str, Any]] = [
            {
                "id": r.pk,
                "channel": r.channel,
                "text": r.text,
                "messageId": r.message_id,
                "state": states.get(r.message_id, ("", ""))[0],
                "reason": states.get(r.message_id, ("", ""))[1],
                "sentAt": r.sent_at.isoformat(),
            }
            for r in replies
        ]
        if as_json:
            self.stdout.write(json.dumps({"replies": rows}))
            return
        for row in rows:
            self.stdout.write(
                f"{row['sentAt'][:16]} {row['channel']}: {row['state'] or '—'} "
                f"{row['text'][:60]!r}" + (f" ({row['reason']})" if row["reason"] else "")
            )
        self.stdout.write(f"{len(rows)} replies to {contact.phone}")
