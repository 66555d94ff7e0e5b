"""Base URL normalisation, get_client() from settings, and the API key never leaking."""

import logging

import pytest
import requests
from django.test import override_settings

from infobip.client import InfobipClient, get_client, normalise_base_url, set_client_factory
from infobip.errors import InfobipConfigError, InfobipError
from infobip.types import SmsMessage
from tests.infobip.conftest import API_KEY, BASE_URL, example
from tests.infobip.servers import RawServer, closed_port, http_answer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.api.infobip.com", "https://acme.api.infobip.com"),
        ("  https://ACME.api.infobip.com/  ", "https://acme.api.infobip.com"),
        ("https://acme.api.infobip.com//", "https://acme.api.infobip.com"),
        ("acme.api.infobip.com:8443/", "https://acme.api.infobip.com:8443"),
        ("https://gateway.example.com/infobip/", "https://gateway.example.com/infobip"),
        ("http://127.0.0.1:9100/", "http://127.0.0.1:9100"),
        ("http://localhost:9100", "http://localhost:9100"),
        ("http://[::1]:9100", "http://[::1]:9100"),
    ],
)
def test_base_url_is_normalised(raw: str, expected: str) -> None:
    assert normalise_base_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "http://acme.api.infobip.com",  # plain http would send the key in clear
        "ftp://acme.api.infobip.com",
        "https://user:pw@acme.api.infobip.com",
        "https://acme.api.infobip.com/?x=1",
        "https://acme.api.infobip.com:99999",
        "https://acme api.infobip.com",
    ],
)
def test_bad_base_urls_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InfobipConfigError) as caught:
        normalise_base_url(raw)
    assert caught.value.description


def test_requests_go_to_the_normalised_url_with_the_app_key(mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/logs", json={"results": []})
    InfobipClient("acme.api.infobip.com/", API_KEY).check_credentials()
    request = mocked.calls[0].request
    assert request.url == f"{BASE_URL}/sms/3/logs?limit=1"
    assert request.headers["Authorization"] == f"App {API_KEY}"


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(InfobipConfigError):
        InfobipClient(BASE_URL, "  ")


def test_the_key_never_shows_in_reprs(api) -> None:
    assert API_KEY not in repr(api)
    assert API_KEY[-4:] in repr(api)  # masked: the last four characters only
    assert API_KEY not in repr(api._session.auth)
    assert API_KEY not in repr(vars(api))


def test_the_key_never_reaches_logs_or_exceptions(caplog, mocked) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    api = InfobipClient(BASE_URL, API_KEY, max_retries=0, backoff_factor=0)
    # An answer that echoes the key back must not smuggle it into our errors.
    exception = {
        "messageId": "UNAUTHORIZED",
        "text": f"bad header App {API_KEY}",
        "validationErrors": {API_KEY: [API_KEY]},
    }
    echo = {"requestError": {"serviceException": exception}}
    mocked.post(f"{BASE_URL}/sms/3/messages", json=echo, status=401)
    mocked.get(f"{BASE_URL}/sms/3/reports", json=example("error_v3_429"), status=429)
    mocked.get(
        f"{BASE_URL}/sms/3/logs", status=302, headers={"Location": f"https://x.example/{API_KEY}"}
    )
    errors: list[InfobipError] = []
    calls = [
        lambda c: c.send_sms([SmsMessage(to="41", text="x", message_id="m")]),
        lambda c: c.get_sms_reports(),
        lambda c: c.check_credentials(),
    ]
    for call in calls:
        with pytest.raises(InfobipError) as caught:
            call(api)
        errors.append(caught.value)
    mocked.stop()
    with RawServer("script", [http_answer(401, b"{}")]) as server:
        with pytest.raises(InfobipError) as caught:
            InfobipClient(server.url, API_KEY, max_retries=0).check_credentials()
        errors.append(caught.value)
    with RawServer("hang") as server:
        local = InfobipClient(server.url, API_KEY, max_retries=0, read_timeout=0.2)
        with pytest.raises(InfobipError) as caught:
            local.send_sms([SmsMessage(to="41", text="x", message_id="m")])
        errors.append(caught.value)
    with closed_port() as port:
        refused = InfobipClient(
            f"http://127.0.0.1:{port}", API_KEY, max_retries=1, backoff_factor=0
        )
        with pytest.raises(InfobipError) as caught:
            refused.get_inbound_sms()
        errors.append(caught.value)
    mocked.start()

    assert len(errors) == 6
    for error in errors:
        assert API_KEY not in str(error)
        assert API_KEY not in repr(error)
        assert API_KEY not in repr(error.violations)
        # requests' exception holds the prepared request (and its headers): never chained.
        assert error.__cause__ is None
        assert not isinstance(error.__context__, requests.RequestException)
    messages = [record.getMessage() for record in caplog.records]
    assert any("POST /sms/3/messages -> 401" in m for m in messages)
    assert any("Starting new HTTP connection" in m for m in messages)  # urllib3's own lines
    assert all(API_KEY not in m for m in messages)


@pytest.mark.usefixtures("no_client_factory")
def test_get_client_uses_the_sandbox_when_configured() -> None:
    with override_settings(
        INFOBIP_SANDBOX=True,
        INFOBIP_SANDBOX_URL="http://127.0.0.1:9100/",
        INFOBIP_SANDBOX_API_KEY="sandbox-key",
        INFOBIP_BASE_URL="",
    ):
        api = get_client()
        assert api.base_url == "http://127.0.0.1:9100"
        assert get_client() is api


@pytest.mark.usefixtures("no_client_factory")
def test_get_client_reads_infobip_settings_and_rebuilds_when_they_change() -> None:
    with override_settings(
        INFOBIP_SANDBOX=False,
        INFOBIP_BASE_URL="acme.api.infobip.com",
        INFOBIP_API_KEY=API_KEY,
        INFOBIP_CONNECT_TIMEOUT=2.0,
        INFOBIP_READ_TIMEOUT=12.0,
        INFOBIP_MAX_RETRIES=1,
    ):
        first = get_client()
        assert first.base_url == BASE_URL
        assert first.timeout == (2.0, 12.0)
        assert first._session.get_adapter(BASE_URL).max_retries.total == 1
        with override_settings(INFOBIP_READ_TIMEOUT=20.0):
            second = get_client()
        assert second is not first
        assert second.timeout == (2.0, 20.0)


@pytest.mark.usefixtures("no_client_factory")
def test_get_client_without_a_key_in_production_is_a_config_error() -> None:
    settings = override_settings(
        INFOBIP_SANDBOX=False, INFOBIP_BASE_URL=BASE_URL, INFOBIP_API_KEY=""
    )
    with settings, pytest.raises(InfobipConfigError):
        get_client()


@pytest.mark.usefixtures("no_client_factory")
def test_set_client_factory_swaps_the_client() -> None:
    fake = InfobipClient("http://127.0.0.1:1", "fake-key")
    set_client_factory(lambda: fake)
    assert get_client() is fake
    set_client_factory(None)
    with override_settings(INFOBIP_SANDBOX=True, INFOBIP_SANDBOX_URL="http://127.0.0.1:9100"):
        assert get_client() is not fake
