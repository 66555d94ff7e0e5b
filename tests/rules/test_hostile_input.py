"""Hostile input changes nothing and never answers 500: webhooks, UI pages and forms, the
admin's query strings, the sandbox's control API (hypothesis drives the inputs)."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign
from contacts.models import Contact
from infobip.models import InboundMessage, WebhookEvent
from tests.rules.conftest import campaign_ready_for, make_role_user

pytestmark = pytest.mark.django_db

TOKEN = "test-webhook-token-0123456789"  # pyproject's pytest env
KINDS = ["sms/reports", "sms/inbound", "whatsapp/reports", "whatsapp/inbound", "clicks"]
FIXTURE = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
numberish = st.sampled_from(
    ["0", "-1", "²", "١٢", "1e9", "99999999999999999999999", "3.5", "", " 7 ", "0x10", "NaN"]
)
hostile_text = st.one_of(text, numberish, st.just("\x00"), st.just("' OR 1=1 --"))
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=12,
)
FIELDS = [
    "messageId",
    "status",
    "error",
    "price",
    "from",
    "to",
    "message",
    "receivedAt",
    "doneAt",
    "sentAt",
    "callbackData",
    "url",
    "bulkId",
    "text",
    "keyword",
    "results",
    "limit",
    "timeout",
    "channel",
]
result_item = st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=6)
bodies = st.one_of(
    st.binary(max_size=64),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.lists(result_item, max_size=4).map(lambda r: json.dumps({"results": r}).encode()),
    st.integers(0, 3000).map(lambda depth: b'{"results": ' + b"[" * depth + b"]" * depth + b"}"),
)


@FIXTURE
@given(kind=st.sampled_from(KINDS), body=bodies)
def test_webhooks_never_answer_500(kind: str, body: bytes) -> None:
    response = Client().post(
        f"/infobip/webhooks/{TOKEN}/{kind}/", data=body, content_type="application/json"
    )
    assert response.status_code in (200, 400), response.content


@FIXTURE
@given(
    kind=st.sampled_from(KINDS),
    body=bodies,
    token=text.filter(lambda t: t != TOKEN),
    basic=st.booleans(),
)
def test_unauthenticated_pushes_store_nothing(kind, body, token, basic) -> None:
    before = WebhookEvent.objects.count(), InboundMessage.objects.count()
    headers = {"HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg=="} if basic else {}
    path = "/infobip/webhooks/" + (token.replace("/", "").replace("?", "").replace("#", "") or "x")
    response = Client().post(
        f"{path}/{kind}/", data=body, content_type="application/json", **headers
    )
    # 403/404 for a wrong token; 400 when the path itself is unacceptable (a NUL character).
    assert response.status_code in (400, 403, 404)
    assert (WebhookEvent.objects.count(), InboundMessage.objects.count()) == before


QUERY_PARAMS = [
    "state",
    "channel",
    "after",
    "page",
    "q",
    "list",
    "consent",
    "keyword",
    "edit",
    "template",
    "counter_field",
    "text",
    "p",
    "o",
    "e",
    "all",
]


@pytest.fixture
def superuser_client(client):
    client.force_login(make_role_user("superuser"))
    return client


def _pages(campaign: Campaign) -> list[str]:
    contact = Contact.objects.first()
    return [
        reverse("ui:dashboard"),
        reverse("ui:audit"),
        reverse("ui:contacts"),
        reverse("ui:contact", args=[contact.pk]),
        reverse("ui:lists"),
        reverse("ui:templates"),
        reverse("ui:campaigns"),
        reverse("ui:wizard_audience"),
        reverse("ui:wizard_message"),
        reverse("ui:wizard_options"),
        reverse("ui:wizard_template_form"),
        reverse("ui:campaign", args=[campaign.pk]),
        reverse("ui:campaign_preview", args=[campaign.pk]),
        reverse("ui:campaign_progress", args=[campaign.pk]),
        reverse("ui:campaign_recipients", args=[campaign.pk]),
        reverse("ui:inbox"),
        "/admin/campaigns/campaign/",
        "/admin/campaigns/message/",
        "/admin/contacts/contact/",
        "/admin/infobip/webhookevent/",
        "/admin/core/auditentry/",
    ]


@FIXTURE
@given(data=st.data())
def test_ui_and_admin_query_parameters_never_answer_500(superuser_client, data) -> None:
    campaign = Campaign.objects.first() or campaign_ready_for("resend")
    url = data.draw(st.sampled_from(_pages(campaign)))
    params = data.draw(st.dictionaries(st.sampled_from(QUERY_PARAMS), hostile_text, max_size=4))
    response = superuser_client.get(url, params)
    assert response.status_code in (200, 302, 400, 404), (url, params, response.status_code)


FORMS = {
    "ui:wizard_audience": ["name", "channel", "lists", "exclude_lists"],
    "ui:wizard_count": ["lists", "exclude_lists"],
    "ui:wizard_message": ["text", "template", "channel"],
    "ui:wizard_options": ["send_at", "speed_limit", "speed_unit", "quiet_from", "quiet_until",
                          "failover_mode", "failover_text", "validity", "validity_unit",
                          "max_spend", "sender", "failover_sender", "failover_validity",
                          "frequency_cap_override", "track_links", "opt_out_footer"],
    "ui:test_numbers": ["phone", "label", "remove"],
    "ui:sms_counter": ["text", "counter_field"],
    "ui:lists": ["name", "description"],
    "ui:sandbox_inbound": ["channel", "from", "text"],
    "ui:contact_import": ["list_name", "default_region"],
    "ui:segment_preview": ["match", "i-0-kind", "i-0-field", "i-0-op", "i-0-value", "i-0-value2",
                           "i-0-ndays", "i-0-lists", "i-0-days", "i-0-key", "i-0-type",
                           "i-0.1-field", "i-1-kind", "i-1.0-field", "i-1.0-op"],
    "ui:segment_new": ["name", "action", "match", "i-0-kind", "i-0-field", "i-0-op", "i-0-value",
                       "i-0-ndays", "i-0-event", "i-0-channel", "i-1-kind", "i-1.0-field"],
    "ui:attribute_save": ["key", "type", "label", "action"],
}  # fmt: skip


@FIXTURE
@given(data=st.data())
def test_ui_forms_never_answer_500_and_refuse_rather_than_lose(superuser_client, data) -> None:
    campaign = Campaign.objects.first() or campaign_ready_for("launch")
    contact = Contact.objects.first()
    targets = [
        *[(reverse(name), fields) for name, fields in FORMS.items()],
        (reverse("ui:campaign_test", args=[campaign.pk]), ["saved", "to", "save", "label"]),
        (reverse("ui:contact_consent", args=[contact.pk]), ["action", "note"]),
        (reverse("ui:campaign_action", args=[campaign.pk, "launch"]), ["confirm"]),
    ]
    url, fields = data.draw(st.sampled_from(targets))
    form = data.draw(st.dictionaries(st.sampled_from(fields), hostile_text, max_size=len(fields)))
    state = Campaign.objects.values_list("pk", "state").order_by("pk")
    before = list(state)
    response = superuser_client.post(url, form)
    assert response.status_code in (200, 302, 400, 403, 404), (url, form, response.status_code)
    if "/do/" in url and response.status_code != 302:
        assert list(state) == before


def test_out_of_range_ids_in_paths_are_404(superuser_client) -> None:
    for url in (
        "/campaigns/99999999999999999999999/",
        "/contacts/99999999999999999999/",
        "/admin/campaigns/campaign/99999999999999999999999/change/",
    ):
        assert superuser_client.get(url).status_code in (302, 404), url


def test_nul_in_a_query_is_a_400(superuser_client) -> None:
    assert superuser_client.get(reverse("ui:contacts"), {"q": "a\x00b"}).status_code == 400


@FIXTURE
@given(
    path=st.sampled_from(
        [
            "/_sandbox/config",
            "/_sandbox/click",
            "/_sandbox/inbound",
            "/_sandbox/flush",
            "/sms/3/messages",
            "/whatsapp/1/message/text",
        ]
    ),
    body=bodies,
)
def test_the_sandbox_never_answers_500(sandbox, path, body) -> None:
    response = sandbox.request(
        "POST", path, data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, (path, body, response.text[:300])


@pytest.mark.parametrize(
    "body",
    [
        {"messageId": "x", "limit": "lots"},
        {"callbackData": "x", "limit": [1]},
        {"timeout": "soon"},
        {"timeout": None},
    ],
)
def test_sandbox_numbers_in_control_bodies_are_checked(sandbox, body) -> None:
    for path in ("/_sandbox/click", "/_sandbox/flush"):
        assert sandbox.request("POST", path, json=body).status_code < 500
