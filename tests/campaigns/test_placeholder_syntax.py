"""Double braces that are not a placeholder are refused, on every surface (issue 26 #9)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from campaigns.models import Campaign
from campaigns.rendering import placeholder_syntax_problem
from campaigns.services import campaign_create
from tests.ui.conftest import make_audience


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {{first_name", "“{{first_name” is not closed: write {{first_name}}"),
        ("Hi {{first_name}, sale", "“{{first_name}, sale” is not closed: write {{first_name}}"),
        ("Hi {{first_name|there}}, code {{code", "“{{code” is not closed: write {{code}}"),
        ("Hi {{ }} there", "“{{ }}” is not a placeholder"),
        ("{{1st}} prize", "“{{1st}}” is not a placeholder"),
        ("50% off }} today", "closes a placeholder with }} that was never opened"),
    ],
)
def test_broken_double_braces_are_named_with_the_fix(text, expected):
    assert expected in placeholder_syntax_problem(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hi {{first_name}}",
        "Hi {{ first_name | there }}",
        "{single} braces",
        "{{{first_name}}}",
        "no braces at all",
        "{{a}}{{b|}}",
    ],
)
def test_placeholders_and_single_braces_pass(text):
    assert placeholder_syntax_problem(text) is None


@pytest.mark.django_db
def test_the_service_refuses_it_so_the_command_and_api_do_too(client):
    audience = make_audience(1)
    with pytest.raises(ValidationError, match="is not closed"):
        campaign_create(name="x", channel="sms", lists=[audience], text="Hi {{first_name")
    with pytest.raises(CommandError, match="is not closed"):
        call_command(
            "campaign",
            "create",
            "--name",
            "y",
            "--list",
            audience.name,
            "--channel",
            "sms",
            "--text",
            "Hi {{first_name",
        )
    assert not Campaign.objects.exists()
