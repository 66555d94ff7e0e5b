"""Fault injection: 429 (with and without Retry-After), 5xx, slow answers, dropped connections,
duplicated and out-of-order report pushes. All off by default."""

import threading
import time

import pytest
import requests

from .conftest import example


def test_faults_are_off_by_default(sandbox, sms_body) -> None:
    for _ in range(20):
        assert sandbox.request("POST", "/sms/3/messages", json=sms_body()).status_code == 200
    assert set(sandbox.state()["faults"].values()) == {0}


def test_429_with_and_without_retry_after(sandbox, sms_body) -> None:
    sandbox.configure(rate_429=1, retry_after_share=1, retry_after_seconds=7)
    with_header = sandbox.request("POST", "/sms/3/messages", json=sms_body())
    assert with_header.status_code == 429
    assert with_header.headers["Retry-After"] == "7"
    assert with_header.json() == example("error_v3_429")
    sandbox.configure(retry_after_share=0)
    legacy = sandbox.request(
        "POST", "/whatsapp/1/message/text", json=example("whatsapp_send_text_request")
    )
    assert legacy.status_code == 429
    assert "Retry-After" not in legacy.headers
    assert legacy.json() == example("error_v2_429")
    state = sandbox.state()
    assert state["accepted"]["total"] == 0
    assert state["faults"]["429"] == 2


def test_5xx_accepts_nothing(sandbox, sms_body) -> None:
    sandbox.configure(rate_5xx=1)
    response = sandbox.request("POST", "/sms/3/messages", json=sms_body())
    assert response.status_code in (500, 502, 503)
    assert response.json()["errorCode"].startswith("E5")
    assert sandbox.truth("m-0") is None


def test_dropped_connection_after_read_still_accepts(sandbox, sms_body) -> None:
    sandbox.configure(drop_after_read=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(
            sandbox.url + "/sms/3/messages",
            json=sms_body(2),
            timeout=10,
            headers={"Authorization": f"App {sandbox.api_key}"},
        )
    assert sandbox.truth("m-1")["state"] in ("accepted", "final")  # sent, though nobody heard
    assert sandbox.state()["faults"]["dropped"] == 1


def test_slow_answers(sandbox, sms_body) -> None:
    sandbox.configure(slow_ms=1500)
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            sandbox.url + "/sms/3/messages",
            json=sms_body(),
            timeout=(5, 0.2),
            headers={"Authorization": f"App {sandbox.api_key}"},
        )
    assert sandbox.state()["faults"]["slow"] == 1


def test_a_reset_discards_requests_still_waiting(sandbox, sms_body) -> None:
    # A slow request from before a reset must not land in the state after it.
    sandbox.configure(slow_ms=600)
    answers = []
    thread = threading.Thread(
        target=lambda: answers.append(
            sandbox.request("POST", "/sms/3/messages", json=sms_body(2)).status_code
        )
    )
    thread.start()
    deadline = time.monotonic() + 5
    while sandbox.state()["faults"]["slow"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    sandbox.reset()
    thread.join(10)
    assert answers == [503]
    assert sandbox.state()["accepted"]["total"] == 0


def test_duplicated_pushes(sandbox, webhook_sink, sms_body) -> None:
    sandbox.configure(duplicate_pushes=1)
    sandbox.request("POST", "/sms/3/messages", json=sms_body(3, url=webhook_sink.url()))
    sandbox.flush()
    results = webhook_sink.wait_for_results(6)
    assert sorted(r["messageId"] for r in results) == ["m-0", "m-0", "m-1", "m-1", "m-2", "m-2"]
    assert sandbox.state()["reports"]["duplicatePushes"] == 1


def test_shuffled_pushes_deliver_finals_before_intermediates(
    sandbox, webhook_sink, sms_body
) -> None:
    sandbox.configure(shuffle_pushes=True, intermediate=True, outcomes="delivered=1")
    sandbox.request("POST", "/sms/3/messages", json=sms_body(4, url=webhook_sink.url()))
    results = webhook_sink.wait_for_results(8)
    for i in range(4):
        names = [r["status"]["name"] for r in results if r["messageId"] == f"m-{i}"]
        assert names == ["DELIVERED_TO_HANDSET", "DELIVERED_TO_OPERATOR"]


def test_failed_pushes_are_retried(sandbox, webhook_sink, sms_body) -> None:
    webhook_sink.status = 503
    sandbox.request("POST", "/sms/3/messages", json=sms_body(2, url=webhook_sink.url()))
    webhook_sink.wait_for_results(2)
    webhook_sink.status = 200
    assert sandbox.flush() == 0
    state = sandbox.state()["reports"]
    assert state["pushFailures"] >= 1
    assert state["pushed"] == 2


def test_config_rejects_bad_values(sandbox) -> None:
    bad = sandbox.request("POST", "/_sandbox/config", json={"rate_429": 2})
    assert bad.status_code == 400
    assert "rate_429" in bad.json()["violations"][0]["violation"]
    unknown = sandbox.request("POST", "/_sandbox/config", json={"nope": 1})
    assert unknown.status_code == 400
    assert sandbox.state()["config"]["rate_429"] == 0
