"""Reply to a contact on WhatsApp inside the 24-hour window: text, image or reply buttons.

A text reply to a known contact is an inbox reply (inbox.conversations.conversation_reply, the
service of the conversation page and the API): its thread shows it. Images and buttons go
through the ledger like every send (campaigns.whatsapp_session.whatsapp_session_queue): an
opted-out contact or a closed window is refused with the reason and nothing goes out. It
lives in api/ because the one-off send is recorded like the API's (`TransactionalSend`), so
it stays out of the marketer's campaign list.
"""

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.models import TransactionalSend
from campaigns.models import Message
from campaigns.whatsapp_session import Kind, WhatsAppSessionError, whatsapp_session_queue
from contacts.models import Contact
from contacts.phones import PhoneChecker, PhoneError
from contacts.services import ReplyRefused, contact_reply_authorize
from core.cli import add_actor_argument, cli_actor
from core.rules import Actor, Refused
from inbox.conversations import ReplyError, conversation_reply

WAITING = ("queued", "sending")


class Command(BaseCommand):
    """Send a free-form WhatsApp message to a contact who wrote in the last 24 hours."""

    help = (
        "Reply on WhatsApp inside the 24-hour window: --text, --image URL [--text caption] or "
        '--button "id:Title" (up to 3). Refused, with the reason, outside the window or when '
        "the contact opted out. Queued in the ledger; --wait waits for Infobip's answer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", required=True, help="the contact's number")
        parser.add_argument("--from", dest="sender", default=None, help="the WhatsApp sender")
        parser.add_argument("--text", default="", help="the text, or the image caption")
        parser.add_argument("--image", default="", help="an image URL (https)")
        parser.add_argument("--button", action="append", default=[], help='"id:Title"')
        parser.add_argument(
            "--transactional",
            action="store_true",
            help="confirm that a reply to an opted-out contact answers something they asked "
            "(an order, an appointment): audited; without it such a reply is refused",
        )
        parser.add_argument("--wait", action="store_true", help="wait until Infobip answered")
        parser.add_argument("--timeout", type=float, default=60.0, help="seconds --wait waits")
        parser.add_argument("--json", action="store_true")
        add_actor_argument(parser)

    def handle(
        self, *args: str, to: str, text: str, image: str, button: list[str], **options: Any
    ) -> None:
        try:
            phone = PhoneChecker().check(to).e164
        except PhoneError as exc:
            raise CommandError(f"{to!r}: {exc}") from exc
        buttons = []
        for spec in button:
            key, _, title = spec.partition(":")
            if not key or not title:
                raise CommandError(f'--button {spec!r}: write it as "id:Title"')
            buttons.append((key.strip(), title.strip()))
        kind: Kind = "image" if image else ("buttons" if buttons else "text")
        actor = cli_actor(options["acting_user"])
        contact = Contact.objects.filter(phone=phone).first()
        if kind == "text" and contact is not None:
            # A text reply is an inbox reply: the conversation's service, shown in its thread.
            self._reply(contact, text, actor, options)
            return
        transactional = False
        if contact is not None:
            try:  # the consent rule of every manual reply (issue 26 #6)
                transactional = contact_reply_authorize(
                    contact=contact,
                    actor=actor,
                    channel="whatsapp",
                    transactional=options["transactional"],
                )
            except ReplyRefused as exc:
                raise CommandError(f"not sent: {exc} (--transactional)") from exc
        try:
            campaign, queued = whatsapp_session_queue(
                phone=phone,
                kind=kind,
                text=text,
                media_url=image,
                buttons=buttons,
                sender=options["sender"],
                actor=actor,
                respect_opt_out=not transactional,
            )
        except (WhatsAppSessionError, Refused) as exc:
            raise CommandError(f"not sent: {exc}") from exc
        TransactionalSend.objects.create(campaign=campaign, token=None)
        if queued.state == "skipped":
            raise CommandError(f"not sent: {queued.reason} (messageId {queued.message_id})")
        self._answer(phone, kind, queued.message_id, options)

    def _reply(self, contact: Contact, text: str, actor: Actor, options: dict[str, Any]) -> None:
        try:
            reply = conversation_reply(
                contact=contact,
                channel="whatsapp",
                text=text,
                actor=actor,
                transactional=options["transactional"],
                sender=options["sender"] or "",
            )
        except ReplyError as exc:
            hint = " (--transactional)" if exc.field == "transactional" else ""
            raise CommandError(f"not sent: {exc}{hint}") from exc
        except Refused as exc:
            raise CommandError(f"not sent: {exc}") from exc
        self._answer(contact.phone, "text", reply.message_id, options)

    def _answer(self, phone: str, kind: str, message_id: str, options: dict[str, Any]) -> None:
        state, reason = (
            Message.objects.filter(message_id=message_id).values_list("state", "reason").get()
        )
        if options["wait"]:
            state, reason = self._wait(message_id, options["timeout"])
        result = {
            "to": phone,
            "kind": kind,
            "messageId": message_id,
            "state": state,
            "reason": reason,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"{kind} to {phone}: {state} messageId={message_id}"
                + (f" ({reason})" if reason else "")
            )
        if state in ("failed", "rejected", "undeliverable", "expired", "skipped"):
            raise CommandError(f"not delivered: {state} {reason}".strip())

    def _wait(self, message_id: str, timeout: float) -> tuple[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            state, reason = (
                Message.objects.filter(message_id=message_id).values_list("state", "reason").get()
            )
            if state not in WAITING or time.monotonic() > deadline:
                return state, reason
            time.sleep(0.25)
