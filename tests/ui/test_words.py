"""Issue 26 #14: the marketer reads reasons in words, not codes or command-line flags."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.ui.conftest import make_user
from ui.roles import MARKETER
from ui.words import in_words


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("INVALID_COUNTRY_CODE: national format needs --default-region (or write it as "
         "+<country code>…)", "a number written the national way needs its country: choose the "
         "country, or write it with + and the country code"),
        ("TOO_SHORT: too short (read as international digits without +; a national number needs "
         "--default-region)", "too short (read as an international number without the +: for a "
         "national number, choose its country)"),
        ("phone: NOT_A_NUMBER: not a phone number", "phone: not a phone number"),
        ("import with --allow-sequential",
         "import with “Accept runs of consecutive numbers” ticked"),
        ("Delivered to the phone", "Delivered to the phone"),
    ],
)  # fmt: skip
def test_codes_and_flags_become_words(reason, words):
    assert in_words(reason) == words
    assert "--" not in in_words(reason)


@pytest.mark.django_db
def test_the_contact_form_says_it_in_words(client):
    client.force_login(make_user("mia", MARKETER))
    page = client.post(reverse("ui:contact_new"), {"phone": "07946 000777"}).content.decode()
    assert "needs its country: choose the country" in page
    assert "--default-region" not in page
    assert "INVALID_COUNTRY_CODE" not in page


# What the marketer's pages may not say: a command, an API path, a setting or a command-line flag
# (issue 26 #14; the locked-out, segments, conversions, journey and archived-campaign pages did).
OPERATOR_WORDS = re.compile(r"manage\.py|/api/v1|\b(?:INFOBIP|HERALD)_[A-Z_]+|\s--[a-z]")
TEMPLATE_CODE = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.S)


def test_no_marketer_page_names_a_command_an_api_path_or_a_setting():
    said = {}
    for path in sorted((Path(settings.BASE_DIR) / "templates" / "ui").rglob("*.html")):
        text = TEMPLATE_CODE.sub(" ", path.read_text())
        if found := OPERATOR_WORDS.findall(text):
            said[path.name] = found
    assert not said, said
