"""The sandbox cannot be made into a relay: its loopback-only guard is startup-only, and a
loopback URL that redirects elsewhere is not followed."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infobip.sandbox.config import Config, ConfigError, config_from_options


class Redirector:
    """A loopback server answering every POST with a 307 to `target` (another address)."""

    def __init__(self, target: str) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(307)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_control_api_cannot_lift_the_loopback_guard(sandbox) -> None:
    for value in (True, "true", 1):
        answer = sandbox.request("POST", "/_sandbox/config", json={"allow_remote_push": value})
        assert answer.status_code == 400
        assert "only be set when the sandbox starts" in answer.text
    assert sandbox.state()["config"]["allow_remote_push"] is False
    # All or nothing: a legitimate option next to it is not applied either.
    answer = sandbox.request(
        "POST", "/_sandbox/config", json={"push_delay": 9, "allow_remote_push": True}
    )
    assert answer.status_code == 400
    assert sandbox.state()["config"]["push_delay"] != 9


def test_only_the_startup_flag_may_lift_it() -> None:
    assert config_from_options({"allow_remote_push": True}).allow_remote_push is True
    with pytest.raises(ConfigError):
        Config().update({"allow_remote_push": True})


@pytest.mark.parametrize("path", ["/_sandbox/inbound", "/_sandbox/click"])
def test_a_loopback_url_redirecting_elsewhere_is_not_followed(sandbox, webhook_sink, path):
    # The redirect target is the sink (loopback too, so the test can see whether it is hit);
    # it stands for any other address.
    redirector = Redirector(webhook_sink.url("/elsewhere"))
    try:
        if path == "/_sandbox/inbound":
            body = {"channel": "sms", "from": "447900000001", "text": "hi", "url": redirector.url}
            answer = sandbox.request("POST", path, json=body)
            assert answer.status_code == 200
            assert answer.json()["status"] == 307
        else:
            message = {
                "sender": "Herald",
                "destinations": [{"to": "447900000001"}],
                "content": {"text": "see https://example.com/x"},
            }
            tracking = {"shortenUrl": True, "trackClicks": True, "trackingUrl": redirector.url}
            sent = sandbox.request(
                "POST",
                "/sms/3/messages",
                json={"messages": [message], "options": {"tracking": tracking}},
            )
            assert sent.status_code == 200, sent.text
            message_id = sent.json()["messages"][0]["messageId"]
            sandbox.request("POST", path, json={"messageId": message_id})
        assert redirector.hits >= 1
        assert webhook_sink.requests == []
    finally:
        redirector.close()
