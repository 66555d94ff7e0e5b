"""Audiences on PostgreSQL with a real worker on Redis, against the sandbox (issue #17)."""

import datetime as dt
import time
import zoneinfo

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.services import campaign_create, campaign_launch, campaign_status
from campaigns.tasks import sweep
from contacts.models import Contact, ContactList, ListMembership
from contacts.phones import candidate_zones
from core.rules import OPERATOR
from tests.fixtures.worker import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(celery_worker, sandbox, engine_settings):
    return celery_worker, sandbox


def _window_opening_at(phone: str, opens_at: dt.datetime) -> tuple[dt.time, dt.time]:
    """A 10-hour window that opens, for every candidate zone of `phone` at once, at `opens_at`.

    The last zone to reach the start is the westernmost, so the start is its local time then;
    the zones further east are inside already (they span less than 10 hours).
    """
    zones = [zoneinfo.ZoneInfo(z) for z in candidate_zones(phone)]
    west = min(zones, key=lambda z: opens_at.astimezone(z).utcoffset())
    start = opens_at.astimezone(west).replace(tzinfo=None)
    return start.time(), (start + dt.timedelta(hours=10)).time()


def test_plus1_and_plus61_numbers_without_a_zone_wait_for_the_window_in_all_zones(
    engine,
) -> None:
    worker, sandbox = engine
    opens_at = (timezone.now() + dt.timedelta(seconds=25)).replace(microsecond=0)
    campaigns = []
    for phone, country in (("+12015550123", "US"), ("+61412345678", "AU")):
        assert len(candidate_zones(phone)) >= 1
        audience = ContactList.objects.create(name=country)
        contact = Contact.objects.create(phone=phone, country=country, timezone="")
        ListMembership.objects.create(contact=contact, contact_list=audience)
        campaign = campaign_create(
            name=f"quiet {country}",
            channel="sms",
            lists=[audience],
            text="Hi",
            quiet_hours=_window_opening_at(phone, opens_at),
            sender="+12025550100",  # the US refuses SMS from a name (docs/COUNTRIES.md)
        )
        campaign_launch(campaign=campaign, actor=OPERATOR)
        campaigns.append(campaign)
    assert len(candidate_zones("+61412345678")) > 3  # a mobile: every Australian zone
    for campaign in campaigns:
        wait_for(lambda c=campaign: Campaign.objects.get(pk=c.pk).frozen_at, timeout=30)
        (row,) = Message.objects.filter(campaign=campaign)
        assert (row.state, row.not_before) == ("queued", opens_at)
        assert campaign_status(campaign=campaign)["waiting"]["quiet_hours"] == 1
    # Held: the worker's chains find nothing they may send before the window opens.
    while timezone.now() < opens_at - dt.timedelta(seconds=3):
        sweep.delay()
        time.sleep(1)
        assert sandbox.state()["accepted"]["total"] == 0

    def handed() -> bool:
        sweep.delay()
        return not Message.objects.filter(campaign__in=campaigns, state="queued").exists()

    wait_for(handed, timeout=90, interval=1.0, message=worker.tail())
    assert sandbox.state()["accepted"]["total"] == 2
    for row in Message.objects.filter(campaign__in=campaigns):
        assert row.claimed_at >= opens_at


def test_a_frequency_cap_skips_the_over_messaged_and_the_worker_sends_the_rest(
    engine, settings
) -> None:
    from campaigns.freeze import campaign_freeze
    from campaigns.tasks import send_batch
    from tests.campaigns.conftest import make_audience

    worker, sandbox = engine
    # The freeze runs here, under this process's cap (the worker's environment has none).
    settings.HERALD_FREQUENCY_CAPS = [{"messages": 2, "days": 7, "channel": "sms"}]
    audience = make_audience(6, name="capped")
    contacts = list(Contact.objects.order_by("id"))
    over = contacts[:2]
    for _ in range(2):
        earlier = Campaign.objects.create(name="earlier", channel="sms", text="x")
        Message.objects.bulk_create(
            [
                Message(
                    campaign=earlier, contact=c, phone=c.phone, channel="sms", state="delivered"
                )
                for c in over
            ]
        )
    campaign = campaign_create(name="capped", channel="sms", lists=[audience], text="Hi")
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=timezone.now())
    campaign_freeze(campaign=campaign)
    send_batch.delay(campaign.pk)

    def handed() -> bool:
        return not Message.objects.filter(
            campaign=campaign, state__in=["queued", "sending"]
        ).exists()

    wait_for(handed, timeout=60, message=worker.tail())
    skipped = Message.objects.filter(campaign=campaign, state="skipped")
    assert {m.contact_id for m in skipped} == {c.pk for c in over}
    assert {m.reason for m in skipped} == {"frequency cap: 2 sms messages in 7 days reached"}
    assert sandbox.state()["accepted"]["total"] == 4


def test_a_budget_cap_pauses_a_running_campaign_when_spend_reaches_it(engine, settings) -> None:
    from decimal import Decimal

    from tests.campaigns.conftest import make_audience

    worker, sandbox = engine
    # The estimate (this process's price table) fits; Infobip (the sandbox) charges 0.005 per
    # SMS, so 20 reported messages reach the 0.10 cap, long before the 400 are sent.
    settings.HERALD_PRICES = {"currency": "EUR", "sms": {"default": "0.0002"}}
    audience = make_audience(400, name="budget")
    campaign = campaign_create(
        name="budget",
        channel="sms",
        lists=[audience],
        text="Hi",
        max_spend=Decimal("0.10"),
        speed_limit=10,
        speed_unit="second",
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)
    wait_for(
        lambda: Campaign.objects.get(pk=campaign.pk).state == "paused",
        timeout=90,
        interval=0.5,
        message=worker.tail(),
    )
    campaign = Campaign.objects.get(pk=campaign.pk)
    assert campaign.state_reason.startswith("budget cap reached: spent ")
    assert campaign.cost_amount >= Decimal("0.10")
    assert sandbox.state()["accepted"]["total"] < 400
    assert campaign.count_queued > 0


def test_infobip_format_and_00_numbers_import_on_postgresql(engine, tmp_path) -> None:
    import io

    from django.core.management import call_command

    path = tmp_path / "infobip.csv"
    path.write_text("phone,first_name\n41793026727,Infobip\n0041 79 302 67 28,Zero\n")
    for region in ([], ["--default-region", "GB"]):
        Contact.objects.all().delete()
        out, err = io.StringIO(), io.StringIO()
        call_command("import_contacts", str(path), *region, stdout=out, stderr=err)
        assert "created=2" in out.getvalue()
        assert "rejected=0" in out.getvalue()
        assert set(Contact.objects.values_list("phone", flat=True)) == {
            "+41793026727",
            "+41793026728",
        }
    assert "INTERNATIONAL_DIGITS" in err.getvalue()  # the GB run says which reading it took


def test_the_opt_out_link_a_recipient_got_needs_the_confirming_click(engine) -> None:
    import re

    import requests

    from tests.campaigns.conftest import make_audience

    worker, _ = engine
    audience = make_audience(2, name="links")
    campaign = campaign_create(
        name="links", channel="sms", lists=[audience], text="Sale! Stop: {{opt_out_url}}"
    )
    campaign_launch(campaign=campaign, actor=OPERATOR)

    def sent() -> bool:
        frozen = Campaign.objects.get(pk=campaign.pk).frozen_at is not None
        busy = Message.objects.filter(campaign=campaign, state__in=["queued", "sending"])
        return frozen and not busy.exists()

    wait_for(sent, timeout=60, message=worker.tail())
    assert Message.objects.filter(campaign=campaign).exclude(state="skipped").count() == 2
    row = Message.objects.filter(campaign=campaign).order_by("id").first()
    url = re.search(r"https?://\S+/o/\S+", row.text).group(0)
    session = requests.Session()
    page = session.get(url, timeout=10)  # what a link scanner does
    assert page.status_code == 200
    assert 'id="opt-out-confirm"' in page.text
    assert Contact.objects.get(pk=row.contact_id).opted_out is False
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = session.post(
        url,
        data={"scope": "all", "csrfmiddlewaretoken": token},
        headers={"Referer": url},
        timeout=10,
    )
    assert done.status_code == 200
    assert "You will get no more messages" in done.text
    contact = Contact.objects.get(pk=row.contact_id)
    assert (contact.opted_out, contact.opted_out_source) == (True, "link")
    other = Message.objects.filter(campaign=campaign).exclude(pk=row.pk).get()
    assert Contact.objects.get(pk=other.contact_id).opted_out is False


def test_an_opt_in_keyword_with_double_opt_in_ends_with_consent_and_its_wording(engine) -> None:
    from contacts.consent import opt_in_keyword_save
    from contacts.models import ConsentEvent, OptInKeyword
    from infobip.links import webhook_url
    from infobip.models import InboundMessage

    worker, sandbox = engine
    prompt = "Reply YES for Shop alerts: 4 msgs/month, msg & data rates may apply. STOP to end."
    terms = "You're in! Shop alerts, 4 msgs/month. Msg & data rates may apply. HELP/STOP."
    joined = ContactList.objects.create(name="a")
    opt_in_keyword_save(
        keyword=OptInKeyword(
            keyword="JOIN",
            number="447860099299",
            contact_list=joined,
            confirmation_text=terms,
            double_opt_in=True,
            confirm_prompt=prompt,
        )
    )
    phone = "447946000077"

    def replied(n: int):
        return lambda: InboundMessage.objects.filter(reply_status="sent").count() >= n

    sandbox.inbound("sms", phone, "join", to="447860099299", url=webhook_url("sms/inbound"))
    wait_for(replied(1), timeout=30, message=worker.tail())
    contact = Contact.objects.get(phone="+" + phone)
    assert not contact.lists.exists()
    assert not ConsentEvent.objects.filter(contact=contact).exists()
    sandbox.inbound("sms", phone, "YES", to="447860099299", url=webhook_url("sms/inbound"))
    wait_for(replied(2), timeout=30, message=worker.tail())
    (event,) = ConsentEvent.objects.filter(contact=contact)
    assert (event.action, event.source, event.channel) == ("opt_in", "keyword", "sms")
    assert (event.wording, event.wording_version) == (prompt, 1)
    assert list(contact.lists.values_list("name", flat=True)) == ["a"]
    texts = list(
        InboundMessage.objects.order_by("received_at").values_list("reply_text", flat=True)
    )
    assert texts == [prompt, terms]


def test_an_engagement_segment_selects_exactly_the_right_contacts_and_the_worker_sends_them(
    engine,
) -> None:
    from campaigns.segments import segment_count, segment_save
    from infobip.models import Click
    from tests.campaigns.conftest import make_audience

    worker, sandbox = engine
    make_audience(6, name="everyone")
    c = list(Contact.objects.order_by("id"))
    now = timezone.now()
    earlier = Campaign.objects.create(name="earlier", channel="sms", text="x", state="completed")
    history = {
        0: ("delivered", 2),
        1: ("delivered", 20),
        2: ("undeliverable", 2),
        3: ("skipped", 2),
        4: ("delivered", 2),
    }
    rows = Message.objects.bulk_create(
        [
            Message(campaign=earlier, contact=c[i], phone=c[i].phone, channel="sms", state=state)
            for i, (state, _) in history.items()
        ]
    )
    for row, (_, days) in zip(rows, history.values(), strict=True):
        Message.objects.filter(pk=row.pk).update(created_at=now - dt.timedelta(days=days))
    Click.objects.create(message=rows[4], clicked_at=now - dt.timedelta(days=1))
    # Delivered within 7 days but did not click; or never messaged at all (5, and 3: skipped).
    rules = {
        "match": "any",
        "rules": [
            {
                "match": "all",
                "rules": [
                    {"field": "engagement", "event": "delivered", "within_days": 7},
                    {"field": "engagement", "event": "clicked", "negate": True},
                ],
            },
            {"field": "engagement", "event": "messaged", "negate": True},
        ],
    }
    segment = segment_save(name="engaged", rules=rules)
    assert segment_count(segment=segment) == 3
    campaign = campaign_create(name="seg", channel="sms", lists=[], text="Hi", segment=segment)
    campaign_launch(campaign=campaign, actor=OPERATOR)

    def sent() -> bool:
        frozen = Campaign.objects.get(pk=campaign.pk).frozen_at is not None
        busy = Message.objects.filter(campaign=campaign, state__in=["queued", "sending"])
        return frozen and not busy.exists()

    wait_for(sent, timeout=60, message=worker.tail())
    chosen = set(Message.objects.filter(campaign=campaign).values_list("contact_id", flat=True))
    assert chosen == {c[0].pk, c[3].pk, c[5].pk}
    assert sandbox.state()["accepted"]["total"] == 3
