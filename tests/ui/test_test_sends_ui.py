"""Send a test from the preview (issue 26 #7): the person's own numbers, never a customer's, and
each test's delivery result; the numbers kept on the settings page."""

import pytest
from django.urls import reverse

from campaigns.models import CampaignTestSend, SavedTestNumber
from campaigns.services import campaign_create
from campaigns.testsend import saved_number_add
from tests.ui.conftest import make_audience

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(marketer, settings):
    settings.HERALD_DEFAULT_REGION = "GB"
    return campaign_create(
        name="Tested",
        channel="sms",
        lists=[make_audience(2)],
        text="Hi {{first_name}}",
        created_by=marketer,
    )


def test_the_test_box_is_never_filled_with_a_customers_number(marketer_client, marketer, draft):
    page = marketer_client.get(reverse("ui:campaign_preview", args=[draft.pk])).content.decode()
    customer = draft.lists.get().contacts.first().phone
    assert customer not in page.split('id="tests"')[1]
    assert 'name="to" value=""' in page
    assert "or national format in GB" in page
    saved_number_add(user=marketer, raw="07700 900123", label="My phone")
    page = marketer_client.get(reverse("ui:campaign_preview", args=[draft.pk])).content.decode()
    assert "My phone · +447700900123" in page


def test_a_saved_number_or_a_typed_one_gets_the_test_and_its_result(
    marketer_client, marketer, draft, live_sandbox
):
    mine = saved_number_add(user=marketer, raw="07700 900123", label="My phone")
    response = marketer_client.post(
        reverse("ui:campaign_test", args=[draft.pk]), {"saved": str(mine.pk)}
    )
    assert response.status_code == 302
    # A national number typed, and kept for next time.
    marketer_client.post(
        reverse("ui:campaign_test", args=[draft.pk]),
        {"saved": "", "to": "07700 900456", "save": "on", "label": "Desk"},
    )
    assert list(CampaignTestSend.objects.values_list("to", flat=True).order_by("id")) == [
        "+447700900123",
        "+447700900456",
    ]
    assert SavedTestNumber.objects.filter(user=marketer, label="Desk").exists()
    CampaignTestSend.objects.filter(to="+447700900123").update(
        state="delivered", status_name="DELIVERED_TO_HANDSET"
    )
    fragment = marketer_client.get(reverse("ui:campaign_tests", args=[draft.pk])).content.decode()
    assert "Delivered" in fragment
    assert "On its way" in fragment  # the second one: its fragment keeps polling
    assert 'hx-trigger="every 2s"' in fragment


def test_a_bad_number_is_refused_in_words_and_nothing_is_sent(marketer_client, draft):
    response = marketer_client.post(
        reverse("ui:campaign_test", args=[draft.pk]), {"saved": "", "to": "call me"}, follow=True
    )
    assert "&#x27;call me&#x27; is not a phone number" in response.content.decode()
    assert not CampaignTestSend.objects.exists()


def test_the_settings_page_keeps_the_persons_numbers(marketer_client, marketer, settings):
    settings.HERALD_DEFAULT_REGION = "GB"
    response = marketer_client.post(
        reverse("ui:test_numbers"), {"phone": "07700 900123", "label": "My phone"}
    )
    assert response["Location"] == reverse("ui:preferences") + "#test-numbers"
    page = marketer_client.get(reverse("ui:preferences")).content.decode()
    assert "My phone · +447700900123" in page
    bad = marketer_client.post(reverse("ui:test_numbers"), {"phone": "12", "label": "x"})
    assert bad.status_code == 400
    assert 'id="err-phone"' in bad.content.decode()
    saved = SavedTestNumber.objects.get()
    marketer_client.post(reverse("ui:test_numbers"), {"remove": str(saved.pk)})
    assert not SavedTestNumber.objects.exists()
