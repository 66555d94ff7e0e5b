"""The naive baseline (bench only, loaded with `celery worker -I bench.naive`).

How a campaign sender is commonly written: one Celery task per recipient, one HTTP request per
recipient (requests, a module-level keep-alive session), and the ledger row saved with .save().
"""

import uuid

import requests
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from campaigns.models import Campaign, Message
from contacts.models import Contact
from infobip.links import callback_data, webhook_url

_session = requests.Session()


@shared_task(name="bench.naive.send_one", ignore_result=True)
def send_one(campaign_id: int, contact_id: int) -> None:
    """Render, send and record one recipient."""
    campaign = Campaign.objects.get(pk=campaign_id)
    contact = Contact.objects.get(pk=contact_id)
    text = campaign.text.replace("{{first_name}}", contact.first_name)
    message = Message(
        campaign=campaign,
        contact=contact,
        phone=contact.phone,
        channel="sms",
        message_id=uuid.uuid4(),
        callback_data=callback_data(campaign_id),
        text=text,
        state="sending",
    )
    message.save()
    body = {
        "messages": [
            {
                "sender": "Herald",
                "destinations": [
                    {"to": contact.phone.lstrip("+"), "messageId": str(message.message_id)}
                ],
                "content": {"text": text},
                "webhooks": {
                    "delivery": {"url": webhook_url("sms/reports")},
                    "callbackData": message.callback_data,
                },
            }
        ]
    }
    response = _session.post(
        settings.INFOBIP_SANDBOX_URL + "/sms/3/messages",
        json=body,
        headers={"Authorization": f"App {settings.INFOBIP_SANDBOX_API_KEY}"},
        timeout=30,
    )
    response.raise_for_status()
    status = response.json()["messages"][0]["status"]
    message.state = "accepted"
    message.status_group = status["groupName"]
    message.status_name = status["name"]
    message.accepted_at = timezone.now()
    message.save()
