"""The split test in the marketer's pages: the wizard's section, the campaign page, conversions."""

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, SplitTest, Variant
from core.models import AuditEntry
from tests.ui.conftest import make_audience

pytestmark = pytest.mark.django_db

SPLIT = {
    "split_on": "1",
    "variant_B": "Hello {{first_name}}, 20% off",
    "coupon_B": "SPRING-B",
    "split_share": "20",
    "split_holdout": "5",
    "split_winner_by": "clicks",
    "split_decide_hours": "6",
    "split_if_undecided": "leader",
}


def _through_message(client, **fields):
    audience = make_audience(10)
    client.post(reverse("ui:wizard_audience"), {"name": "Spring", "lists": [audience.pk]})
    body = {"channel": "sms", "text": "Hi {{first_name}}", **fields}
    return client.post(reverse("ui:wizard_message"), body)


def test_the_wizard_makes_a_split_test_and_edits_it_back(marketer_client):
    response = _through_message(marketer_client, **SPLIT)
    assert response["Location"] == reverse("ui:wizard_options")
    marketer_client.post(reverse("ui:wizard_options"), {"send_mode": "now"})
    campaign = Campaign.objects.get(name="Spring")
    split = SplitTest.objects.get(campaign=campaign)
    assert (split.test_share, split.holdout, split.winner_by) == (20, 5, "clicks")
    assert split.decide_after.total_seconds() == 6 * 3600
    variants = list(Variant.objects.filter(campaign=campaign).values_list("name", "text", "coupon"))
    assert variants == [
        ("A", "Hi {{first_name}}", ""),
        ("B", "Hello {{first_name}}, 20% off", "SPRING-B"),
    ]
    # The preview says who gets what and shows every version, rendered.
    preview = marketer_client.get(reverse("ui:campaign_preview", args=[campaign.pk]))
    text = preview.content.decode()
    assert "1 get A, 1 get B; 8 get the winner by clicks, decided 6 hours after launch." in text
    assert "Hello Ann0, 20% off</div>" in text
    # Edit: the section shows what was saved; turning it off removes the split.
    marketer_client.get(reverse("ui:campaign_edit", args=[campaign.pk]))
    page = marketer_client.get(reverse("ui:wizard_message")).content.decode()
    assert 'id="split-on" checked' in page
    assert "Hello {{first_name}}, 20% off</textarea>" in page
    marketer_client.post(reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi"})
    marketer_client.post(reverse("ui:wizard_options"), {"send_mode": "now"})
    assert not SplitTest.objects.filter(campaign=campaign).exists()
    assert not Variant.objects.filter(campaign=campaign).exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"split_share": "90", "split_holdout": "20"}, "add up to more than 100"),
        ({"split_share": "lots"}, "The test share must be a whole number."),
        ({"variant_B": "Hi {{shoe_size}}"}, "Variant B:"),
        ({"split_holdout": "70"}, "The holdout must be 0 to 50"),
    ],
)
def test_the_wizard_says_what_is_wrong_with_the_split(marketer_client, fields, message):
    response = _through_message(marketer_client, **(SPLIT | fields))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="split-on" checked' in response.content.decode()  # nothing typed is lost


def test_the_campaign_page_shows_the_variants_side_by_side_and_the_decision(sender_client):
    audience = make_audience(3)
    from campaigns.services import campaign_create
    from campaigns.split import SplitSpec, VariantSpec

    campaign = campaign_create(
        name="Spring",
        channel="sms",
        lists=[audience],
        variants=[VariantSpec(name="A", text="Hi"), VariantSpec(name="B", text="Hello")],
        test=SplitSpec(share=20, holdout=5),
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    SplitTest.objects.filter(campaign=campaign).update(
        state="testing",
        plan={"variants": [100, 100], "holdout": 50, "rest": 750},
        evaluation={
            "at": timezone.now().isoformat(),
            "metric": "clicks",
            "leader": "B",
            "certain": False,
            "probabilities": {"A": 0.12, "B": 0.88},
            "figures": {
                "1": {"recipients": 100, "delivered": 98, "clicks": 4, "replies": 1},
                "2": {
                    "recipients": 100,
                    "delivered": 97,
                    "clicks": 9,
                    "replies": 0,
                    "conversions": 2,
                    "revenue": "80.00",
                },
            },
            "sizes": {"holdout": 50, "waiting": 750},
        },
        history=[{"at": "x", "p": {"A": 0.5, "B": 0.5}}, {"at": "y", "p": {"A": 0.12, "B": 0.88}}],
    )
    page = sender_client.get(reverse("ui:campaign", args=[campaign.pk])).content.decode()
    assert "Testing: the rest waits for the winner" in page
    assert "750 people wait for the winner" in page
    assert "50 people are held out" in page
    assert "88 %" in page
    assert "leading" in page
    assert '9 <span class="hint">9.3 %</span>' in page
    assert 'id="split-decide"' in page
    response = sender_client.post(
        reverse("ui:campaign_split_decide", args=[campaign.pk]), {"winner": "B"}
    )
    assert response.status_code == 302
    split = SplitTest.objects.get(campaign=campaign)
    assert (split.state, split.winner) == ("releasing", 2)
    assert split.decision == "chosen by sam"
    assert AuditEntry.objects.filter(action="split_decide", campaign=campaign).exists()
    again = sender_client.post(
        reverse("ui:campaign_split_decide", args=[campaign.pk]), {"winner": "A"}, follow=True
    )
    assert "there is nothing to decide" in again.content.decode()


def test_a_marketer_cannot_decide_a_split(marketer_client):
    audience = make_audience(2)
    from campaigns.services import campaign_create
    from campaigns.split import SplitSpec, VariantSpec

    campaign = campaign_create(
        name="S",
        channel="sms",
        lists=[audience],
        variants=[VariantSpec(name="A", text="Hi"), VariantSpec(name="B", text="Yo")],
        test=SplitSpec(share=50),
    )
    SplitTest.objects.filter(campaign=campaign).update(state="testing")
    response = marketer_client.post(
        reverse("ui:campaign_split_decide", args=[campaign.pk]), {"winner": "B"}, follow=True
    )
    assert "Not decided" in response.content.decode()
    assert SplitTest.objects.get(campaign=campaign).state == "testing"


def test_the_conversions_page_lists_and_exports(marketer_client):
    page = marketer_client.get(reverse("ui:conversions"))
    assert page.status_code == 200
    assert b"No conversions yet." in page.content
    export = marketer_client.get(reverse("ui:conversions_export"))
    assert b"".join(export.streaming_content).decode().lstrip("\ufeff").startswith("order_id,")
    missing = marketer_client.get(reverse("ui:conversions"), {"q": "nope"})
    assert b"No conversion with this order id." in missing.content
    hostile = marketer_client.get(reverse("ui:conversions"), {"q": "nope\x00"})
    assert hostile.status_code == 400  # refused by the middleware, before any query
