"""Senders per country: the service's checks, the routing of each country, the command."""

import json

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from channels.models import Sender
from channels.registry import channel_type
from channels.senders import SenderBook, sender_remove, sender_save
from core.models import AuditEntry
from core.rules import OPERATOR, Refused

pytestmark = pytest.mark.django_db
SMS = channel_type("sms")


def _problems(**kwargs) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        sender_save(actor=OPERATOR, **kwargs)
    return caught.value.message_dict


def test_a_sender_is_added_then_changed_and_both_are_audited() -> None:
    row, created = sender_save(channel="sms", country="us", sender="+12025550100", actor=OPERATOR)
    assert created
    assert (row.medium, row.country, row.sender) == ("sms", "US", "+12025550100")
    again, created = sender_save(channel="sms", country="US", sender="+12025550111", actor=OPERATOR)
    assert not created
    assert again.pk == row.pk
    assert again.sender == "+12025550111"
    assert Sender.objects.count() == 1
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "detail"))
    assert actions == [
        ("sender_add", "sms US: +12025550100"),
        ("sender_change", "sms US: +12025550111"),
    ]


def test_a_channel_type_names_its_medium_and_whatsapp_numbers_are_normalised() -> None:
    row, _ = sender_save(
        channel="whatsapp_template", country="*", sender="+447860099299", actor=OPERATOR
    )
    assert (row.medium, row.sender) == ("whatsapp", "447860099299")


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"channel": "fax", "country": "US", "sender": "1"}, "channel", "unknown channel"),
        ({"channel": "sms", "country": "XX", "sender": "1"}, "country", "not a country"),
        ({"channel": "sms", "country": "USA", "sender": "1"}, "country", "not a country"),
        ({"channel": "sms", "country": "US", "sender": " "}, "sender", "give the sender"),
        ({"channel": "sms", "country": "US", "sender": "Shop"}, "sender", "alphanumeric"),
        ({"channel": "sms", "country": "KR", "sender": "Shop"}, "sender", "alphanumeric"),
        ({"channel": "sms", "country": "IN", "sender": "HERALD", "dlt_entity_id": "12 34"},
         "dlt_entity_id", "letters, digits"),
        ({"channel": "whatsapp", "country": "IN", "sender": "447860099299",
          "dlt_entity_id": "1234"}, "dlt_entity_id", "not used on whatsapp"),
        ({"channel": "sms", "country": "KR", "sender": "0212345678", "kr_reseller_code": "12"},
         "kr_reseller_code", "9 digits"),
        ({"channel": "sms", "country": "TR", "sender": "SHOP", "iys_brand_code": "-3"},
         "iys_brand_code", "positive whole number"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_by_field_and_nothing_is_written(kwargs, field, words) -> None:
    problems = _problems(**kwargs)
    assert words in " ".join(problems[field])
    assert not Sender.objects.exists()


def test_an_alphanumeric_sender_is_fine_where_names_arrive_and_for_any_country() -> None:
    sender_save(channel="sms", country="GB", sender="Shop", actor=OPERATOR)
    sender_save(channel="sms", country="*", sender="Shop", actor=OPERATOR)
    assert Sender.objects.count() == 2


def test_changing_senders_needs_the_permissions() -> None:
    clerk = User.objects.create_user("clerk")
    with pytest.raises(Refused):
        sender_save(channel="sms", country="US", sender="+12025550100", actor=clerk)
    clerk.user_permissions.add(Permission.objects.get(codename="add_sender"))
    clerk = User.objects.get(pk=clerk.pk)
    row, _ = sender_save(channel="sms", country="US", sender="+12025550100", actor=clerk)
    with pytest.raises(Refused):  # changing and removing are permissions of their own
        sender_save(channel="sms", country="US", sender="+12025550111", actor=clerk)
    with pytest.raises(Refused):
        sender_remove(sender=row, actor=clerk)
    assert Sender.objects.get().sender == "+12025550100"


def _book() -> SenderBook:
    return SenderBook.load("sms")


def test_auto_picks_the_country_then_any_country_then_the_default() -> None:
    sender_save(channel="sms", country="US", sender="+12025550100", actor=OPERATOR)
    sender_save(channel="sms", country="*", sender="Herald", actor=OPERATOR)
    book = _book()
    assert book.route(kind=SMS, country="US", chosen="", default="D").sender == "+12025550100"
    assert book.route(kind=SMS, country="FR", chosen="auto", default="D").sender == "Herald"
    empty = SenderBook("sms", {})
    assert empty.route(kind=SMS, country="FR", chosen="", default="D").sender == "D"


def test_a_campaigns_own_sender_wins_unless_the_country_refuses_it() -> None:
    sender_save(channel="sms", country="US", sender="+12025550100", actor=OPERATOR)
    book = _book()
    france = book.route(kind=SMS, country="FR", chosen="Shop", default="D")
    assert (france.sender, france.swapped_from) == ("Shop", "")
    usa = book.route(kind=SMS, country="US", chosen="Shop", default="D")
    assert (usa.sender, usa.swapped_from, usa.row.country) == ("+12025550100", "Shop", "US")
    # Without a US row the name stays (and the compliance check refuses it before launch).
    canada = book.route(kind=SMS, country="CA", chosen="Shop", default="D")
    assert (canada.sender, canada.swapped_from) == ("Shop", "")


def test_regional_ids_come_from_the_row_whose_sender_is_used() -> None:
    sender_save(channel="sms", country="IN", sender="HERALD", dlt_entity_id="1101", actor=OPERATOR)
    book = _book()
    assert book.route(kind=SMS, country="IN", chosen="HERALD", default="").row.dlt_entity_id == (
        "1101"
    )
    assert book.route(kind=SMS, country="IN", chosen="OTHER", default="").row is None


def test_the_command_adds_lists_and_removes_with_json(capsys) -> None:
    call_command(
        "sender",
        "add",
        "--channel",
        "sms",
        "--country",
        "IN",
        "--sender",
        "HERALD",
        "--dlt-entity-id",
        "1101456789",
        "--json",
    )
    added = json.loads(capsys.readouterr().out)
    assert added["created"]
    assert added["country_name"] == "India"
    assert added["dlt_entity_id"] == "1101456789"
    call_command("sender", "add", "--channel", "sms", "--country", "*", "--sender", "Herald")
    assert "sender added" in capsys.readouterr().out
    call_command("sender", "list", "--json")
    assert [d["country"] for d in json.loads(capsys.readouterr().out)] == ["*", "IN"]
    call_command("sender", "remove", "--channel", "sms", "--country", "in", "--json")
    assert json.loads(capsys.readouterr().out)["removed"] is True
    call_command("sender", "list")
    assert capsys.readouterr().out.strip().endswith("1 sender(s)")


def test_the_command_says_what_is_wrong_and_exits_non_zero() -> None:
    with pytest.raises(CommandError, match=r"sender: .*alphanumeric"):
        call_command("sender", "add", "--channel", "sms", "--country", "US", "--sender", "Shop")
    with pytest.raises(CommandError, match="no sender id 99"):
        call_command("sender", "remove", "99")
    with pytest.raises(CommandError, match="unknown channel"):
        call_command("sender", "list", "--channel", "pigeon")
    assert not Sender.objects.exists()
