"""The wizard's message checks as the marketer types (issue 26 #9)."""

import pytest
from django.urls import reverse

from tests.ui.conftest import make_audience


@pytest.mark.django_db
def test_the_wizard_refuses_it_at_the_field_and_the_counter_warns_as_you_type(marketer_client):
    audience = make_audience(2)
    marketer_client.post(reverse("ui:wizard_audience"), {"name": "B", "lists": [audience.pk]})
    counter = marketer_client.post(reverse("ui:sms_counter"), {"text": "Hi {{first_name"})
    assert b'id="sms-syntax"' in counter.content
    assert "is not closed: write {{first_name}}" in counter.content.decode()
    response = marketer_client.post(
        reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi {{first_name"}
    )
    assert response.status_code == 400
    assert "is not closed: write {{first_name}}" in response.content.decode()


@pytest.mark.django_db
def test_the_counter_warns_near_and_over_the_1600_cap(marketer_client, settings):
    settings.HERALD_SMS_MAX_CHARS = 1600
    audience = make_audience(1)
    marketer_client.post(reverse("ui:wizard_audience"), {"name": "C", "lists": [audience.pk]})
    near = marketer_client.post(reverse("ui:sms_counter"), {"text": "a" * 1500}).content.decode()
    assert "100 characters left before the 1,600-character limit" in near
    over = marketer_client.post(reverse("ui:sms_counter"), {"text": "a" * 1603}).content.decode()
    assert "3 characters over the 1,600-character limit" in over
    fine = marketer_client.post(reverse("ui:sms_counter"), {"text": "a" * 100}).content.decode()
    assert 'id="sms-cap"' not in fine
