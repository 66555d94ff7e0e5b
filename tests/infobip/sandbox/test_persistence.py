"""`--state-db`: messages survive a restart, and reports still due are pushed afterwards."""

from tests.fixtures.sandbox import SandboxHandle, start_sandbox, stop_sandbox


def test_messages_and_pending_reports_survive_a_restart(tmp_path, webhook_sink, sms_body) -> None:
    args = ["--state-db", str(tmp_path / "sandbox.sqlite3"), "--api-key", "k", "--push-delay"]
    proc, url = start_sandbox([*args, "0.05", "--outcomes", "delivered=1"], tmp_path / "log")
    try:
        first = SandboxHandle(url, "k")
        first.request("POST", "/sms/3/messages", json=sms_body(2, url=webhook_sink.url()))
        assert first.flush() == 0
        first.configure(push_delay=3600)  # the next ones are still unreported at the restart
        first.request(
            "POST", "/sms/3/messages", json=sms_body(3, url=webhook_sink.url(), prefix="later")
        )
    finally:
        stop_sandbox(proc)
    assert sorted(r["messageId"] for r in webhook_sink.results()) == ["m-0", "m-1"]

    proc, url = start_sandbox([*args, "0.05"], tmp_path / "log")
    try:
        again = SandboxHandle(url, "k")
        assert again.state()["accepted"]["total"] == 5
        assert again.truth("m-0")["state"] == "final"
        assert again.truth("later-2")["outcome"] == "delivered"  # decided before the restart
        assert again.flush() == 0
        pushed = sorted(r["messageId"] for r in webhook_sink.results())
        assert pushed == ["later-0", "later-1", "later-2", "m-0", "m-1"]
        logs = again.request("GET", "/sms/3/logs", params={"messageId": "later-1"}).json()
        assert logs["results"][0]["status"]["name"] == "DELIVERED_TO_HANDSET"
        again.reset()
    finally:
        stop_sandbox(proc)
    proc, url = start_sandbox([*args, "0.05"], tmp_path / "log")
    try:
        assert SandboxHandle(url, "k").state()["accepted"]["total"] == 0  # reset cleared the file
    finally:
        stop_sandbox(proc)
