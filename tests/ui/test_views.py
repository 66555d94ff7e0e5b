"""Marketer UI views through Django's test client: access rules, wizard, actions, import."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.rendering import sms_segments
from campaigns.services import campaign_create
from campaigns.states import CampaignState
from contacts.models import ConsentEvent, Contact, ContactList
from infobip.models import InboundMessage
from tests.ui.conftest import make_audience, make_user
from ui.models import AuditEntry, CampaignApproval, ImportJob
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(marketer) -> Campaign:
    audience = make_audience(3)
    return campaign_create(
        name="Spring",
        channel="sms",
        lists=[audience],
        text="Hi {{first_name}}!",
        created_by=marketer,
    )


def page_urls(campaign: Campaign) -> list[str]:
    contact = Contact.objects.first()
    job = ImportJob.objects.create(file="imports/x.csv", original_name="x.csv")
    return [
        reverse("ui:dashboard"),
        reverse("ui:dashboard_campaigns"),
        reverse("ui:audit"),
        reverse("ui:contacts"),
        reverse("ui:contact", args=[contact.pk]),
        reverse("ui:contact_import"),
        reverse("ui:import", args=[job.pk]),
        reverse("ui:lists"),
        reverse("ui:templates"),
        reverse("ui:campaigns"),
        reverse("ui:wizard_audience"),
        reverse("ui:campaign", args=[campaign.pk]),
        reverse("ui:campaign_preview", args=[campaign.pk]),
        reverse("ui:campaign_progress", args=[campaign.pk]),
        reverse("ui:campaign_recipients", args=[campaign.pk]),
        reverse("ui:campaign_export", args=[campaign.pk]),
        reverse("ui:inbox"),
    ]


def test_anonymous_is_sent_to_login_from_every_page(client, campaign):
    for url in page_urls(campaign):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("ui:login")), url
    for name in ("launch", "pause", "cancel"):
        response = client.post(reverse("ui:campaign_action", args=[campaign.pk, name]))
        assert response.status_code == 302


def test_marketer_sees_every_page(marketer_client, campaign):
    for url in page_urls(campaign):
        response = marketer_client.get(url)
        assert response.status_code == 200, url


def test_user_without_role_gets_403(client, campaign):
    client.force_login(make_user("nobody"))
    assert client.get(reverse("ui:dashboard")).status_code == 200
    for url in page_urls(campaign)[3:]:
        if (
            url.startswith("/campaigns/")
            or url.startswith("/contacts")
            or url.startswith(("/templates", "/inbox", "/lists", "/imports"))
        ):
            assert client.get(url).status_code == 403, url


@pytest.mark.parametrize("action", ["launch", "pause", "resume", "cancel", "resend", "approve"])
def test_marketer_cannot_send(marketer_client, campaign, action):
    url = reverse("ui:campaign_action", args=[campaign.pk, action])
    assert marketer_client.get(url).status_code == 403
    assert marketer_client.post(url).status_code == 403
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT
    assert not AuditEntry.objects.filter(action=action).exists()


def test_marketer_preview_explains_missing_permission(marketer_client, campaign):
    body = marketer_client.get(reverse("ui:campaign_preview", args=[campaign.pk])).content.decode()
    assert 'id="no-send-permission"' in body
    assert reverse("ui:campaign_action", args=[campaign.pk, "launch"]) not in body


def test_sender_launches_pauses_resumes_and_cancels(sender_client, sender, campaign):
    def url(action: str) -> str:
        return reverse("ui:campaign_action", args=[campaign.pk, action])

    confirm = sender_client.get(url("launch"))
    assert confirm.status_code == 200
    assert b"confirm-action" in confirm.content
    sender_client.post(url("launch"))
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING
    sender_client.post(url("pause"))
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.PAUSED
    sender_client.post(url("resume"))
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING
    sender_client.post(url("cancel"))
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.CANCELLED
    actions = list(
        AuditEntry.objects.filter(campaign=campaign, actor=sender)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["launch", "pause", "resume", "cancel"]


def test_refused_transition_is_reported_not_raised(sender_client, campaign):
    response = sender_client.post(
        reverse("ui:campaign_action", args=[campaign.pk, "pause"]), follow=True
    )
    assert b"Pause refused" in response.content
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT


def test_approval_needed_from_a_second_person(client, settings, campaign, marketer):
    settings.HERALD_REQUIRE_APPROVAL = True
    creator_sender = make_user("cara", MARKETER, SENDER)
    Campaign.objects.filter(pk=campaign.pk).update(created_by=creator_sender)
    client.force_login(creator_sender)
    launch = reverse("ui:campaign_action", args=[campaign.pk, "launch"])
    approve = reverse("ui:campaign_action", args=[campaign.pk, "approve"])
    client.post(launch)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.DRAFT
    client.post(approve)  # the creator may not approve their own campaign
    assert not CampaignApproval.objects.filter(campaign=campaign).exists()
    other = make_user("otto", MARKETER, SENDER)
    client.force_login(other)
    client.post(approve)
    assert CampaignApproval.objects.get(campaign=campaign).approved_by == other
    client.force_login(creator_sender)
    client.post(launch)
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.RUNNING
    assert AuditEntry.objects.filter(action="approve", actor=other, campaign=campaign).exists()


TEXTS = [
    "",
    "Hello",
    "x" * 160,
    "x" * 161,
    "Price: 10€ [promo] {code}",
    "Olá ação 😀",
    "Hi 😀 " + "a" * 70,
    "ç is not Ç",
    "€" * 80,
    "😀" * 34 + "a",
]


@pytest.mark.parametrize("text", TEXTS)
def test_sms_counter_agrees_with_sms_segments(marketer_client, text):
    response = marketer_client.post(
        reverse("ui:sms_counter"), {"text": text, "counter_field": "text"}
    )
    seg = sms_segments(text)
    body = response.content.decode()
    if not text:  # nothing typed: the limit, not "0 parts" (test below)
        assert 'id="counter-empty"' in body
        return
    assert f'<span id="sms-parts">{seg.parts}</span>' in body
    assert f'<span id="sms-encoding">{seg.encoding}</span>' in body
    assert f'<span id="sms-length">{seg.length}</span>' in body
    for char in seg.ucs2_chars:
        assert f"<mark>{char}</mark>" in body


@pytest.mark.parametrize(
    "form",
    [
        {"text": "", "counter_field": "text"},
        {"fallback_text_0": "  ", "fallback_0": "sms", "counter_field": "fallback_text_0"},
        {"text": "", "channel": "sms", "counter_field": "reply"},
    ],
)
def test_a_blank_text_shows_the_limit_not_zero_parts(marketer_client, form):
    """QA walk: a blank fallback step's counter said "0 characters · 0 parts"."""
    body = marketer_client.post(reverse("ui:sms_counter"), form).content.decode()
    assert 'id="counter-empty"' in body
    assert "Up to 1,600 characters (SMS)" in body
    assert "sms-parts" not in body
    assert "sms-length" not in body


def test_counter_escapes_the_text(marketer_client):
    body = marketer_client.post(
        reverse("ui:sms_counter"), {"text": "<script>😀</script>"}
    ).content.decode()
    assert "<script>" not in body
    assert "&lt;script&gt;" in body


def test_wizard_builds_an_sms_campaign(marketer_client, marketer):
    audience = make_audience(4)
    excluded = make_audience(1, name="VIP", prefix="+4479461")
    Contact.objects.filter(phone="+447946000000").update(opted_out=True)
    count = marketer_client.post(
        reverse("ui:wizard_count"), {"lists": [audience.pk], "exclude_lists": [excluded.pk]}
    )
    assert b'<strong id="audience-eligible">3</strong>' in count.content
    response = marketer_client.post(
        reverse("ui:wizard_audience"),
        {"name": "Easter", "lists": [audience.pk], "exclude_lists": [excluded.pk]},
    )
    assert response["Location"] == reverse("ui:wizard_message")
    picker = marketer_client.get(response["Location"]).content.decode()
    assert 'data-insert="{{first_name}}"' in picker
    response = marketer_client.post(
        reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi {{first_name}} 😀"}
    )
    assert response["Location"] == reverse("ui:wizard_options")
    # SMS may fall back to Viber or RCS, but no chain is chosen for it.
    options = marketer_client.get(response["Location"]).content.decode()
    assert '<option value="none" selected>' in options
    assert '<option value="viber" selected>' not in options
    response = marketer_client.post(
        reverse("ui:wizard_options"),
        {
            "send_mode": "now",
            "speed_limit": "120",
            "speed_unit": "minute",
            "quiet_from": "20:00",
            "quiet_until": "09:00",
        },
    )
    campaign = Campaign.objects.get(name="Easter")
    assert (campaign.quiet_hours_start, campaign.quiet_hours_end) == (dt.time(9), dt.time(20))
    assert response["Location"] == reverse("ui:campaign_preview", args=[campaign.pk])
    assert campaign.text == "Hi {{first_name}} 😀"
    assert campaign.speed_limit == 120
    assert campaign.created_by == marketer
    assert campaign.state == CampaignState.DRAFT
    assert list(campaign.exclude_lists.all()) == [excluded]
    assert AuditEntry.objects.filter(action="create", campaign=campaign).exists()
    preview = marketer_client.get(response["Location"]).content.decode()
    assert "Hi Ann1 😀" in preview
    assert 'id="preview-messages">3<' in preview


def test_wizard_refuses_missing_answers(marketer_client):
    response = marketer_client.post(reverse("ui:wizard_audience"), {"name": ""})
    assert response.status_code == 400
    assert b"Choose at least one list" in response.content
    assert marketer_client.get(reverse("ui:wizard_options"))["Location"] == reverse(
        "ui:wizard_message"
    )


def test_wizard_whatsapp_template_with_failover(marketer_client, live_sandbox):
    marketer_client.post(reverse("ui:template_sync"))
    from whatsapp.models import WhatsAppTemplate

    template = WhatsAppTemplate.objects.get(name="order_update")
    audience = make_audience(2)
    marketer_client.post(reverse("ui:wizard_audience"), {"name": "WA", "lists": [audience.pk]})
    form = marketer_client.get(reverse("ui:wizard_template_form"), {"template": template.pk})
    assert b'name="body_0"' in form.content
    assert b'name="body_1"' in form.content
    response = marketer_client.post(
        reverse("ui:wizard_message"),
        {
            "channel": "whatsapp_template",
            "template": template.pk,
            "body_0": "{{first_name}}",
            "body_1": "Friday",
        },
    )
    assert response.status_code == 302, response.content
    marketer_client.post(
        reverse("ui:wizard_options"),
        {
            "send_mode": "now",
            "failover_mode": "herald",
            "fallback_0": "sms",
            "fallback_text_0": "Hi {{first_name}}",
        },
    )
    campaign = Campaign.objects.get(name="WA")
    assert campaign.template == template
    assert campaign.sender == template.sender  # the template's own number, kept on edits
    assert campaign.failover_mode == "herald"
    assert [step["channel"] for step in campaign.fallback] == ["sms"]
    assert campaign.failover_text == "Hi {{first_name}}"  # the SMS step's old name
    assert campaign.template_mapping["body"][0] == {
        "source": "field",
        "value": "first_name",
        "fallback": None,
    }
    assert campaign.template_mapping["body"][1]["value"] == "Friday"


def test_test_send_goes_to_the_sandbox(marketer_client, campaign, live_sandbox):
    response = marketer_client.post(
        reverse("ui:campaign_test", args=[campaign.pk]), {"to": "+447700900123"}, follow=True
    )
    assert b"On its way</span>" in response.content  # the test, until its report comes
    assert b"to +447700900123" in response.content
    assert live_sandbox.state()["accepted"]["sms"] == 1
    assert AuditEntry.objects.filter(action="test", campaign=campaign).exists()


def test_import_upload_runs_and_offers_the_errors_file(
    marketer_client, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    upload = io.BytesIO(
        b"phone,first_name\n+447946012345,Ann\n+447946012346,Bob\nnot-a-number,Cy\n"
    )
    upload.name = "people.csv"
    response = marketer_client.post(
        reverse("ui:contact_import"), {"file": upload, "list_name": "Imported"}
    )
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("ui:import_mapping", args=[job.pk])
    with django_capture_on_commit_callbacks(execute=True):  # the suggested mapping, as it is
        response = marketer_client.post(response["Location"], {"list_name": "Imported"})
    assert response["Location"] == reverse("ui:import", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.created, job.rejected) == ("done", 2, 1)
    assert ContactList.objects.get(name="Imported").contacts.count() == 2
    page = marketer_client.get(response["Location"]).content.decode()
    assert 'id="import-created">2<' in page
    assert reverse("ui:import_errors", args=[job.pk]) in page
    errors = b"".join(
        marketer_client.get(reverse("ui:import_errors", args=[job.pk])).streaming_content
    )
    assert b"not-a-number" in errors


def test_import_requires_a_file(marketer_client):
    response = marketer_client.post(reverse("ui:contact_import"), {})
    assert response.status_code == 400
    assert not ImportJob.objects.exists()


def test_opt_out_from_contact_page(marketer_client, marketer):
    contact = Contact.objects.create(phone="+447946099999")
    marketer_client.post(
        reverse("ui:contact_consent", args=[contact.pk]), {"action": "opt_out", "note": "asked"}
    )
    contact.refresh_from_db()
    assert contact.opted_out
    event = ConsentEvent.objects.get(contact=contact)
    assert event.actor == marketer
    assert event.note == "asked"
    assert AuditEntry.objects.filter(action="opt-out", contact=contact, actor=marketer).exists()


def test_export_streams_the_ledger(marketer_client, campaign):
    contact = Contact.objects.first()
    Message.objects.create(
        campaign=campaign, contact=contact, phone=contact.phone, channel="sms", state="delivered"
    )
    response = marketer_client.get(reverse("ui:campaign_export", args=[campaign.pk]))
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())  # UTF-8 BOM: spreadsheets then read UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "phone"
    assert rows[1][0] == contact.phone
    assert "delivered" in rows[1]


def test_exports_carry_contact_names_and_attributes(marketer_client, campaign):
    """Issue 26 #11: who the recipient is, not only their number (filtered exports too)."""
    ann, bob, cy = Contact.objects.order_by("id")[:3]
    Contact.objects.filter(pk=ann.pk).update(
        last_name="Lee", attributes={"city": "Leeds", "state": "WY", "tier": "gold"}
    )
    Contact.objects.filter(pk=bob.pk).update(attributes={"city": "York"})
    for contact, state in ((ann, "delivered"), (bob, "delivered"), (cy, "failed")):
        Message.objects.create(
            campaign=campaign, contact=contact, phone=contact.phone, channel="sms", state=state
        )
    url = reverse("ui:campaign_export", args=[campaign.pk])
    for query in ({}, {"state": "delivered"}):
        body = b"".join(marketer_client.get(url, query).streaming_content).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(body)))
        assert rows[0]["state"] == "delivered"  # the ledger's column, not the attribute
        assert (rows[0]["first_name"], rows[0]["last_name"]) == (ann.first_name, "Lee")
        assert (rows[0]["city"], rows[0]["attribute_state"], rows[0]["tier"]) == (
            "Leeds",
            "WY",
            "gold",
        )
        assert (rows[1]["city"], rows[1]["tier"], rows[1]["other_attributes"]) == ("York", "", "")
    assert len(rows) == 2
    assert next(iter(csv.reader(io.StringIO(body))))[-1] == "other_attributes"


def test_recipients_filter_and_keyset_pages(marketer_client, campaign):
    contacts = list(Contact.objects.all())
    Message.objects.bulk_create(
        Message(
            campaign=campaign,
            contact=c,
            phone=c.phone,
            channel="sms",
            state="delivered" if i else "failed",
        )
        for i, c in enumerate(contacts)
    )
    url = reverse("ui:campaign_recipients", args=[campaign.pk])
    failed = marketer_client.get(url, {"state": "failed"}, HTTP_HX_REQUEST="true").content.decode()
    assert contacts[0].phone in failed
    assert contacts[1].phone not in failed
    last = Message.objects.order_by("id").first().id
    rest = marketer_client.get(url, {"after": last}, HTTP_HX_REQUEST="true").content.decode()
    assert contacts[0].phone not in rest
    assert contacts[2].phone in rest


def test_progress_fragment_polls_only_while_live(marketer_client, campaign):
    url = reverse("ui:campaign_progress", args=[campaign.pk])
    assert b"hx-trigger" not in marketer_client.get(url).content
    Campaign.objects.filter(pk=campaign.pk).update(
        state="running", recipients=4, count_delivered=3, count_queued=1
    )
    body = marketer_client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert 'id="campaign-percent">75%<' in body


def test_inbox_reply_only_inside_the_window(client, live_sandbox):
    from django.utils import timezone

    user = make_user("rita", MARKETER)
    client.force_login(user)
    contact = Contact.objects.create(phone="+447946055555", whatsapp_last_inbound_at=timezone.now())
    inbound = InboundMessage.objects.create(
        channel="whatsapp",
        contact=contact,
        infobip_message_id="in-1",
        from_number="447946055555",
        text="Hello?",
        received_at=timezone.now(),
    )
    page = client.get(reverse("ui:inbox")).content.decode()
    assert reverse("ui:inbox_reply", args=[inbound.pk]) in page
    # The number as everywhere else (+447…), not as Infobip writes the sender (447…).
    assert '">+447946055555</a>' in page
    assert "Reply to +447946055555" in page
    empty = client.post(reverse("ui:inbox_reply", args=[inbound.pk]), {"text": "  "})
    assert empty.status_code == 400  # said beside that message's reply box
    assert f'id="reply-error-{inbound.pk}" role="alert">Not sent: The reply is empty' in (
        empty.content.decode()
    )
    client.post(reverse("ui:inbox_reply", args=[inbound.pk]), {"text": "Hi!"})
    assert AuditEntry.objects.filter(action="reply", contact=contact).exists()
    Contact.objects.filter(pk=contact.pk).update(
        whatsapp_last_inbound_at=timezone.now() - timezone.timedelta(hours=25)
    )
    response = client.post(reverse("ui:inbox_reply", args=[inbound.pk]), {"text": "Hi!"})
    assert response.status_code == 400
    assert b"window is closed" in response.content  # the row's own words
    assert f'id="reply-error-{inbound.pk}"'.encode() in response.content


def test_the_first_run_checklist_ticks_itself_off_then_goes(marketer_client):
    """Issue 26 #13: import, sync templates, first campaign; gone once all three are done."""
    from campaigns.models import Campaign
    from whatsapp.models import WhatsAppTemplate

    page = marketer_client.get(reverse("ui:dashboard")).content.decode()
    assert 'id="first-run"' in page
    assert page.count('<span class="badge done">Done</span>') == 0
    make_audience(1)
    page = marketer_client.get(reverse("ui:dashboard")).content.decode()
    assert page.count('<span class="badge done">Done</span>') == 1
    WhatsAppTemplate.objects.create(
        sender="447860099299", name="w", language="en", status="APPROVED"
    )
    Campaign.objects.create(name="First", text="Hi", launched_at=timezone.now())
    assert 'id="first-run"' not in marketer_client.get(reverse("ui:dashboard")).content.decode()


def test_the_calendar_shows_scheduled_and_launched_campaigns_by_day(marketer_client, campaign):
    """Issue 26 #13: the month grid, with a scheduled send and a launch on their days."""
    import datetime as dt

    from campaigns.models import Campaign

    soon = timezone.now() + dt.timedelta(days=1)
    Campaign.objects.filter(pk=campaign.pk).update(state="scheduled", send_at=soon)
    Campaign.objects.create(
        name="Went out", text="Hi", state="completed", launched_at=timezone.now()
    )
    page = marketer_client.get(reverse("ui:calendar")).content.decode()
    day = timezone.localtime(soon).date().isoformat()
    cell = page[page.index(f'data-date="{day}"') :]
    assert "Spring" in cell[: cell.index("</td>")]
    assert "Went out" in page
    later = (timezone.localdate() + dt.timedelta(days=70)).strftime("%Y-%m")
    assert (
        "Went out"
        not in marketer_client.get(reverse("ui:calendar"), {"month": later}).content.decode()
    )
    for bad in ("x", "1999-13", "²"):
        assert marketer_client.get(reverse("ui:calendar"), {"month": bad}).status_code == 200
