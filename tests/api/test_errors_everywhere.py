"""Every answer under /api/ is the one JSON error shape: 400, 404, 405, 413, 5xx, outages too."""

import json

import pytest
from django.db import OperationalError
from django.test import Client
from kombu.exceptions import OperationalError as BrokerError

from api.models import ApiToken
from campaigns import transactional
from campaigns.models import Message
from tests.api.conftest import make_user
from ui.roles import MARKETER, SENDER

pytestmark = pytest.mark.django_db
SMS = {"channel": "sms", "sender": "Shop", "to": ["41793026727"], "text": "Hi"}


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.fixture
def user():
    return make_user("ops", MARKETER, SENDER)


def test_an_oversized_body_is_413_json_before_it_is_read(api_for, user, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    api = api_for(user)
    body = {"contacts": [{"phone": "+447946000101", "first_name": "x" * 2000}]}
    error = _error(api.post("contacts/upsert", body), 413, "too_large")
    assert "at most 1,000" in error["message"]


def test_paths_under_api_outside_v1_are_json_404(client) -> None:
    _error(client.get("/api/nothing"), 404, "not_found")
    _error(client.get("/api/"), 404, "not_found")
    # Pages outside the API keep Django's own 404 page.
    assert client.get("/no-such-page/").status_code == 404
    assert not client.get("/no-such-page/")["Content-Type"].startswith("application/json")


def test_a_method_the_path_does_not_take_is_json_405(api_for, user) -> None:
    _error(api_for(user).call("DELETE", "messages"), 405, "method_not_allowed")


def test_an_unexpected_error_is_json_500(api_for, user, monkeypatch) -> None:
    api = api_for(user)
    api.client = Client(raise_request_exception=False)
    monkeypatch.setattr(
        "api.views.campaign_status", lambda **kw: (_ for _ in ()).throw(RuntimeError("boom"))
    )
    from tests.factories import CampaignFactory

    campaign = CampaignFactory()
    error = _error(api.get(f"campaigns/{campaign.pk}"), 500, "server_error")
    assert "boom" not in error["message"]  # nothing internal is shown


def test_database_down_is_503_json_with_retry_after(api_for, user, monkeypatch) -> None:
    api = api_for(user)
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self, *args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    response = api.post("messages", SMS)
    error = _error(response, 503, "unavailable")
    assert "database" in error["message"]
    assert response["Retry-After"] == "30"


def test_broker_down_a_send_is_kept_in_the_ledger_and_answered_202(
    api_for, user, monkeypatch
) -> None:
    """Never a 500 for a message that will go anyway: 202 queued, the sweep sends it later."""

    def unreachable(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("campaigns.tasks.campaign_dispatch.delay", unreachable)
    response = api_for(user).post("messages", SMS)
    assert response.status_code == 202, response.content
    (message,) = response.json()["messages"]
    assert message["state"] == "queued"
    assert Message.objects.get(message_id=message["messageId"]).state == "queued"
    assert transactional  # the module that enqueues after commit (robust)


def test_bad_cursor_page_size_and_filter_values_are_400_naming_the_parameter(api_for, user) -> None:
    from tests.factories import CampaignFactory

    api = api_for(user)
    campaign = CampaignFactory()
    cases = [
        ("contacts?cursor=zzz", "cursor"),
        ("contacts?page_size=0", "page_size"),
        ("contacts?page_size=1001", "page_size"),
        ("contacts?page_size=%C2%B2", "page_size"),
        ("contacts?opted_out=maybe", "opted_out"),
        ("contacts?list=no-such-list", "list"),
        ("inbound?channel=fax", "channel"),
        (f"campaigns/{campaign.pk}/messages?state=delivred", "state"),
    ]
    for path, name in cases:
        error = _error(api.get(path), 400, "invalid")
        assert list(error["fields"]) == [name], (path, error)
        assert error["message"].startswith(f"{name}: ")
    assert api.get(f"campaigns/{campaign.pk}/messages?state=delivered").status_code == 200
    assert api.get("contacts?opted_out=true&page_size=1000").status_code == 200


def test_an_over_long_idempotency_key_is_refused_not_cut(api_for, user) -> None:
    api = api_for(user)
    error = _error(
        api.post("messages", SMS, headers={"Idempotency-Key": "k" * 256}), 400, "invalid"
    )
    assert list(error["fields"]) == ["Idempotency-Key"]
    assert Message.objects.count() == 0
    assert api.post("messages", SMS, headers={"Idempotency-Key": "k" * 255}).status_code == 202


def test_an_expired_token_is_refused_and_says_so(api_for, user) -> None:
    api = api_for(user, ["read"])
    assert api.get("contacts").status_code == 200
    from django.utils import timezone

    ApiToken.objects.update(expires_at=timezone.now())
    error = _error(api.get("contacts"), 401, "authentication_failed")
    assert "expired at" in error["message"]


def test_api_token_create_expires_in(user, capsys) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command(
        "api_token", "create", "--user", "ops", "--scopes", "read", "--expires-in", "90d", "--json"
    )
    created = json.loads(capsys.readouterr().out)
    token = ApiToken.objects.get(pk=created["id"])
    assert created["expires_at"] == token.expires_at.isoformat()
    assert 89.9 < (token.expires_at - token.created_at).total_seconds() / 86400 < 90.1
    call_command("api_token", "list", "--json")
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["state"], row["expires_at"]) == ("active", created["expires_at"])
    with pytest.raises(CommandError, match="use a number and a unit"):
        call_command(
            "api_token", "create", "--user", "ops", "--scopes", "read", "--expires-in", "soon"
        )


def test_the_api_page_and_admin_show_expiry(client, user) -> None:
    client.force_login(user)
    response = client.post(
        "/settings/api/",
        {"action": "create_token", "name": "ci", "scopes": ["read"], "expires_in": "2w"},
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="ci")
    assert token.expires_at is not None
    page = response.content.decode()
    assert 'class="token-expiry">never<' not in page
    bad = client.post(
        "/settings/api/",
        {"action": "create_token", "name": "x", "scopes": ["read"], "expires_in": "tomorrow"},
    )
    assert bad.status_code == 400
    assert "use a number and a unit" in bad.content.decode()
    admin = make_user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    listing = client.get("/admin/api/apitoken/").content.decode()
    assert "Expires at" in listing or "expires at" in listing.lower()
