"""Test sends (issue 26 #7): the person's own numbers, national format in the team's region, and
the test's delivery report landing on the test (never on the ledger, never left pending)."""

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from campaigns.models import CampaignTestSend, Message, SavedTestNumber
from campaigns.services import CampaignError, campaign_create, campaign_test_send
from campaigns.testsend import (
    SAVED_MAX,
    destination_parse,
    saved_number_add,
    saved_number_remove,
    team_region,
)
from contacts.models import Contact
from infobip.models import PendingReport
from tests.campaigns.conftest import make_audience
from tests.infobip.webhooks.conftest import report

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("07700 900123", "GB", "+447700900123"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("+44 7700 900123", "", "+447700900123"),
        ("0041 79 302 67 27", "GB", "+41793026727"),
        ("41793026727", "GB", "+41793026727"),  # Infobip's digits: not a valid GB number
    ],
)
def test_numbers_are_read_as_people_type_them(raw, region, expected):
    assert destination_parse(raw, region=region) == expected


def test_a_national_number_without_a_region_says_what_to_type():
    with pytest.raises(ValidationError, match="international format"):
        destination_parse("07700 900123", region="")


def test_the_team_region_is_the_setting_else_most_contacts_country(settings):
    settings.HERALD_DEFAULT_REGION = ""
    assert team_region() == ""
    make_audience(2)  # GB numbers
    assert team_region() == "GB"
    settings.HERALD_DEFAULT_REGION = "fr"
    assert team_region() == "FR"


def test_saved_numbers_are_each_persons_own(settings):
    settings.HERALD_DEFAULT_REGION = "GB"
    ann = User.objects.create_user("ann")
    bob = User.objects.create_user("bob")
    mine = saved_number_add(user=ann, raw="07700 900123", label="My phone")
    again = saved_number_add(user=ann, raw="+447700900123", label="Work phone")
    assert (again.pk, again.label) == (mine.pk, "Work phone")
    assert saved_number_add(user=bob, raw="07700 900123").pk != mine.pk
    with pytest.raises(ValidationError, match="no such test number of yours"):
        saved_number_remove(user=bob, number_id=mine.pk)
    for i in range(SAVED_MAX - 1):
        saved_number_add(user=ann, raw=f"+4477009002{i:02d}")
    with pytest.raises(ValidationError, match=f"you have {SAVED_MAX} test numbers already"):
        saved_number_add(user=ann, raw="+447700900999")
    assert saved_number_remove(user=ann, number_id=mine.pk) == "+447700900123"


def test_a_test_is_kept_and_its_report_lands_on_it(live_sandbox, settings):
    from campaigns.outcomes import reports_apply
    from infobip.types import DeliveryReport

    settings.HERALD_DEFAULT_REGION = "GB"
    sender = User.objects.create_user("sam")
    campaign = campaign_create(
        name="t", channel="sms", lists=[make_audience(1)], text="Hi {{first_name}}"
    )
    campaign_test_send(
        campaign=campaign, contact=Contact.objects.get(), to="07700 900123", sent_by=sender
    )
    test = CampaignTestSend.objects.get()
    assert (test.to, test.state, test.text, test.sent_by) == (
        "+447700900123",
        "accepted",
        "Hi Ann0",
        sender,
    )
    assert Message.objects.count() == 0
    item = report(str(test.message_id), "DELIVERED_TO_HANDSET")
    unknown = reports_apply(items=[("k", DeliveryReport.from_dict(item, channel="SMS"))])
    assert unknown == []  # not left pending for a ledger row that will never come
    test.refresh_from_db()
    assert (test.state, test.status_name) == ("delivered", "DELIVERED_TO_HANDSET")
    assert test.done_at is not None
    assert not PendingReport.objects.exists()


def test_a_test_to_nowhere_is_refused_with_what_to_type(live_sandbox, settings):
    settings.HERALD_DEFAULT_REGION = ""
    campaign = campaign_create(name="t", channel="sms", lists=[make_audience(1)], text="Hi")
    Contact.objects.update(country="")  # no region to read national numbers in
    with pytest.raises(CampaignError, match="international format"):
        campaign_test_send(campaign=campaign, contact=Contact.objects.get(), to="07700 900123")
    assert not CampaignTestSend.objects.exists()


def test_the_commands_save_numbers_and_send_tests(live_sandbox, settings, capsys):
    settings.HERALD_DEFAULT_REGION = "GB"
    User.objects.create_superuser("root", password="x" * 20)
    campaign = campaign_create(name="t", channel="sms", lists=[make_audience(1)], text="Hi")
    call_command("test_number", "add", "07700 900123", "--label", "Mine", "--as", "root")
    call_command("test_number", "list", "--as", "root", "--json")
    assert '"phone": "+447700900123"' in capsys.readouterr().out
    with pytest.raises(CommandError, match="give --as USERNAME"):
        call_command("test_number", "list")
    call_command(
        "campaign", "test", str(campaign.pk), "--to", "07700 900123", "--as", "root", "--json"
    )
    assert '"state": "accepted"' in capsys.readouterr().out
    assert SavedTestNumber.objects.count() == CampaignTestSend.objects.count() == 1
