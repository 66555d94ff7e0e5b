"""Reply to a contact on WhatsApp inside the 24-hour window: text, image or reply buttons."""

import json

from django.core.management.base import BaseCommand, CommandError

from campaigns.whatsapp_session import WhatsAppSessionError, whatsapp_session_send
from contacts.models import Contact
from contacts.phones import PhoneChecker, PhoneError
from contacts.services import ReplyRefused, contact_reply_authorize
from core.cli import add_actor_argument, cli_actor
from infobip.errors import InfobipError


class Command(BaseCommand):
    """Send a free-form WhatsApp message to a contact who wrote in the last 24 hours."""

    help = (
        "Reply on WhatsApp inside the 24-hour window: --text, --image URL [--text caption] or "
        '--button "id:Title" (up to 3). Refused, with the reason, outside the window.'
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--to", required=True, help="the contact's number")
        parser.add_argument("--text", default="", help="the text, or the image caption")
        parser.add_argument("--image", default="", help="an image URL (https)")
        parser.add_argument("--button", action="append", default=[], help='"id:Title"')
        parser.add_argument(
            "--transactional",
            action="store_true",
            help="confirm that a reply to an opted-out contact answers something they asked "
            "(an order, an appointment): audited; without it such a reply is refused",
        )
        parser.add_argument("--json", action="store_true")
        add_actor_argument(parser)

    def handle(self, *args, to: str, text: str, image: str, button: list[str], **options) -> None:
        try:
            phone = PhoneChecker().check(to).e164
        except PhoneError as exc:
            raise CommandError(f"{to!r}: {exc}") from exc
        contact = Contact.objects.filter(phone=phone).first()
        if contact is None:
            raise CommandError(f"no contact {phone}: they have never written to Herald")
        buttons = []
        for spec in button:
            key, _, title = spec.partition(":")
            if not key or not title:
                raise CommandError(f'--button {spec!r}: write it as "id:Title"')
            buttons.append((key.strip(), title.strip()))
        kind = "image" if image else ("buttons" if buttons else "text")
        try:
            contact_reply_authorize(
                contact=contact, actor=cli_actor(options.get("acting_user")), channel="whatsapp",
                transactional=options["transactional"],
            )  # fmt: skip
        except ReplyRefused as exc:
            raise CommandError(f"not sent: {exc} (--transactional)") from exc
        try:
            sent = whatsapp_session_send(
                contact=contact, kind=kind, text=text, media_url=image, buttons=buttons
            )
        except (WhatsAppSessionError, InfobipError) as exc:
            raise CommandError(f"not sent: {exc}") from exc
        result = {"to": phone, "kind": kind, "message_id": sent.message_id,
                  "status": sent.status.name}  # fmt: skip
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(f"sent {kind} to {phone}: message_id={sent.message_id}")
