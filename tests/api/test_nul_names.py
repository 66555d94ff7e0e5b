"""A list name holding NUL gets a 400 with its field path, never a 500 (PostgreSQL text cannot
hold one)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("field", ["lists", "exclude_lists"])
def test_a_list_name_with_nul_is_a_field_error(api_for, sender_user, field) -> None:
    body = {"name": "K", "channel": "sms", "text": "Hi", "lists": ["News"], field: ["\u00ed\u0000"]}
    response = api_for(sender_user).post("campaigns", body)
    assert response.status_code == 400
    assert field in response.content.decode()
