"""Contacts through the API: bulk upsert with per-row errors, update, consent, lists."""

import pytest

from contacts.models import ConsentEvent, Contact, ContactList
from core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_upsert_normalises_numbers_and_reports_each_bad_row(api_for, sender_user) -> None:
    Contact.objects.create(phone="+447911123456", first_name="Old", attributes={"tier": "a"})
    body = {
        "contacts": [
            {"phone": "41793026727", "first_name": "Ana", "lists": ["vip"]},
            {"phone": "+44 7911 123456", "attributes": {"city": "Leeds"}},
            {"phone": "not a number"},
            {"first_name": "no phone"},
            "a string",
            {"phone": "0041793026728", "opted_out": True},
        ]
    }
    response = api_for(sender_user).post("contacts/upsert", body)
    assert response.status_code == 200, response.content
    result = response.json()
    assert (result["created"], result["updated"]) == (2, 1)
    assert [r["index"] for r in result["rejected"]] == [2, 3, 4]
    assert "phone" in result["rejected"][0]["reason"]
    ana = Contact.objects.get(phone="+41793026727")
    assert ana.first_name == "Ana"
    assert ana.country == "CH"
    assert list(ana.lists.values_list("name", flat=True)) == ["vip"]
    old = Contact.objects.get(phone="+447911123456")
    assert old.first_name == "Old"  # not given: kept
    assert old.attributes == {"tier": "a", "city": "Leeds"}
    assert Contact.objects.get(phone="+41793026728").opted_out is True
    assert ConsentEvent.objects.filter(source="api").count() == 1


def test_upsert_refuses_more_than_10000_rows_and_bad_shapes(api_for, sender_user) -> None:
    api = api_for(sender_user)
    too_many = api.post("contacts/upsert", {"contacts": [{"phone": "+447911000000"}] * 10_001})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["fields"] == {"contacts": ["at most 10,000 items"]}
    assert api.post("contacts/upsert", {"contacts": "x"}).status_code == 400
    assert api.post("contacts/upsert", [1, 2]).status_code == 400
    assert Contact.objects.count() == 0


def test_upsert_needs_contacts_write(api_for, sender_user) -> None:
    response = api_for(sender_user, ["read"]).post("contacts/upsert", {"contacts": []})
    assert response.status_code == 403


def test_get_update_opt_out_and_back_in(api_for, sender_user) -> None:
    contact = Contact.objects.create(phone="+447911123456")
    api = api_for(sender_user)
    response = api.call("PATCH", f"contacts/{contact.pk}", {"first_name": "Bo"})
    assert response.status_code == 200
    assert response.json()["first_name"] == "Bo"
    assert api.post(f"contacts/{contact.pk}/opt-out").json()["opted_out"] is True
    assert api.post(f"contacts/{contact.pk}/opt-in").json()["opted_out"] is False
    bad = api.call("PATCH", f"contacts/{contact.pk}", {"attributes": "nope"})
    assert bad.status_code == 400
    assert "attributes" in bad.json()["error"]["fields"]


def test_lists_and_memberships_by_cursor(api_for, sender_user) -> None:
    api = api_for(sender_user)
    created = api.post("lists", {"name": "news"})
    assert created.status_code == 201
    ids = [Contact.objects.create(phone=f"+4479110000{i:02d}").pk for i in range(3)]
    added = api.post(f"lists/{created.json()['id']}/members", {"contact_ids": ids})
    assert added.json() == {"count": 3}
    unknown = api.post(f"lists/{created.json()['id']}/members", {"contact_ids": [999999]})
    assert unknown.status_code == 400
    page = api.get("contacts?list=news&page_size=2").json()
    assert len(page["results"]) == 2
    assert page["next"]
    rest = api.client.get(page["next"], HTTP_AUTHORIZATION=f"Bearer {api.token}").json()
    assert len(rest["results"]) == 1
    assert ContactList.objects.get(name="news").memberships.count() == 3


def test_upsert_counts_created_updated_unchanged_and_keeps_memberships(
    api_for, sender_user
) -> None:
    api = api_for(sender_user)
    first = api.post(
        "contacts/upsert",
        {
            "contacts": [
                {"phone": "447400100001", "first_name": "A", "lists": ["vip"]},  # Infobip digits
                {"phone": "00447400100002", "lists": ["vip", "news"]},
                {"phone": "+44 7400-100003", "attributes": {"n": 1}},
                {"phone": "+447400100001", "last_name": "Z"},  # same number again: merged
            ]
        },
    ).json()
    assert (first["created"], first["updated"], first["unchanged"]) == (3, 0, 0)
    assert first["rejected"] == []
    one = Contact.objects.get(phone="+447400100001")
    assert (one.first_name, one.last_name, one.country) == ("A", "Z", "GB")
    second = api.post(
        "contacts/upsert",
        {
            "contacts": [
                {"phone": "+447400100001", "first_name": "A"},  # nothing new
                {"phone": "447400100002", "first_name": "B", "lists": ["news", "later"]},
                {"phone": "+447400100003", "attributes": {"m": 2}},
                {"phone": "+447400100004", "lists": ["later"]},
            ]
        },
    ).json()
    assert (second["created"], second["updated"], second["unchanged"]) == (1, 2, 1)
    assert Contact.objects.get(phone="+447400100003").attributes == {"n": 1, "m": 2}
    members = {
        name: sorted(
            ContactList.objects.get(name=name).memberships.values_list("contact__phone", flat=True)
        )
        for name in ("vip", "news", "later")
    }
    assert members == {
        "vip": ["+447400100001", "+447400100002"],
        "news": ["+447400100002"],  # once, though named in both calls
        "later": ["+447400100002", "+447400100004"],
    }
    assert AuditEntry.objects.filter(action="api_contacts_upsert").count() == 2


def test_upsert_reports_each_bad_row_with_its_index_and_code(api_for, sender_user) -> None:
    body = {
        "contacts": [
            {"phone": "+447400100001"},
            {"phone": "+447011100001"},  # a UK personal number
            {"phone": "+44 20"},
            {"phone": "+447400100002", "first_name": 5},
            {"phone": "+447400100003", "lists": "vip"},
            {"phone": "+447400100004", "opted_out": "yes"},
            {"phone": "+447400100005", "attributes": ["x"]},
            {"phone": "+447011100001"},  # the same bad number: the same reason
            {"phone": "+999 1234 5678"},
        ]
    }
    result = api_for(sender_user).post("contacts/upsert", body).json()
    assert result["created"] == 1
    reasons = {r["index"]: r["reason"] for r in result["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert reasons[1].startswith("phone: NOT_MOBILE")
    assert reasons[7] == reasons[1]
    assert reasons[2].startswith("phone: TOO_SHORT")
    assert reasons[3] == "first_name: must be text"
    assert reasons[4].startswith("lists:")
    assert reasons[5].startswith("opted_out:")
    assert reasons[6].startswith("attributes:")
    assert reasons[8].startswith("phone: INVALID_COUNTRY_CODE")
    assert list(Contact.objects.values_list("phone", flat=True)) == ["+447400100001"]


def test_upsert_opt_out_of_an_existing_contact_is_recorded_once(api_for, sender_user) -> None:
    Contact.objects.create(phone="+41793026727")
    api = api_for(sender_user)
    result = api.post(
        "contacts/upsert", {"contacts": [{"phone": "41793026727", "opted_out": True}]}
    ).json()
    assert result["rejected"] == []
    assert Contact.objects.get(phone="+41793026727").opted_out is True
    assert ConsentEvent.objects.filter(source="api").count() == 1


def test_upsert_text_checks_strip_and_give_their_reasons(api_for, sender_user) -> None:
    body = {
        "contacts": [
            {
                "phone": "+447400100001",
                "first_name": "  Ana ",
                "language": " de ",
                "lists": [" vip "],
            },
            {"phone": "+447400100002", "last_name": "x" * 151},
            {"phone": "+447400100003", "language": "x" * 21},
            {"phone": "+447400100004", "timezone": 3},
            {"phone": "+447400100005", "lists": ["vip", "  "]},
            {"phone": "+447400100006", "attributes": {}, "lists": None, "opted_out": False},
            {"phone": "   "},
        ]
    }
    result = api_for(sender_user).post("contacts/upsert", body).json()
    assert {r["index"]: r["reason"] for r in result["rejected"]} == {
        1: "last_name: longer than 150 characters",
        2: "language: longer than 20 characters",
        3: "timezone: must be text",
        4: "lists: must be a list of list names",
        6: "phone: required",
    }
    assert result["created"] == 2
    ana = Contact.objects.get(phone="+447400100001")
    assert (ana.first_name, ana.language, ana.country) == ("Ana", "de", "GB")
    assert list(ana.lists.values_list("name", flat=True)) == ["vip"]


def test_upsert_turns_the_garbage_collector_back_on_only_if_it_was_on(api_for, sender_user) -> None:
    import gc

    api = api_for(sender_user)
    assert gc.isenabled()
    assert (
        api.post("contacts/upsert", {"contacts": [{"phone": "+447400100001"}]}).status_code == 200
    )
    assert gc.isenabled()
    assert api.post("contacts/upsert", {"contacts": "x"}).status_code == 400  # raised inside
    assert gc.isenabled()
    gc.disable()  # as another thread's upsert in flight would have it
    try:
        assert (
            api.post("contacts/upsert", {"contacts": [{"phone": "+447400100002"}]}).status_code
            == 200
        )
        assert not gc.isenabled()
    finally:
        gc.enable()
