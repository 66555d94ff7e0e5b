"""The operator's commands for audiences: segment (save, count, sample, show, list, delete),
contact_attribute (list, set, remove) and campaign create --audience-match."""

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, Segment
from contacts.models import AttributeDefinition, Contact, ContactList, ListMembership
from core.models import AuditEntry

pytestmark = pytest.mark.django_db

SPENDERS = {
    "match": "all",
    "rules": [{"field": "attribute", "key": "spend", "op": "gt", "value": 50}],
}


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def shop() -> ContactList:
    customers = ContactList.objects.create(name="Customers")
    for i, spend in enumerate(["120", "80", "20", "n/a"]):
        contact = Contact.objects.create(
            phone=f"+44794600010{i}", first_name=f"P{i}", attributes={"spend": spend}
        )
        if i < 3:
            ListMembership.objects.create(contact=contact, contact_list=customers)
    return customers


def test_attribute_types_are_declared_listed_and_removed(shop) -> None:
    out = run("contact_attribute", "set", "spend", "--type", "number")
    assert (
        out.strip()
        == "attribute spend: number (4 values; 1 are not a number and never match: 'n/a')"
    )
    listed = json.loads(run("contact_attribute", "list", "--json"))
    assert listed == [
        {
            "key": "spend",
            "type": "number",
            "label": "",
            "with_value": 4,
            "not_of_type": 1,
            "examples": ["n/a"],
        }
    ]
    with pytest.raises(CommandError, match=r"key: .*contact field"):
        run("contact_attribute", "set", "phone", "--type", "date")
    assert json.loads(run("contact_attribute", "remove", "spend", "--json")) == {
        "key": "spend",
        "type": "text",
    }
    with pytest.raises(CommandError, match="no declared attribute 'spend'"):
        run("contact_attribute", "remove", "spend")


def test_segments_are_saved_counted_sampled_shown_and_deleted(shop, tmp_path) -> None:
    AttributeDefinition.objects.create(key="spend", type="number")
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps(SPENDERS))
    saved = json.loads(
        run("segment", "save", "--name", "Spenders", "--rules", f"@{rules_file}", "--json")
    )
    assert saved["count"] == 2
    assert saved["rules"]["rules"][0]["type"] == "number"  # pinned from the declaration
    assert run("segment", "count", "Spenders").strip() == "count=2"
    assert json.loads(run("segment", "count", "--rules", json.dumps(SPENDERS), "--json")) == {
        "count": 2
    }
    sample = json.loads(run("segment", "sample", "Spenders", "--limit", "1", "--json"))
    assert sample["count"] == 2
    assert [c["phone"] for c in sample["sample"]] == ["+447946000101"]
    assert run("segment", "show", "Spenders").startswith("Spenders: spend > 50\n")
    assert "Spenders\tspend > 50" in run("segment", "list")
    with pytest.raises(CommandError, match="give a segment NAME or --rules"):
        run("segment", "count")
    with pytest.raises(CommandError, match="--rules is not JSON"):
        run("segment", "save", "--name", "x", "--rules", "{nope")
    run("segment", "delete", "Spenders")
    assert not Segment.objects.exists()


def test_saving_as_a_user_needs_the_permission_and_is_audited(shop) -> None:
    AttributeDefinition.objects.create(key="spend", type="number")
    User.objects.create_user("viewer")
    with pytest.raises(CommandError, match=r"refused: .*campaigns\.add_segment"):
        run("segment", "save", "--name", "S", "--rules", json.dumps(SPENDERS), "--as", "viewer")
    User.objects.create_superuser("boss")
    run("segment", "save", "--name", "S", "--rules", json.dumps(SPENDERS), "--as", "boss")
    assert AuditEntry.objects.filter(action="segment-create", actor_name="boss").exists()


def test_campaign_create_narrows_a_list_with_a_segment(shop) -> None:
    Segment.objects.create(
        name="Spenders",
        rules={"match": "all", "rules": [{**SPENDERS["rules"][0], "type": "number"}]},
    )
    created = json.loads(
        run(
            "campaign",
            "create",
            "--name",
            "c",
            "--list",
            "Customers",
            "--segment",
            "Spenders",
            "--audience-match",
            "all",
            "--channel",
            "sms",
            "--text",
            "Hi",
            "--json",
        )
    )
    campaign = Campaign.objects.get(pk=created["id"])
    assert campaign.audience_match == "all"
    preview = json.loads(run("campaign", "preview", str(campaign.pk), "--json"))
    assert preview["audience"] == 2  # on Customers and spend > 50 (not P2's 20)
    with pytest.raises(CommandError, match="needs both lists and a segment"):
        run(
            "campaign",
            "create",
            "--name",
            "d",
            "--segment",
            "Spenders",
            "--audience-match",
            "all",
            "--channel",
            "sms",
            "--text",
            "Hi",
        )
