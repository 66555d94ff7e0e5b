"""Data behind every marketer page, for the browser sweep (test_browser_day's every-page test):
a draft, a scheduled campaign, a finished WhatsApp campaign whose SMS failover reached some of
the people WhatsApp missed, a conversation, a template, an import, a segment and a keyword."""

import datetime as dt

from django.utils import timezone

from campaigns.models import Campaign, FailoverMode, Message, Segment, Snippet
from campaigns.services import campaign_create, campaign_launch
from campaigns.states import CampaignState
from contacts.models import Contact, ContactList, OptInKeyword
from core.rules import OPERATOR
from infobip.models import InboundMessage
from tests.factories import make_audience
from ui.models import ImportJob
from whatsapp.models import WhatsAppTemplate


def failover_campaign(audience: ContactList) -> Campaign:
    """Finished WhatsApp campaign to 3 people: 1 delivered by WhatsApp; of the 2 it missed, the
    SMS failover reached 1. Counters as the engine keeps them (attempts, not people)."""
    contacts = list(audience.contacts.order_by("id")[:3])
    campaign = Campaign.objects.create(
        name="WhatsApp welcome",
        channel="whatsapp_text",
        text="Hola {{first_name}}",
        failover_mode=FailoverMode.HERALD,
        failover_text="Hi {{first_name}}",
        state=CampaignState.COMPLETED,
        recipients=3,
        launched_at=timezone.now(),
        finished_at=timezone.now(),
        count_delivered=2,
        count_undeliverable=3,
        failover_sent=2,
        failover_delivered=1,
    )
    campaign.lists.set([audience])
    states = ["delivered", "undeliverable", "undeliverable"]
    for contact, state in zip(contacts, states, strict=True):
        first = Message.objects.create(
            campaign=campaign,
            contact=contact,
            phone=contact.phone,
            channel="whatsapp",
            text=f"Hola {contact.first_name}",
            state=state,
            done_at=timezone.now(),
        )
        if state == "undeliverable":
            Message.objects.create(
                campaign=campaign,
                contact=contact,
                phone=contact.phone,
                channel="sms",
                attempt=2,
                replaces=first,
                text=f"Hi {contact.first_name}",
                state="delivered" if contact == contacts[1] else "undeliverable",
                done_at=timezone.now(),
            )
    return campaign


def split_campaign(audience: ContactList) -> Campaign:
    """A running split test (A/B, 20 % test, 5 % holdout) as the sweep leaves it: figures,
    chances that moved, the lift so far, and a credited conversion."""
    from campaigns.models import SplitTest
    from campaigns.split import SplitSpec, VariantSpec
    from conversions.lift import Group, lift_figures
    from conversions.services import conversions_record

    campaign = campaign_create(
        name="Spring split",
        channel="sms",
        lists=[audience],
        variants=[
            VariantSpec(name="A", text="Hi {{first_name}}, spring is here"),
            VariantSpec(name="B", text="{{first_name}}, 20% off", coupon="SPRING20"),
        ],
        test=SplitSpec(share=20, holdout=5),
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        state=CampaignState.RUNNING, launched_at=timezone.now(), recipients=250
    )
    lift = lift_figures(Group(950, 38, 1520.0, 38 * 40.0**2), Group(50, 1, 40.0, 1600.0))
    SplitTest.objects.filter(campaign=campaign).update(
        state=SplitTest.State.TESTING,
        plan={"variants": [100, 100], "holdout": 50, "rest": 750},
        evaluation={
            "at": timezone.now().isoformat(),
            "metric": "clicks",
            "leader": "B",
            "certain": False,
            "probabilities": {"A": 0.09, "B": 0.91},
            "figures": {
                "1": {
                    "recipients": 100,
                    "delivered": 97,
                    "clicks": 6,
                    "replies": 2,
                    "conversions": 1,
                    "revenue": "40.00",
                },
                "2": {
                    "recipients": 100,
                    "delivered": 98,
                    "clicks": 13,
                    "replies": 1,
                    "conversions": 3,
                    "revenue": "120.00",
                },
            },
            "sizes": {"holdout": 50, "waiting": 750, "rest": 0},
            "lift": lift,
        },
        history=[
            {"at": str(i), "p": {"A": 0.5 - i * 0.04, "B": 0.5 + i * 0.04}} for i in range(11)
        ],
    )
    conversions_record(items=[{"order_id": "page-1", "value": "40.00"}])
    return campaign


def _journey():
    """A live abandoned-cart journey with one contact in it (for the journey pages)."""
    from journeys.events import events_record
    from journeys.services import journey_activate, journey_create
    from ui.journey_forms import starter

    journey = journey_create(definition=starter("cart", "Abandoned cart"), actor=OPERATOR)
    journey_activate(journey=journey, actor=OPERATOR)
    events_record(
        events=[
            {
                "name": "cart_abandoned",
                "contact": {"phone": "+447946000301"},
                "key": "cart-1",
                "properties": {"item": "red shoes"},
            }
        ]
    )
    return journey


def every_page_paths(user) -> dict[str, str]:
    """Build the data and answer {screenshot name: path} for every marketer page."""
    audience = ContactList.objects.filter(name="Customers").first() or make_audience(
        3, name="Customers"
    )
    draft = campaign_create(
        name="A campaign with a rather long name that must wrap on a phone screen",
        channel="sms",
        lists=[audience],
        text="Hi {{first_name}}",
        speed_limit=60,
        quiet_hours=(dt.time(9), dt.time(20)),
        created_by=user,
    )
    scheduled = campaign_create(
        name="Scheduled",
        channel="sms",
        lists=[audience],
        text="Hi {{first_name}}",
        send_at=timezone.now() + dt.timedelta(days=1),
    )
    campaign_launch(campaign=scheduled, actor=OPERATOR)
    finished = failover_campaign(audience)
    contact = Contact.objects.order_by("id").first()
    assert contact is not None
    InboundMessage.objects.create(
        channel="whatsapp",
        contact=contact,
        infobip_message_id="page-1",
        from_number=contact.phone.lstrip("+"),
        to_number="447860099299",
        text="Do you deliver on Sundays?",
        received_at=timezone.now(),
    )
    template = WhatsAppTemplate.objects.create(
        sender="447860099299",
        name="welcome",
        language="en",
        status="APPROVED",
        category="MARKETING",
        body_text="Hello {{1}}",
    )
    job = ImportJob.objects.create(
        original_name="people.csv",
        list_name="Customers",
        status=ImportJob.Status.DONE,
        total=4,
        processed=4,
        created=3,
        rejected=1,
        created_by=user,
    )
    Segment.objects.create(
        name="Leeds",
        rules={"match": "all", "rules": [{"field": "country", "op": "eq", "value": "GB"}]},
    )
    Snippet.objects.create(name="Footer", text="Reply STOP to opt out")
    OptInKeyword.objects.create(
        keyword="JOIN", contact_list=audience, confirmation_text="Herald news: 2/month. STOP to end"
    )
    split = split_campaign(audience)
    journey = _journey()
    return {
        "campaign-split": f"/campaigns/{split.pk}/",
        "conversions": "/conversions/",
        "conversion-explained": "/conversions/?q=page-1",
        "journeys": "/journeys/",
        "journey": f"/journeys/{journey.pk}/",
        "journey-people": f"/journeys/{journey.pk}/people/",
        "dashboard": "/",
        "campaigns": "/campaigns/",
        "reports": "/reports/",
        "calendar": "/calendar/",
        "snippets": "/snippets/",
        "reports-compare": f"/reports/?ids={finished.pk}&ids={scheduled.pk}",
        "wizard-audience": "/campaigns/new/",
        "preview": f"/campaigns/{draft.pk}/preview/",
        "confirm-launch": f"/campaigns/{draft.pk}/do/launch/",
        "campaign-edit": f"/campaigns/{draft.pk}/edit/",
        "campaign-delete": f"/campaigns/{draft.pk}/delete/",
        "campaign-scheduled": f"/campaigns/{scheduled.pk}/",
        "reschedule": f"/campaigns/{scheduled.pk}/reschedule/",
        "confirm-cancel": f"/campaigns/{scheduled.pk}/do/cancel/",
        "campaign-failover": f"/campaigns/{finished.pk}/",
        "campaign-archive": f"/campaigns/{finished.pk}/archive/",
        "recipients": f"/campaigns/{finished.pk}/recipients/",
        "contacts": "/contacts/",
        "contact": f"/contacts/{contact.pk}/",
        "contact-new": "/contacts/new/",
        "contact-edit": f"/contacts/{contact.pk}/edit/",
        "contact-delete": f"/contacts/{contact.pk}/delete/",
        "contact-erase": f"/contacts/{contact.pk}/erase/",
        "lists": "/lists/",
        "list": f"/lists/{audience.pk}/",
        "list-delete": f"/lists/{audience.pk}/delete/",
        "import": "/contacts/import/",
        "import-job": f"/imports/{job.pk}/",
        "segments": "/segments/",
        "keywords": "/keywords/",
        "templates": "/templates/",
        "template": f"/templates/{template.pk}/",
        "inbox": "/inbox/",
        "thread": f"/inbox/contact/{contact.pk}/",
        "approvals": "/approvals/",
        "audit": "/audit/",
        "settings": "/settings/",
        "api-settings": "/settings/api/",
    }
