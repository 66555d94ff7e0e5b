"""The segment builder as a Marketer uses it: rows in, rules out, live count, save, errors.

These post the builder's form as the browser does (tests/ui/test_browser_audience.py walks the
same in Chromium); the rules it saves are checked by what they select.
"""

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Segment
from contacts.models import AttributeDefinition, Contact, ContactList, ListMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> dict[str, Contact]:
    AttributeDefinition.objects.create(key="last_order_value", type="number")
    vip = ContactList.objects.create(name="VIP")
    people = {
        "ann": Contact.objects.create(phone="+447946000001", first_name="Ann", country="GB",
                                      attributes={"last_order_value": "120", "city": "Leeds"}),
        "bob": Contact.objects.create(phone="+447946000002", first_name="Bob", country="GB",
                                      attributes={"last_order_value": "35", "city": "York"}),
        "cat": Contact.objects.create(phone="+33612345678", first_name="Cat", country="FR",
                                      attributes={"last_order_value": "80"}),
    }  # fmt: skip
    ListMembership.objects.create(contact=people["cat"], contact_list=vip)
    return people


def _post(client, url: str, data: dict):
    return client.post(url, data)


BIG_SPENDERS_OR_VIP = {
    "name": "Big spenders or VIP",
    "match": "any",
    "i-0-kind": "rule", "i-0-field": "attr:last_order_value", "i-0-op": "gt", "i-0-value": "50",
    "i-1-kind": "group", "i-1-match": "all",
    "i-1.0-kind": "rule", "i-1.0-field": "list", "i-1.0-op": "in", "i-1.0-lists": "VIP",
    "i-1.1-kind": "rule", "i-1.1-field": "country", "i-1.1-op": "eq", "i-1.1-value": "fr",
}  # fmt: skip


def test_the_live_count_counts_and_samples_the_rules_as_they_stand(marketer_client, shop) -> None:
    response = _post(marketer_client, reverse("ui:segment_preview"), BIG_SPENDERS_OR_VIP)
    body = response.content.decode()
    assert response.status_code == 200
    assert '<strong id="segment-count">2</strong>' in body  # ann (120) and cat (80, VIP in FR)
    assert "last_order_value &gt; 50 or (on list VIP and country is fr)" in body
    assert "Ann" in body
    assert "Cat" in body
    assert "Bob" not in body


def test_an_unfinished_rule_says_what_it_needs_instead_of_a_count(marketer_client, shop) -> None:
    data = {"match": "all", "i-0-kind": "rule", "i-0-field": "attr:last_order_value",
            "i-0-op": "gt", "i-0-value": "fifty"}  # fmt: skip
    body = _post(marketer_client, reverse("ui:segment_preview"), data).content.decode()
    assert "Finish the rules" in body
    assert "Gt needs a number." in body or "needs a number" in body
    assert 'id="segment-count"' not in body


def test_saving_stores_typed_rules_that_select_the_right_people(marketer_client, shop) -> None:
    response = _post(marketer_client, reverse("ui:segment_new"), BIG_SPENDERS_OR_VIP)
    assert response.status_code == 302
    segment = Segment.objects.get(name="Big spenders or VIP")
    assert segment.rules == {"match": "any", "rules": [
        {"field": "attribute", "key": "last_order_value", "type": "number", "op": "gt",
         "value": 50},
        {"match": "all", "rules": [
            {"field": "list", "op": "in", "value": ["VIP"]},
            {"field": "country", "op": "eq", "value": "fr"}]}]}  # fmt: skip
    # Opened again, every row shows what was saved.
    body = marketer_client.get(reverse("ui:segment", args=[segment.pk])).content.decode()
    assert 'value="Big spenders or VIP"' in body
    assert '<option value="attr:last_order_value" selected>' in body
    assert '<option value="gt" selected>' in body
    assert 'name="i-1.0-lists" value="VIP" checked' in body


def test_buttons_add_and_remove_rules_and_groups(marketer_client, shop) -> None:
    url = reverse("ui:segment_new")
    data = {"match": "all", "i-0-kind": "rule", "i-0-field": "country", "i-0-op": "eq",
            "i-0-value": "GB"}  # fmt: skip
    body = _post(marketer_client, url, {**data, "action": "add-group"}).content.decode()
    assert 'name="i-1-kind" value="group"' in body
    assert 'name="i-1.1-kind" value="rule"' in body  # a group starts with two rules
    body = _post(marketer_client, url, {**data, "action": "add-rule"}).content.decode()
    assert 'name="i-1-field"' in body
    body = _post(marketer_client, url, {**data, "action": "remove:0"}).content.decode()
    assert 'name="i-0-field"' not in body
    # With htmx only the builder part comes back.
    fragment = marketer_client.post(url, {**data, "action": "add-rule"}, HTTP_HX_REQUEST="true")
    assert "<html" not in fragment.content.decode()
    assert 'name="i-1-field"' in fragment.content.decode()


def test_choosing_a_field_offers_its_operators_and_inputs(marketer_client, shop) -> None:
    url = reverse("ui:segment_new")
    data = {"match": "all", "i-0-kind": "rule", "i-0-field": "attr:last_order_value",
            "action": "refresh"}  # fmt: skip
    body = marketer_client.post(url, data, HTTP_HX_REQUEST="true").content.decode()
    assert '<option value="between"' in body
    assert '<option value="startswith"' not in body
    # Every input the type can use is there; the operator decides (in CSS) which show.
    assert 'name="i-0-value"' in body
    assert 'name="i-0-value2"' in body
    data = {"match": "all", "i-0-kind": "rule", "i-0-field": "created_at",
            "i-0-op": "in_last_days", "i-0-ndays": "30", "action": "refresh"}  # fmt: skip
    body = marketer_client.post(url, data, HTTP_HX_REQUEST="true").content.decode()
    assert 'type="date"' in body
    assert 'name="i-0-ndays" value="30"' in body
    preview = marketer_client.post(reverse("ui:segment_preview"), data).content.decode()
    assert "added to Herald in the last 30 days" in preview


def test_bad_rules_are_shown_next_to_their_row_and_nothing_is_saved(marketer_client, shop) -> None:
    data = {"name": "Broken", "match": "all",
            "i-0-kind": "rule", "i-0-field": "country", "i-0-op": "eq", "i-0-value": "GB",
            "i-1-kind": "rule", "i-1-field": "", "action": "save"}  # fmt: skip
    response = _post(marketer_client, reverse("ui:segment_new"), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="p-1"' in body
    assert "Choose what this rule looks at." in body
    assert 'value="Broken"' in body  # what was typed is kept
    assert not Segment.objects.exists()
    data = {**data, "i-1-field": "phone", "i-1-op": "startswith", "i-1-value": "+44", "name": ""}
    response = _post(marketer_client, reverse("ui:segment_new"), data)
    assert response.status_code == 400
    assert "The segment needs a name." in response.content.decode()


def test_a_segment_used_by_a_campaign_is_not_deleted(marketer_client, shop) -> None:
    segment = Segment.objects.create(name="Used", rules={"rules": []})
    Campaign.objects.create(name="c", channel="sms", text="x", segment=segment)
    response = marketer_client.post(reverse("ui:segment_delete", args=[segment.pk]), follow=True)
    assert "was not deleted: the segment is used by campaigns: “c”" in response.content.decode()
    assert Segment.objects.filter(pk=segment.pk).exists()
    unused = Segment.objects.create(name="Unused", rules={"rules": []})
    marketer_client.post(reverse("ui:segment_delete", args=[unused.pk]))
    assert not Segment.objects.filter(pk=unused.pk).exists()


def test_a_marketer_declares_an_attribute_type(marketer_client, shop) -> None:
    body = marketer_client.get(reverse("ui:attributes")).content.decode()
    assert "<code>city</code>" in body
    assert "<code>last_order_value</code>" in body
    response = marketer_client.post(
        reverse("ui:attribute_save"), {"key": "city", "type": "number"}, follow=True
    )
    text = response.content.decode()
    assert "“city” is now a number. 2 of 2 stored values are not a number" in text
    assert AttributeDefinition.objects.get(key="city").type == "number"
    usage = marketer_client.get(reverse("ui:attribute_usage", args=["city"])).content.decode()
    assert "2 contacts" in usage
    assert "2 not a number" in usage
