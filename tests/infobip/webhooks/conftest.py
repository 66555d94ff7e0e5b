"""Fixtures for the webhook tests: Infobip's push examples, a poster, and ledger builders."""

import copy
import json
import uuid
from collections.abc import Callable

import pytest
import responses
from django.conf import settings
from django.test import Client

from campaigns.models import Campaign, Message
from contacts.models import Contact
from infobip.links import webhook_url
from tests.fixtures.examples import EXAMPLES

PUSH_EXAMPLES = {
    "sms_dlr_push_v2": "sms/reports",
    "sms_dlr_push_v3": "sms/reports",
    "whatsapp_dlr_push": "whatsapp/reports",
    "whatsapp_seen_push": "whatsapp/reports",
    "messages_api_dlr_push": "whatsapp/reports",
    "whatsapp_template_update_push": "whatsapp/reports",
    "sms_inbound_push": "sms/inbound",
    "whatsapp_inbound_text": "whatsapp/inbound",
    "whatsapp_inbound_image": "whatsapp/inbound",
    "whatsapp_inbound_button": "whatsapp/inbound",
    "whatsapp_inbound_interactive_button_reply": "whatsapp/inbound",
    "whatsapp_inbound_reaction": "whatsapp/inbound",
    "sms_click_push": "clicks",
}


def example(name: str) -> dict:
    """A fresh copy of one of Infobip's published example bodies."""
    return copy.deepcopy(json.loads((EXAMPLES / f"{name}__spec.json").read_text()))


def path_of(kind: str, token: str | None = None) -> str:
    """The path of webhook `kind` (as links.webhook_url builds it), optionally another token."""
    url = webhook_url(kind).removeprefix(settings.PUBLIC_BASE_URL)
    if token is not None:
        url = url.replace(f"/{settings.INFOBIP_WEBHOOK_TOKEN}/", f"/{token}/")
    return url


@pytest.fixture
def post(client: Client, django_capture_on_commit_callbacks) -> Callable:
    """POST a body to a webhook and run what commits enqueue (processing, eager Celery)."""

    def do(kind: str, body, *, token: str | None = None, raw: bool = False, **extra):
        data = body if raw else json.dumps(body)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                path_of(kind, token), data=data, content_type="application/json", **extra
            )

    return do


def make_ledger(
    n: int,
    *,
    channel: str = "sms",
    state: str = "accepted",
    campaign_state: str = "running",
    prefix: str = "+4479460",
    **campaign_fields,
) -> tuple[Campaign, list[Message]]:
    """A campaign with `n` messages in `state` (counters in step), built with bulk_create.

    `channel` is the ledger's medium; the campaign gets the first channel type of it unless
    `campaign_fields` names one."""
    from channels.registry import types_of_medium

    campaign_fields.setdefault("channel", types_of_medium(channel)[0].name)
    campaign = Campaign.objects.create(
        name=f"c-{uuid.uuid4().hex[:6]}", state=campaign_state, recipients=n, **campaign_fields
    )
    phones = [f"{prefix}{i:05d}" for i in range(n)]
    Contact.objects.bulk_create([Contact(phone=p) for p in phones], ignore_conflicts=True)
    contacts = Contact.objects.filter(phone__in=phones).order_by("phone")
    from django.utils import timezone

    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                campaign=campaign,
                contact=c,
                phone=c.phone,
                channel=channel,
                state=state,
                text="Hello",
                claimed_at=now if state != "queued" else None,
                accepted_at=now if state == "accepted" else None,
                callback_data=f"herald:campaign={campaign.pk}",
            )
            for c in contacts
        ],
        batch_size=1000,
    )
    Campaign.objects.filter(pk=campaign.pk).update(**{f"count_{state}": n})
    campaign.refresh_from_db()
    return campaign, list(Message.objects.filter(campaign=campaign).order_by("id"))


def counts(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {k: v for k, v in campaign.counts.items() if v}


def report(
    message_id: str,
    status: str = "DELIVERED_TO_HANDSET",
    *,
    error: str = "NO_ERROR",
    done_at: str = "2026-11-21T10:00:00.000+0000",
    price: float | None = 0.05,
    parts: int = 1,
) -> dict:
    """One SMS v3 report item in Infobip's shape, with the sandbox's status/error tables."""
    from infobip.sandbox.codes import ERROR_OBJECTS, STATUS_OBJECTS

    item = {
        "bulkId": "b-1",
        "messageId": message_id,
        "to": "447946000000",
        "sender": "Herald",
        "sentAt": "2026-11-21T09:59:00.000+0000",
        "doneAt": done_at,
        "messageCount": parts,
        "status": dict(STATUS_OBJECTS[status]) if status in STATUS_OBJECTS else status,
        "error": dict(ERROR_OBJECTS[error]) if error in ERROR_OBJECTS else error,
    }
    if price is not None:
        item["price"] = {"pricePerMessage": price, "currency": "EUR"}
    return item


@pytest.fixture
def infobip_api():
    """`responses` on the sandbox URL the settings client uses (keyword replies)."""
    base = settings.INFOBIP_SANDBOX_URL.rstrip("/")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(
            responses.POST,
            base + "/sms/3/messages",
            json={
                "bulkId": "reply",
                "messages": [
                    {
                        "messageId": "x",
                        "destination": "x",
                        "status": {
                            "groupId": 1,
                            "groupName": "PENDING",
                            "id": 26,
                            "name": "PENDING_ACCEPTED",
                            "description": "Message sent to next instance",
                        },
                    }
                ],
            },
        )
        mock.add(
            responses.POST,
            base + "/whatsapp/1/message/text",
            json={
                "to": "x",
                "messageCount": 1,
                "messageId": "x",
                "status": {
                    "groupId": 1,
                    "groupName": "PENDING",
                    "id": 7,
                    "name": "PENDING_ENROUTE",
                    "description": "Message sent to next instance",
                },
            },
        )
        yield mock


def sent_bodies(mock: responses.RequestsMock, path: str) -> list[dict]:
    """JSON bodies of the requests `mock` received on `path`."""
    return [json.loads(c.request.body) for c in mock.calls if c.request.url.endswith(path)]


@pytest.fixture
def swap_receiver():
    """Replace the receiver of one item kind for a test; the registry is put back after."""
    from infobip.receivers import receivers_register, receivers_restore, receivers_snapshot

    saved = receivers_snapshot()
    yield lambda kind, fn: receivers_register(**{kind: fn})
    receivers_restore(saved)
