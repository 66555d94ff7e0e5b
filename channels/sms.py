"""SMS: one request per batch to /sms/3/messages, GSM-7/UCS-2 parts, logs to settle from."""

from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import PROVIDER, ChannelType, Outbound, SendOutcome, plural
from channels.countries import country_name, is_alphanumeric, numeric_sender_only
from channels.gsm import sms_segments
from channels.regional import IndiaDlt, SouthKoreaTitle, TurkeyIys
from infobip.client import InfobipClient
from infobip.types import SmsMessage


class Sms(ChannelType):
    name = "sms"
    label = "SMS"
    ledger = "sms"
    medium_label = "SMS"
    infobip_channel = "SMS"
    sender_kind = "sms"  # a number, or an alphanumeric id where the country allows one
    sender_setting = "INFOBIP_SMS_SENDER"
    max_chars_setting = "HERALD_SMS_MAX_CHARS"
    report_path = "sms/reports"
    inbound_path = "sms/inbound"
    report_pull = "sms"
    log_lookup = True
    validity = PROVIDER
    fallback_step = True
    price_keys = ("sms",)
    priced_per_part = True
    reply = True
    tracks_links_by_default = True
    conversion_tracking = True
    # SMS v3's options.regional (India's DLT, Turkey's IYS, South Korea's title).
    regional_rules = (IndiaDlt(), TurkeyIys(), SouthKoreaTitle())

    def sender_problem(self, *, country: str, sender: str) -> str:
        # Operators replace or drop alphanumeric senders in some countries (channels/countries.py).
        if is_alphanumeric(sender) and numeric_sender_only(country):
            return (
                f"{country_name(country)} does not deliver SMS from an alphanumeric sender "
                f"({sender!r})"
            )
        return ""

    def measure(self, text: str) -> tuple[int, str]:
        segments = sms_segments(text)
        return segments.parts, segments.encoding

    def costly_characters(self, text: str) -> tuple[str, ...]:
        return sms_segments(text).ucs2_chars

    def cap_check(self, text: str, *, max_chars: int | None = None) -> str | None:
        cap = self.max_chars() if max_chars is None else max_chars
        seg = sms_segments(text)
        if cap is None or seg.length <= cap:
            return None
        return (
            f"SMS text is {plural(seg.length, 'character')} "
            f"({plural(seg.parts, 'part')}, {seg.encoding}); the limit is {cap:,}"
        )

    def send(
        self,
        client: InfobipClient,
        messages: Sequence[Outbound],
        *,
        bulk_id: str | None = None,
        tracking: Mapping[str, Any] | None = None,
    ) -> SendOutcome:
        # Many destinations per request; identical texts share one entry (infobip.bodies).
        result = client.send_sms(
            [sms_message(m) for m in messages],
            bulk_id=bulk_id,
            tracking=dict(tracking) if tracking else None,
            conversion_tracking=self.tracks_conversions(),
        )
        return SendOutcome(result)


def sms_message(m: Outbound) -> SmsMessage:
    """Infobip's SMS for one outbound row."""
    return SmsMessage(
        to=m.to,
        text=m.text,
        message_id=m.message_id,
        sender=m.sender,
        callback_data=m.callback_data,
        notify_url=m.notify_url,
        validity_period_minutes=m.validity_minutes,
        regional=m.options.get("regional") or None,
    )
