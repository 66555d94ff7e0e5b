"""Opt-in keywords in the UI: add, refuse what cannot work, edit (texts versioned), permission."""

import pytest
from django.urls import reverse

from contacts.models import ContactList, OptInKeyword
from core.models import AuditEntry

pytestmark = pytest.mark.django_db

TERMS = "Herald News: up to 4 msgs/month. Msg & data rates may apply. STOP to end, HELP for help."


def _post(client, **fields):
    data = {
        "keyword": "join",
        "number": "",
        "channel": "sms",
        "confirmation_text": TERMS,
        "confirm_prompt": "",
        "active": "on",
    } | fields
    return client.post(reverse("ui:keywords"), data)


def test_a_marketer_adds_and_edits_a_keyword_and_the_wording_version_moves(
    marketer_client,
) -> None:
    news = ContactList.objects.create(name="News")
    response = _post(marketer_client, contact_list=news.pk, number="+44 7860 099999")
    assert response["Location"] == reverse("ui:keywords")
    keyword = OptInKeyword.objects.get()
    assert (keyword.keyword, keyword.number, keyword.contact_list, keyword.wording_version) == (
        "join",
        "447860099999",
        news,
        1,
    )
    page = marketer_client.get(reverse("ui:keywords")).content.decode()
    assert "<td>JOIN</td>" in page
    assert "<td>447860099999</td>" in page
    edit = marketer_client.get(reverse("ui:keywords") + f"?edit={keyword.pk}").content.decode()
    assert f'name="id" value="{keyword.pk}"' in edit
    assert TERMS.replace("&", "&amp;") in edit
    _post(
        marketer_client,
        id=keyword.pk,
        contact_list=news.pk,
        number="447860099999",
        double_opt_in="on",
        confirm_prompt="Reply YES to get Herald News.",
    )
    keyword.refresh_from_db()
    assert (keyword.double_opt_in, keyword.wording_version) == (True, 2)
    assert AuditEntry.objects.filter(action="opt-in-keyword").count() == 2


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"keyword": " "}, "Give the word people text"),
        ({"contact_list": ""}, "Choose the list they join"),
        ({"confirmation_text": ""}, "Write the confirmation"),
        ({"double_opt_in": "on"}, "Double opt-in needs the prompt"),
        ({"contact_list": "99999"}, "That list no longer exists"),
    ],
)
def test_what_cannot_work_is_refused_at_the_field(marketer_client, fields, problem) -> None:
    news = ContactList.objects.create(name="News")
    response = _post(marketer_client, **({"contact_list": news.pk} | fields))
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert not OptInKeyword.objects.exists()


def test_the_same_word_twice_on_a_number_is_refused(marketer_client) -> None:
    news = ContactList.objects.create(name="News")
    _post(marketer_client, contact_list=news.pk)
    response = _post(marketer_client, keyword="JOIN", contact_list=news.pk)
    assert response.status_code == 400
    assert "already a keyword on that number" in response.content.decode()
    assert OptInKeyword.objects.count() == 1


def test_the_page_needs_the_list_permission(client) -> None:
    from tests.ui.conftest import make_user

    assert client.get(reverse("ui:keywords")).status_code == 302  # the login page
    client.force_login(make_user("viewer"))
    assert client.get(reverse("ui:keywords")).status_code == 403
