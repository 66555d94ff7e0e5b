"""The API's audiences: segments (save, count, sample, members), attribute types, and campaigns
whose audience is a segment alone, lists or a segment, or lists and a segment."""

import base64

import pytest

from campaigns.models import Campaign, Segment
from contacts.models import (
    AttributeDefinition,
    ConsentEvent,
    Contact,
    ContactList,
    ListMembership,
)
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db

SPENDERS = {
    "match": "all",
    "rules": [{"field": "attribute", "key": "last_order_value", "op": "gt", "value": 50}],
}


@pytest.fixture
def api(api_for, db):
    return api_for(make_user("mia", "Marketer"))


@pytest.fixture
def shop(db) -> dict:
    AttributeDefinition.objects.create(key="last_order_value", type="number")
    newsletter = ContactList.objects.create(name="Newsletter")
    people = {}
    for i, value in enumerate(["120", "35", "80", "9"]):
        people[i] = Contact.objects.create(
            phone=f"+44794600000{i}", attributes={"last_order_value": value}
        )
    for i in (0, 1):
        ListMembership.objects.create(contact=people[i], contact_list=newsletter)
    return people


def test_a_segment_is_saved_with_its_type_pinned_and_counted(api, shop) -> None:
    response = api.post("segments", {"name": "Spenders", "rules": SPENDERS})
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["rules"]["rules"][0]["type"] == "number"
    assert data["in_words"] == "last_order_value > 50"
    assert api.get(f"segments/{data['id']}/count").json() == {"count": 2}
    members = api.get(f"segments/{data['id']}/contacts").json()["results"]
    assert {m["phone"] for m in members} == {"+447946000000", "+447946000002"}


def test_unsaved_rules_are_counted_and_sampled(api, shop) -> None:
    response = api.post("segments/preview", {"rules": SPENDERS, "limit": 1})
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [c["phone"] for c in response.json()["sample"]] == ["+447946000002"]


def test_bad_rules_and_names_answer_the_error_shape_with_the_field(api, shop) -> None:
    bad = {
        "match": "all",
        "rules": [{"field": "attribute", "key": "last_order_value", "op": "gt", "value": "lots"}],
    }
    response = api.post("segments", {"name": "Bad", "rules": bad})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"rules": ["rules[0]: gt needs a number"]}
    Segment.objects.create(name="Taken", rules=SPENDERS)
    response = api.post("segments", {"name": "Taken", "rules": SPENDERS})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["name"]
    nul = {"match": "all", "rules": [{"field": "country", "op": "eq", "value": "G\u0000B"}]}
    response = api.post("segments/preview", {"rules": nul})
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]["message"]


def test_a_segment_in_use_is_not_deleted(api, shop) -> None:
    segment = Segment.objects.create(name="Used", rules=SPENDERS)
    Campaign.objects.create(name="c", channel="sms", text="x", segment=segment)
    assert api.call("DELETE", f"segments/{segment.pk}").status_code == 409
    unused = Segment.objects.create(name="Unused", rules=SPENDERS)
    assert api.call("DELETE", f"segments/{unused.pk}").status_code == 204


def test_attribute_types_are_declared_and_listed_with_their_values(api, shop) -> None:
    Contact.objects.create(phone="+447946000009", attributes={"signed_up": "yesterday"})
    response = api.post("attributes", {"key": "signed_up", "type": "date"})
    assert response.status_code == 200, response.json()
    assert response.json()["not_of_type"] == 1
    listed = {a["key"]: a for a in api.get("attributes").json()["results"]}
    assert listed["last_order_value"]["with_value"] == 4
    assert api.post("attributes", {"key": "phone", "type": "date"}).status_code == 400
    assert api.call("DELETE", "attributes/signed_up").status_code == 204
    assert api.call("DELETE", "attributes/signed_up").status_code == 404


def test_a_typed_attribute_upserted_through_the_api_is_checked(api, shop) -> None:
    rows = [
        {"phone": "+447946000001", "attributes": {"last_order_value": "1,234.50"}},
        {"phone": "+447946000002", "attributes": {"last_order_value": "lots"}},
    ]
    response = api.post("contacts/upsert", {"contacts": rows})
    assert response.json()["rejected"] == [
        {"index": 1, "reason": "attributes.last_order_value: not a number"}
    ]
    stored = Contact.objects.get(phone="+447946000001").attributes["last_order_value"]
    assert stored == "1234.50"


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ({"segment": "Spenders"}, {0, 2}),
        ({"lists": ["Newsletter"], "segment": "Spenders"}, {0, 1, 2}),
        ({"lists": ["Newsletter"], "segment": "Spenders", "audience_match": "all"}, {0}),
    ],
)
def test_campaigns_target_a_segment_alone_or_with_lists(api, shop, audience, expected) -> None:
    Segment.objects.create(
        name="Spenders", rules={**SPENDERS, "rules": [{**SPENDERS["rules"][0], "type": "number"}]}
    )
    response = api.post("campaigns", {"name": "c", "channel": "sms", "text": "Hi", **audience})
    assert response.status_code == 201, response.json()
    assert response.json()["audience_match"] == audience.get("audience_match", "any")
    preview = api.get(f"campaigns/{response.json()['id']}/preview").json()
    assert preview["audience"] == len(expected)


def test_lists_and_a_segment_needs_both(api, shop) -> None:
    Segment.objects.create(name="Spenders", rules=SPENDERS)
    response = api.post(
        "campaigns",
        {
            "name": "c",
            "channel": "sms",
            "text": "Hi",
            "segment": "Spenders",
            "audience_match": "all",
        },
    )
    assert response.status_code == 400
    assert "needs both lists and a segment" in response.json()["error"]["message"]


CSV = "Mobile;Spend;Consent\n+447946000201;1 234,50;yes\n+447946000202;lots;unsubscribed\n"


def test_a_csv_is_previewed_then_imported_with_the_same_mapping(api, db) -> None:
    body = {
        "filename": "shop.csv",
        "content_base64": base64.b64encode(CSV.encode("utf-16")).decode(),
        "map": ["Spend=number:last_order_value"],
    }
    preview = api.post("contacts/import/preview", body).json()
    assert preview["encoding"] == "utf-16"
    assert preview["header"] == ["Mobile", "Spend", "Consent"]
    assert preview["columns"] == [
        {"target": "phone"},
        {"target": "attribute", "key": "last_order_value", "type": "number"},
        {"target": "consent"},
    ]
    result = api.post("contacts/import", {**body, "columns": preview["columns"], "map": []})
    assert result.status_code == 200, result.json()
    data = result.json()
    assert (data["created"], data["consented"], data["opted_out"], data["warnings"]) == (2, 1, 1, 1)
    assert data["declared"] == ["last_order_value:number"]
    assert Contact.objects.get(phone="+447946000201").attributes == {"last_order_value": "1234.50"}
    event = ConsentEvent.objects.get(contact__phone="+447946000202")
    assert (event.action, event.actor.username) == ("opt_out", "mia")
    assert event.note == "import shop.csv row 3: Consent=unsubscribed"


def test_bad_imports_answer_the_error_shape(api, db) -> None:
    assert (
        api.post("contacts/import", {"content": "name\nAnn\n"})
        .json()["error"]["message"]
        .startswith("no phone column")
    )
    assert api.post("contacts/import", {}).status_code == 400
    assert api.post("contacts/import", {"content_base64": "%%%"}).status_code == 400
    refused = api.post(
        "contacts/import", {"content": "Tel\n+447946000201\n", "map": ["Nope=phone"]}
    )
    assert "no column 'Nope'" in refused.json()["error"]["message"]
    assert not Contact.objects.exists()
