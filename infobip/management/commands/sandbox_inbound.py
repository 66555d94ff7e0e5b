"""`manage.py sandbox_inbound`: push an inbound SMS, WhatsApp, Viber or RCS message to Herald's
inbound webhook."""

import json
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.logging import mask
from infobip.sandbox import inbound

# Which of Herald's webhooks each Infobip channel pushes inbound messages to (the Messages API's
# for every channel but SMS and WhatsApp), and the setting of our number on it.
WEBHOOKS = {
    "SMS": ("sms/inbound", "INFOBIP_WHATSAPP_SENDER"),  # the number people text
    "WHATSAPP": ("whatsapp/inbound", "INFOBIP_WHATSAPP_SENDER"),
}
SENDERS = {"VIBER_BM": "INFOBIP_VIBER_SENDER", "RCS": "INFOBIP_RCS_SENDER"}
CHOICES = ["sms", "whatsapp", "viber", "rcs"]


class Command(BaseCommand):
    """Push an inbound message (via the sandbox, or directly) so STOP/START/HELP can be tried."""

    help = (
        "Push an inbound SMS or WhatsApp message from NUMBER with TEXT to Herald's inbound "
        "webhook, through the running sandbox (or directly with --direct); reports the HTTP status."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", choices=CHOICES, required=True)
        parser.add_argument("--from", dest="sender", required=True, help="the sender's number")
        parser.add_argument("--text", required=True)
        parser.add_argument("--to", default=None, help="our number (INFOBIP_WHATSAPP_SENDER)")
        parser.add_argument("--direct", action="store_true", help="do not go through the sandbox")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(
        self,
        *args: str,
        channel: str,
        sender: str,
        text: str,
        to: str | None,
        direct: bool,
        **options: Any,
    ) -> None:
        token = settings.INFOBIP_WEBHOOK_TOKEN
        if not token:
            raise CommandError("INFOBIP_WEBHOOK_TOKEN is not set: Herald's webhooks are closed")
        if not sender.strip() or not text:
            raise CommandError("--from and --text must not be empty")
        name = inbound.infobip_channel(channel)
        kind, sender_setting = WEBHOOKS.get(name, ("messages/inbound", SENDERS.get(name, "")))
        url = f"{settings.PUBLIC_BASE_URL}/infobip/webhooks/{token}/{kind}/"
        to = to or getattr(settings, sender_setting, "") or settings.INFOBIP_WHATSAPP_SENDER
        via = "direct" if direct else "sandbox"
        if not direct:
            try:
                status, message_id = self._via_sandbox(channel, sender, to, text, url)
            except requests.ConnectionError:
                via = "direct (sandbox not running)"
                direct = True
        if direct:
            payload = inbound.build(channel, sender, to, text)
            message_id = payload["results"][0]["messageId"]
            try:
                status = requests.post(url, json=payload, timeout=10).status_code
            except requests.RequestException as exc:
                raise CommandError(
                    f"could not reach {url.replace(token, mask(token))}: {type(exc).__name__}"
                ) from exc
        shown = url.replace(token, mask(token))
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "channel": channel,
                        "from": sender,
                        "to": to,
                        "url": shown,
                        "status": status,
                        "via": via,
                        "messageId": message_id,
                    }
                )
            )
        if not 200 <= status < 300:
            raise CommandError(f"inbound {channel} from {sender}: {shown} answered HTTP {status}")
        if not options["json"]:
            self.stdout.write(
                f"inbound {channel} from {sender} to {to}: {shown} answered "
                f"HTTP {status} (via {via})"
            )

    def _via_sandbox(
        self, channel: str, sender: str, to: str, text: str, url: str
    ) -> tuple[int, str]:
        response = requests.post(
            settings.INFOBIP_SANDBOX_URL.rstrip("/") + "/_sandbox/inbound",
            json={"channel": channel, "from": sender, "to": to, "text": text, "url": url},
            headers={"Authorization": f"App {settings.INFOBIP_SANDBOX_API_KEY}"},
            timeout=15,
        )
        answer = response.json() if response.content else {}
        if response.status_code != 200 or "status" not in answer:
            detail = answer.get("violations") or answer.get("error") or response.status_code
            raise CommandError(f"the sandbox could not push the message: {detail}")
        return int(answer["status"]), str(answer["messageId"])
