"""Retries: what is safe to repeat is repeated, a send that may have reached Infobip never is."""

import pytest
import urllib3.util.retry

from infobip.client import InfobipClient, InfobipRetry
from infobip.errors import (
    InfobipConnectionError,
    InfobipOutcomeUnknownError,
    InfobipServerError,
    InfobipThrottledError,
)
from infobip.types import SmsMessage
from tests.infobip.conftest import API_KEY, BASE_URL, example, spec_example
from tests.infobip.servers import RawServer, closed_port, http_answer

SMS = [SmsMessage(to="41793026727", text="Hello", message_id="m-1")]


@pytest.fixture
def retrying():
    api = InfobipClient(BASE_URL, API_KEY, max_retries=3, backoff_factor=0)
    yield api
    api.close()


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Record urllib3's waits between attempts instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(urllib3.util.retry.time, "sleep", waits.append)
    return waits


def _local(url: str, **kwargs) -> InfobipClient:
    options = {"max_retries": 2, "backoff_factor": 0, "read_timeout": 0.3, **kwargs}
    return InfobipClient(url, API_KEY, **options)


def test_throttled_then_ok_succeeds(retrying, mocked) -> None:
    url = f"{BASE_URL}/sms/3/messages"
    mocked.post(url, json=example("error_v3_429"), status=429)
    mocked.post(url, json=example("sms_send_response_v3"))

    result = retrying.send_sms(SMS)

    assert len(mocked.calls) == 2
    assert result.bulk_id == "2034072219640523072"


def test_server_errors_give_up_after_max_retries_with_the_typed_error(retrying, mocked) -> None:
    mocked.get(f"{BASE_URL}/sms/3/reports", json=example("error_v2_500"), status=500)

    with pytest.raises(InfobipServerError) as caught:
        retrying.get_sms_reports()

    assert len(mocked.calls) == 4
    assert caught.value.error_code == "GENERAL_ERROR"


def test_a_send_answered_503_is_retried(retrying, mocked) -> None:
    url = f"{BASE_URL}/whatsapp/1/message/text"
    mocked.post(url, json=example("error_v2_500"), status=503)
    mocked.post(url, json=example("whatsapp_send_text_response"))

    sent = retrying.send_whatsapp_text(sender="4411", to="4412", text="x", message_id="w-1")

    assert len(mocked.calls) == 2
    assert sent.message_id


def test_a_send_answered_by_a_gateway_timeout_is_not_repeated(retrying, mocked) -> None:
    mocked.post(f"{BASE_URL}/sms/3/messages", body="gateway timeout", status=504)
    with pytest.raises(InfobipOutcomeUnknownError):
        retrying.send_sms(SMS)
    assert len(mocked.calls) == 1


def test_a_read_answered_by_a_gateway_timeout_is_retried(retrying, mocked) -> None:
    url = f"{BASE_URL}/sms/3/reports"
    mocked.get(url, body="gateway timeout", status=504)
    mocked.get(url, json=spec_example("GET", "/sms/3/reports"))
    assert len(retrying.get_sms_reports()) == 2
    assert len(mocked.calls) == 2


def test_a_retry_after_beyond_the_cap_ends_retries_for_the_caller_to_reschedule(
    retrying, mocked
) -> None:
    mocked.get(
        f"{BASE_URL}/sms/3/logs",
        json=example("error_v3_429"),
        status=429,
        headers={"Retry-After": "120"},
    )
    with pytest.raises(InfobipThrottledError) as caught:
        retrying.get_sms_logs(bulk_id="b")
    assert len(mocked.calls) == 1
    assert caught.value.retry_after == 120.0


def test_retry_after_is_honoured_over_a_real_connection(sleeps) -> None:
    answers = [
        http_answer(429, b'{"errorCode":"E429"}', Retry_After="2"),
        http_answer(200, b'{"results":[]}'),
    ]
    with RawServer("script", answers) as server:
        api = _local(server.url, backoff_factor=10)
        api.check_credentials()
    assert server.connections == 2
    assert sleeps == [2]


def test_backoff_grows_exponentially_with_jitter(sleeps, monkeypatch) -> None:
    monkeypatch.setattr("infobip.client.random.random", lambda: 0.5)
    answers = [http_answer(500), http_answer(502), http_answer(200, b'{"results":[]}')]
    with RawServer("script", answers) as server:
        api = _local(server.url, backoff_factor=0.2)
        api.check_credentials()
    assert server.connections == 3
    assert sleeps == pytest.approx([0.2 + 0.1, 0.4 + 0.1])


def test_read_timeout_on_a_send_is_outcome_unknown_and_not_retried() -> None:
    with RawServer("hang") as server, pytest.raises(InfobipOutcomeUnknownError) as caught:
        _local(server.url).send_sms(SMS)
    assert server.connections == 1
    assert b"POST /sms/3/messages" in server.requests[0]
    assert "may have reached Infobip" in caught.value.description


def test_read_timeout_on_a_get_is_retried_then_a_connection_error() -> None:
    with RawServer("hang") as server, pytest.raises(InfobipConnectionError):
        _local(server.url).get_sms_reports()
    assert server.connections == 3


def test_connection_dropped_after_a_send_is_outcome_unknown_and_not_retried() -> None:
    with RawServer("drop") as server, pytest.raises(InfobipOutcomeUnknownError):
        _local(server.url).send_whatsapp_text(sender="4411", to="4412", text="x", message_id="w")
    assert server.connections == 1


def test_connection_dropped_mid_answer_on_a_send_is_outcome_unknown() -> None:
    truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + b'{"messages": ['
    with RawServer("script", [truncated]) as server, pytest.raises(InfobipOutcomeUnknownError):
        _local(server.url).send_sms(SMS)
    assert server.connections == 1


def test_connection_dropped_on_a_get_is_retried() -> None:
    with RawServer("drop") as server, pytest.raises(InfobipConnectionError):
        _local(server.url).get_inbound_sms()
    assert server.connections == 3


def test_connection_refused_on_a_send_is_a_safe_connection_error() -> None:
    with closed_port() as port, pytest.raises(InfobipConnectionError) as caught:
        _local(f"http://127.0.0.1:{port}").send_sms(SMS)
    assert "could not connect" in caught.value.description


def test_retry_policy_unit() -> None:
    retry = InfobipRetry(total=3, allowed_methods=None, status_forcelist={429, 500, 502, 504})
    assert retry.is_retry("POST", 429)
    assert retry.is_retry("POST", 500)
    assert not retry.is_retry("POST", 504)
    assert retry.is_retry("GET", 504)
    assert retry.new(total=1).max_retry_after == retry.max_retry_after
