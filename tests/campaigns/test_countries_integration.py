"""A +91 campaign end to end, on PostgreSQL with a real worker, against the sandbox.

The sandbox gives an Indian SMS without DLT fields the fate Indian operators give it (proved
here first); without DLT the campaign is refused at launch, with them it is sent from India's
sender carrying Infobip's `options.regional.indiaDlt` (every body the sandbox takes is checked
against Infobip's SMS v3 document), delivered and reconciled like any other.
"""

import pytest

from campaigns.editing import campaign_countries_update
from campaigns.models import Campaign, Message
from campaigns.services import CampaignError, campaign_create, campaign_launch
from channels.senders import sender_save
from contacts.models import Contact, ContactList, ListMembership
from core.rules import OPERATOR
from infobip.client import get_client
from infobip.types import SmsMessage
from tests.fixtures.worker import wait_for

pytestmark = pytest.mark.integration

INDIA = ["+919812345670", "+919812345671", "+919812345672"]
BRITAIN = ["+447946000001", "+447946000002"]
ENTITY, TEMPLATE = "1101456789012345678", "1107160000000001"


@pytest.fixture
def engine(celery_worker, sandbox, engine_settings):
    sandbox.configure(outcomes={"delivered": 1.0})
    return celery_worker, sandbox


def _audience() -> ContactList:
    audience = ContactList.objects.create(name="india and britain")
    contacts = Contact.objects.bulk_create(
        [Contact(phone=p, first_name="Asha", country="IN") for p in INDIA]
        + [Contact(phone=p, first_name="Ann", country="GB") for p in BRITAIN]
    )
    ListMembership.objects.bulk_create(
        ListMembership(contact=c, contact_list=audience) for c in contacts
    )
    return audience


def test_the_sandbox_blocks_an_indian_sms_without_dlt_as_the_operators_do(engine) -> None:
    _, sandbox = engine
    get_client().send_sms(
        [SmsMessage(to="919812345679", text="Hi", message_id="no-dlt", sender="HERALD")]
    )
    truth = sandbox.truth("no-dlt")
    assert (truth["outcome"], truth["error"]) == ("undeliverable", "EC_BLOCKED_BY_DLT")
    assert truth["status"] == "UNDELIVERABLE_REJECTED_OPERATOR"


def test_a_plus_91_campaign_is_refused_without_dlt_and_carries_it_end_to_end(engine) -> None:
    worker, sandbox = engine
    campaign = campaign_create(
        name="diwali", channel="sms", lists=[_audience()], text="Happy Diwali {{first_name}}"
    )
    with pytest.raises(CampaignError, match="India"):
        campaign_launch(campaign=campaign, actor=OPERATOR)
    assert sandbox.state()["accepted"]["total"] == 0

    sender_save(channel="sms", country="IN", sender="HERALD", dlt_entity_id=ENTITY, actor=OPERATOR)
    campaign_countries_update(campaign=campaign, actor=OPERATOR, dlt_template_id=TEMPLATE)
    campaign_launch(campaign=campaign, actor=OPERATOR)

    def delivered() -> Campaign | None:
        current = Campaign.objects.get(pk=campaign.pk)
        return current if current.count_delivered == 5 else None

    wait_for(delivered, timeout=60, message=worker.tail())
    for row in Message.objects.filter(campaign=campaign):
        truth = sandbox.truth(str(row.message_id))
        assert truth["outcome"] == "delivered"
        assert truth["copies"] == 1
        if row.phone in INDIA:
            assert truth["sender"] == "HERALD"
            assert truth["regional"] == {
                "indiaDlt": {"principalEntityId": ENTITY, "contentTemplateId": TEMPLATE}
            }
        else:
            assert truth["sender"] == "Herald"  # the default sender elsewhere
            assert truth["regional"] is None
    # The regional fields passed the sandbox's check against Infobip's SMS v3 document.
    assert sandbox.state()["requests"]["rejected400"] == 0
    wait_for(
        lambda: Campaign.objects.get(pk=campaign.pk).state == "completed",
        timeout=30,
        message=worker.tail(),
    )
