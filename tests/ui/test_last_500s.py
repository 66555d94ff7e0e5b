"""The last 500s: non-ASCII digits in number fields, and a refused sandbox form (403)."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from contacts.models import ContactList
from tests.ui.conftest import make_audience, make_user

pytestmark = pytest.mark.django_db


def test_the_wizard_s_speed_limit_answers_superscript_two_with_a_field_error(
    marketer_client,
) -> None:
    audience = make_audience(3)
    marketer_client.post(reverse("ui:wizard_audience"), {"name": "Speed", "lists": [audience.pk]})
    marketer_client.post(reverse("ui:wizard_message"), {"channel": "sms", "text": "Hi"})
    for value in ("²", "١٢", "1e3"):
        response = marketer_client.post(
            reverse("ui:wizard_options"),
            {"send_mode": "now", "speed_limit": value, "speed_unit": "minute"},
        )
        assert response.status_code == 400, value
        assert "The speed limit must be a whole number." in response.content.decode()
    assert not Campaign.objects.filter(name="Speed").exists()
    response = marketer_client.post(
        reverse("ui:wizard_options"),
        {"send_mode": "now", "speed_limit": "60", "speed_unit": "minute"},
    )
    assert response.status_code == 302
    assert Campaign.objects.get(name="Speed").speed_limit == 60


def test_a_new_contact_s_list_choice_ignores_non_ascii_digits(marketer_client) -> None:
    staff = ContactList.objects.create(name="Staff")
    response = marketer_client.post(
        reverse("ui:contact_new"), {"phone": "+447946000501", "lists": ["²", str(staff.pk)]}
    )
    assert response.status_code in (200, 302), response.status_code


def test_the_opt_out_page_answers_a_non_ascii_list_choice(client) -> None:
    from contacts.models import Contact
    from contacts.optout import opt_out_token

    contact = Contact.objects.create(phone="+447946000502")
    response = client.post(f"/o/{opt_out_token(contact.pk)}", {"scope": "²"})
    assert response.status_code == 400  # the choice is refused with the reason, not a 500
    assert "Choose what to stop." in response.content.decode()


def test_the_sandbox_form_refuses_a_user_without_the_permission_with_403(client, settings) -> None:
    nobody = make_user("nora")  # signed in, no role
    client.force_login(nobody)
    response = client.post(
        reverse("ui:sandbox_inbound"), {"channel": "sms", "from": "+447946000101", "text": "STOP"}
    )
    assert response.status_code == 403
    assert "infobip.view_inboundmessage" in response.content.decode()
