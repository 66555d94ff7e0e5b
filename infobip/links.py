"""The webhook URLs Herald puts into every message it sends (built from PUBLIC_BASE_URL)."""

from django.conf import settings

WEBHOOK_KINDS = (
    "sms/reports",
    "sms/inbound",
    "whatsapp/reports",
    "whatsapp/inbound",
    "messages/reports",  # the Messages API's reports: Viber, RCS and its other channels
    "messages/inbound",
    "clicks",
)


def webhook_url(kind: str) -> str:
    """The absolute URL of one of Herald's Infobip webhooks, secret token included."""
    if kind not in WEBHOOK_KINDS:
        raise ValueError(f"unknown webhook kind {kind!r}")
    token = settings.INFOBIP_WEBHOOK_TOKEN
    return f"{settings.PUBLIC_BASE_URL}/infobip/webhooks/{token}/{kind}/"


def callback_data(campaign_id: int) -> str:
    """The callbackData of a campaign's messages: one value per campaign so SMS can be grouped."""
    return f"herald:campaign={campaign_id}"


def campaign_from_callback(value: str | None) -> int | None:
    """The campaign id in a callbackData Herald wrote, else None."""
    if value and value.startswith("herald:campaign="):
        tail = value.removeprefix("herald:campaign=").split(";", 1)[0]
        return int(tail) if tail.isdigit() else None
    return None
