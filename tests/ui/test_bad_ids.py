"""Ids from query strings and forms that are not whole numbers find nothing; they never 500."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["1e9", "²", "-1", "9" * 30, "1.5", "\u0661"])
def test_the_template_form_fragment_reads_a_bad_template_id_as_none(marketer_client, value) -> None:
    response = marketer_client.get(reverse("ui:wizard_template_form"), {"template": value})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["1e9", "²", "9" * 30])
def test_the_bulk_action_refuses_a_bad_list_id_with_a_message(marketer_client, value) -> None:
    response = marketer_client.post(
        reverse("ui:contacts_bulk"), {"action": "add_to_list", "target_list": value}, follow=True
    )
    assert response.status_code == 200
    assert "Choose the list." in response.content.decode()
