"""The contract cases of the conversions operations (PostgreSQL-only SQL behind them)."""

import pytest

from tests.api.test_contract import PG_CASES, Contract
from tests.factories import ContactFactory
from tests.fixtures.worker import require_real_engines

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_conversions_answers_match_the_document(api_for, django_user_model) -> None:
    require_real_engines()
    user = django_user_model.objects.create_superuser("contract", password="not-used-here")
    c = Contract(api_for(user, ["read", "conversions:write"]))
    contact = ContactFactory()
    body = {"order_id": "c-1", "contact": {"phone": contact.phone}, "value": "12.50"}
    c.check("POST", "/api/v1/conversions", 201, body)
    c.check("POST", "/api/v1/conversions", 200, body)  # the same order again: stored once
    c.check("POST", "/api/v1/conversions", 200, {"conversions": [body, {"order_id": "c-2"}]})
    c.check("GET", "/api/v1/conversions/{order_id}", 200, order_id="c-1")
    assert c.covered == set(PG_CASES)
