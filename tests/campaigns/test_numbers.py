"""Numbers as Infobip writes them, where a campaign takes one (test sends)."""

import pytest

from campaigns.services import CampaignError, campaign_create, campaign_test_send
from contacts.models import Contact
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("to", ["41793026727", "0041793026727", "+41 79 302 67 27"])
def test_a_test_send_takes_infobip_format_and_00_numbers(live_sandbox, to) -> None:
    campaign = campaign_create(name="t", channel="sms", lists=[make_audience(1)], text="Hi")
    (sent,) = campaign_test_send(campaign=campaign, contact=Contact.objects.get(), to=to).messages
    assert sent.to == "41793026727"


def test_a_national_number_is_read_in_the_team_region_else_refused(live_sandbox, settings):
    settings.HERALD_DEFAULT_REGION = "GB"
    campaign = campaign_create(name="t", channel="sms", lists=[make_audience(1)], text="Hi")
    (sent,) = campaign_test_send(
        campaign=campaign, contact=Contact.objects.get(), to="07400 123456"
    ).messages
    assert sent.to == "447400123456"
    settings.HERALD_DEFAULT_REGION = ""
    Contact.objects.update(country="")  # and no contacts' country to go by
    with pytest.raises(CampaignError, match="give it in international format"):
        campaign_test_send(campaign=campaign, contact=Contact.objects.get(), to="07400 123456")
