"""The webhook view: authentication, limits, shape checks, durable storage before the 200."""

import base64
import hashlib
import json
import socket

import pytest
from django.conf import settings
from django.db import OperationalError
from django.urls import resolve

from infobip.links import WEBHOOK_KINDS, webhook_url
from infobip.models import EventStatus, WebhookEvent
from tests.infobip.webhooks.conftest import example, path_of

pytestmark = pytest.mark.django_db

REPORTS = example("sms_dlr_push_v3")


def test_every_kind_has_its_url_exactly_as_links_builds_it() -> None:
    for kind in WEBHOOK_KINDS:
        url = webhook_url(kind)
        assert url == (
            f"{settings.PUBLIC_BASE_URL}/infobip/webhooks/{settings.INFOBIP_WEBHOOK_TOKEN}/{kind}/"
        )
        match = resolve(url.removeprefix(settings.PUBLIC_BASE_URL))
        assert match.kwargs["kind"] == kind.replace("/", "_")


def test_a_valid_push_is_stored_raw_with_its_hash_and_answered_200(client) -> None:
    body = json.dumps(REPORTS, indent=1).encode()
    response = client.post(path_of("sms/reports"), data=body, content_type="application/json")
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.kind == "sms_reports"
    assert event.body.encode() == body  # byte for byte, not re-serialised
    assert event.content_hash == hashlib.sha256(body).hexdigest()
    assert event.items == 2
    assert event.status == EventStatus.RECEIVED  # processing is asynchronous


@pytest.mark.parametrize("token", ["wrong-token", "", "test-webhook-token-012345678", "x" * 300])
def test_a_wrong_token_is_403_and_stores_nothing(post, token) -> None:
    response = post("sms/reports", REPORTS, token=token or "-")
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists()


def test_no_configured_token_closes_every_webhook(post, settings) -> None:
    settings.INFOBIP_WEBHOOK_TOKEN = ""
    assert post("sms/reports", REPORTS, token="-").status_code == 403
    assert post("sms/reports", REPORTS, token="").status_code in (403, 404)
    assert not WebhookEvent.objects.exists()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_http_basic_with_the_token_as_password_is_accepted(post) -> None:
    token = settings.INFOBIP_WEBHOOK_TOKEN
    ok = post("sms/reports", REPORTS, token="-", HTTP_AUTHORIZATION=_basic("infobip", token))
    assert ok.status_code == 200
    bad = post("sms/reports", REPORTS, token="-", HTTP_AUTHORIZATION=_basic("infobip", "nope"))
    assert bad.status_code == 403
    garbage = post("sms/reports", REPORTS, token="-", HTTP_AUTHORIZATION="Basic !!!notbase64")
    assert garbage.status_code == 403
    assert WebhookEvent.objects.count() == 1


def test_only_post_is_allowed(client) -> None:
    assert client.get(path_of("sms/reports")).status_code == 405
    assert not WebhookEvent.objects.exists()


def test_the_source_allow_list_is_off_by_default_and_enforced_when_set(post, settings) -> None:
    assert post("sms/reports", REPORTS).status_code == 200  # 127.0.0.1, no list
    settings.INFOBIP_WEBHOOK_ALLOWED_NETWORKS = ["infobip"]
    assert post("sms/reports", REPORTS).status_code == 403
    assert post("sms/reports", REPORTS, REMOTE_ADDR="193.105.74.17").status_code == 200
    assert post("sms/reports", REPORTS, REMOTE_ADDR="20.233.44.67").status_code == 200
    assert post("sms/reports", REPORTS, REMOTE_ADDR="20.233.44.68").status_code == 403
    settings.INFOBIP_WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8", "::1/128"]
    assert post("sms/reports", REPORTS, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert post("sms/reports", REPORTS, REMOTE_ADDR="::1").status_code == 200
    assert post("sms/reports", REPORTS, REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200
    assert WebhookEvent.objects.filter(source_ip="10.1.2.3").count() == 1


def test_the_proxy_header_is_honoured_only_when_configured(post, settings) -> None:
    settings.INFOBIP_WEBHOOK_ALLOWED_NETWORKS = ["infobip"]
    spoofed = {"HTTP_X_FORWARDED_FOR": "193.105.74.17"}
    assert post("sms/reports", REPORTS, **spoofed).status_code == 403
    settings.INFOBIP_WEBHOOK_PROXY_HEADER = "X-Forwarded-For"
    # The right-most entry is what our proxy saw; earlier ones are the client's to forge.
    forged = {"HTTP_X_FORWARDED_FOR": "193.105.74.17, 6.6.6.6"}
    assert post("sms/reports", REPORTS, **forged).status_code == 403
    real = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 193.105.74.17"}
    assert post("sms/reports", REPORTS, **real).status_code == 200
    assert WebhookEvent.objects.get().source_ip == "193.105.74.17"


def test_an_invalid_allow_list_closes_the_door(post, settings) -> None:
    settings.INFOBIP_WEBHOOK_ALLOWED_NETWORKS = ["not-a-network"]
    assert post("sms/reports", REPORTS).status_code == 403


def test_an_oversized_body_is_400_and_stores_nothing(post, settings) -> None:
    settings.HERALD_WEBHOOK_MAX_BYTES = 1000
    big = {"results": [{**REPORTS["results"][0], "pad": "x" * 1000}]}
    response = post("sms/reports", big)
    assert response.status_code == 400
    assert "larger than" in response.json()["status"]
    assert post("sms/reports", {"results": []}).status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("sms/reports", b"not json"),
        ("sms/reports", b'{"results": [}'),
        ("sms/reports", b"\xff\xfe{}"),
        ("sms/reports", b'{"results": [{"messageId": "a", "status": {}, "x": NaN}]}'),
        ("sms/reports", b"[]"),
        ("sms/reports", b'"results"'),
        ("sms/reports", b"{}"),
        ("sms/reports", b'{"results": {}}'),
        ("sms/reports", b'{"results": [1, 2]}'),
        ("sms/reports", b'{"results": [{"status": {"groupId": 3}}]}'),
        ("sms/reports", b'{"results": [{"messageId": "a"}]}'),
        ("sms/reports", b'{"results": [{"messageId": true, "status": {}}]}'),
        ("sms/inbound", b'{"results": [{"messageId": "a", "text": "STOP"}]}'),
        ("whatsapp/reports", b'{"messageTemplateName": "x"}'),
        ("clicks", b'{"notificationType": "CLICKED"}'),
        ("clicks", b"[1]"),
        ("sms/reports", b"[" * 100_000 + b"]" * 100_000),
        ("sms/reports", b'{"results": [{"messageId": 1' + b"0" * 5000 + b', "status": {}}]}'),
    ],
)
def test_malformed_or_misshapen_bodies_are_400_and_store_nothing(post, kind, body) -> None:
    response = post(kind, body, raw=True)
    assert response.status_code == 400, response.content
    assert not WebhookEvent.objects.exists()


def test_key_casing_does_not_matter_for_the_shape_check(post) -> None:
    body = {"Results": [{"MessageID": "m-1", "STATUS": {"groupId": 3, "id": 5}}]}
    assert post("sms/reports", body).status_code == 200


def test_the_same_push_twice_is_stored_twice_and_applied_once(post) -> None:
    assert post("sms/reports", REPORTS).status_code == 200
    assert post("sms/reports", REPORTS).status_code == 200
    events = list(WebhookEvent.objects.order_by("id").values_list("status", flat=True))
    assert events == ["processed", "duplicate"]


def test_database_down_answers_503_never_200(post, monkeypatch) -> None:
    """The INSERT fails as a real driver error would; the answer must make Infobip retry."""

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(WebhookEvent.objects, "create", refuse)
    response = post("sms/reports", REPORTS)
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    monkeypatch.undo()
    assert not WebhookEvent.objects.exists()
    assert post("sms/reports", REPORTS).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_postgresql_down_answers_503_and_nothing_is_lost(client) -> None:
    """The real thing: the connection goes where no PostgreSQL answers (a port nobody serves;
    for the unit run's socket directory, a socket file that is not there)."""
    from django.db import connection

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    body = json.dumps(REPORTS)
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = dead_port
    try:
        response = client.post(path_of("sms/reports"), data=body, content_type="application/json")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
    assert response.status_code == 503
    assert not WebhookEvent.objects.exists()
    # Infobip retries once the database is back: stored exactly once.
    response = client.post(path_of("sms/reports"), data=body, content_type="application/json")
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_a_broken_broker_does_not_lose_the_push(post, monkeypatch) -> None:
    from infobip import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.process_events, "delay", broker_down)
    assert post("sms/reports", REPORTS).status_code == 200
    assert WebhookEvent.objects.get().status == EventStatus.RECEIVED
    from infobip.processing import events_backlog

    assert events_backlog(older_than=0).events == 1
    assert WebhookEvent.objects.get().status == EventStatus.PROCESSED


def test_access_logs_of_webhook_urls_never_show_the_token() -> None:
    import logging

    from core.logging import RedactSecretsFilter

    token = settings.INFOBIP_WEBHOOK_TOKEN
    configured = settings.LOGGING["loggers"]["django.server"]
    assert configured["propagate"] is False
    for name in configured["handlers"]:
        filters = settings.LOGGING["handlers"][name]["filters"]
        assert filters
        classes = [settings.LOGGING["filters"][f]["()"] for f in filters]
        assert all(c.endswith("RedactSecretsFilter") for c in classes)
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"POST %s HTTP/1.1" 200 19',
        (path_of("sms/reports"),),
        None,
    )
    assert RedactSecretsFilter().filter(record)
    assert token not in record.getMessage()
    assert "/sms/reports/" in record.getMessage()
