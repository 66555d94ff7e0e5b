"""Segments in the UI: the wizard's audience and exclusion, their live count, the segment page."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Segment
from tests.ui.conftest import make_audience

pytestmark = pytest.mark.django_db

OTHERS = {"match": "all", "rules": [{"field": "phone", "op": "startswith", "value": "+4479461"}]}
ONE = {"match": "all", "rules": [{"field": "phone", "op": "eq", "value": "+447946000001"}]}


@pytest.fixture
def segments():
    make_audience(2, name="Others", prefix="+4479461")  # in no chosen list: only the segment
    return (
        Segment.objects.create(name="Others by number", rules=OTHERS),
        Segment.objects.create(name="Just one", rules=ONE),
    )


def _eligible(response) -> str:
    body = response.content.decode()
    return body.split('<strong id="audience-eligible">')[1].split("<")[0]


def test_the_live_count_adds_a_segment_and_takes_out_an_exclusion_segment(
    marketer_client, segments
) -> None:
    audience = make_audience(4)
    others, one = segments
    count = reverse("ui:wizard_count")
    assert _eligible(marketer_client.post(count, {"lists": [audience.pk]})) == "4"
    assert _eligible(marketer_client.post(count, {"segment": others.pk})) == "2"
    both = {"lists": [audience.pk], "segment": others.pk, "exclude_segment": one.pk}
    assert _eligible(marketer_client.post(count, both)) == "5"
    # Ids that name nothing count as no segment, never a 500.
    for bad in ("abc", "-1", "999999", "1e9", ""):
        response = marketer_client.post(
            count, {"lists": [audience.pk], "segment": bad, "exclude_segment": bad}
        )
        assert response.status_code == 200
        assert _eligible(response) == "4"


def test_the_wizard_saves_the_segment_and_the_exclusion_segment(marketer_client, segments) -> None:
    audience = make_audience(4)
    others, one = segments
    page = marketer_client.get(reverse("ui:wizard_audience")).content.decode()
    assert 'name="segment"' in page
    assert 'name="exclude_segment"' in page
    assert "Others by number" in page
    response = marketer_client.post(
        reverse("ui:wizard_audience"),
        {"name": "Seg", "lists": [audience.pk], "segment": others.pk, "exclude_segment": one.pk},
    )
    assert response["Location"] == reverse("ui:wizard_message")
    marketer_client.post(reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi"})
    response = marketer_client.post(
        reverse("ui:wizard_options"), {"send_mode": "now", "speed_unit": "minute"}
    )
    campaign = Campaign.objects.get(name="Seg")
    assert response["Location"] == reverse("ui:campaign_preview", args=[campaign.pk])
    assert (campaign.segment, campaign.exclude_segment) == (others, one)
    preview = marketer_client.get(response["Location"]).content.decode()
    assert 'id="preview-messages">5<' in preview

    # Editing shows what was saved, and can drop the exclusion.
    marketer_client.get(reverse("ui:campaign_edit", args=[campaign.pk]))
    page = marketer_client.get(reverse("ui:wizard_audience") + "?edit=1").content.decode()
    assert f'<option value="{others.pk}" selected>' in page
    marketer_client.post(
        reverse("ui:wizard_audience"), {"name": "Seg", "lists": [audience.pk], "segment": others.pk}
    )
    marketer_client.post(reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi"})
    marketer_client.post(reverse("ui:wizard_options"), {"send_mode": "now", "speed_unit": "minute"})
    campaign.refresh_from_db()
    assert (campaign.segment, campaign.exclude_segment) == (others, None)


def test_a_segment_alone_is_an_audience(marketer_client, segments) -> None:
    others, _ = segments
    response = marketer_client.post(reverse("ui:wizard_audience"), {"name": "Only seg"})
    assert response.status_code == 400
    assert b"Choose at least one list or a segment" in response.content
    response = marketer_client.post(
        reverse("ui:wizard_audience"), {"name": "Only seg", "segment": others.pk}
    )
    assert response["Location"] == reverse("ui:wizard_message")
    assert marketer_client.get(reverse("ui:wizard_message")).status_code == 200
    marketer_client.post(reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi"})
    marketer_client.post(reverse("ui:wizard_options"), {"send_mode": "now", "speed_unit": "minute"})
    campaign = Campaign.objects.get(name="Only seg")
    assert campaign.segment == others
    assert list(campaign.lists.all()) == []


def test_the_segment_page_lists_rules_in_words_and_live_counts(marketer_client, segments) -> None:
    others, _one = segments
    home = marketer_client.get(reverse("ui:dashboard")).content.decode()
    assert f'href="{reverse("ui:segments")}"' in home
    page = marketer_client.get(reverse("ui:segments")).content.decode()
    assert "Others by number" in page
    assert "phone starts with +4479461" in page
    assert reverse("ui:segment_count", args=[others.pk]) in page
    assert "<script" not in page.split("<main")[1]
    assert " onclick=" not in page
    count = marketer_client.get(reverse("ui:segment_count", args=[others.pk]))
    assert count.content.decode().strip() == "2"
    assert marketer_client.get(reverse("ui:segment_count", args=[99999])).status_code == 404


def test_the_segment_page_needs_a_login(client) -> None:
    assert client.get(reverse("ui:segments")).status_code == 302


def test_a_duplicate_keeps_the_segments(marketer_client, segments) -> None:
    from campaigns.editing import campaign_duplicate
    from campaigns.services import campaign_create

    others, one = segments
    campaign = campaign_create(
        name="S", channel="sms", lists=[], text="Hi", segment=others, exclude_segment=one
    )
    copy = campaign_duplicate(campaign=campaign, created_by=None)
    assert (copy.segment, copy.exclude_segment) == (others, one)


def test_a_segment_audience_gets_the_placeholder_checks_of_a_list_audience(
    marketer_client, segments
) -> None:
    """Its columns are known placeholders and its contacts without a value are counted."""
    from contacts.models import Contact

    others, _ = segments
    Contact.objects.filter(phone="+447946100000").update(attributes={"city": "Leeds"})
    Contact.objects.filter(phone="+447946100001").update(first_name="", attributes={"city": ""})
    marketer_client.post(reverse("ui:wizard_audience"), {"name": "Seg", "segment": others.pk})
    counter = marketer_client.post(reverse("ui:sms_counter"), {"text": "Hi {{first_name}}"})
    assert 'id="sms-missing">1 of the first contacts' in counter.content.decode()
    # {{city}} is a column of the segment's contacts only: known, not "Unknown placeholder".
    response = marketer_client.post(
        reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi {{city}}"}
    )
    assert response.status_code == 302, response.content.decode()
    response = marketer_client.post(
        reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi {{shoe}}"}
    )
    assert b"Unknown placeholder {{shoe}}" in response.content
