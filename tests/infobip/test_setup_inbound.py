"""setup_inbound: register, list and remove Herald's inbound forwarding, idempotently."""

import json
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.management import CommandError, call_command

from infobip import openapi
from infobip.links import webhook_url
from tests.fixtures.provider import BASE_URL

PATH = "/resource-management/1/inbound-message-configurations"
RESPONSE_SCHEMA = next(
    name
    for name in openapi.load("resources")["components"]["schemas"]
    if name.endswith(".MoConfigurationResponse")
)


def run(*args: str) -> tuple[dict, str]:
    out = StringIO()
    call_command("setup_inbound", *args, "--json", stdout=out)
    return json.loads(out.getvalue()), out.getvalue()


class FakeResources:
    """Infobip's configuration API on `responses`: answers checked against the spec's schema."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.configs: dict[str, dict] = {}
        self.deleted: list[str] = []
        self.validator = openapi.schema_validator("resources", RESPONSE_SCHEMA)
        mock.add_callback(responses.GET, BASE_URL + PATH, self.get)
        mock.add_callback(responses.POST, BASE_URL + PATH, self.post)
        mock.add_callback(responses.DELETE, BASE_URL + PATH + "/KEY1", self.delete)
        mock.add_callback(responses.DELETE, BASE_URL + PATH + "/KEY2", self.delete)

    def get(self, request):
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        assert "channel" in query  # required by the spec
        found = [
            {k: v for k, v in c.items() if k != "number"}  # the response carries no number
            for c in self.configs.values()
            if c["channel"] == query["channel"] and query.get("number") in (None, c["number"])
        ]
        for item in found:
            assert openapi.violations(self.validator, item) == []
        return 200, {}, json.dumps(found)

    def post(self, request):
        body = json.loads(request.body)
        key = f"KEY{len(self.configs) + len(self.deleted) + 1}"
        self.configs[key] = {"configurationKey": key, **body}
        answer = {k: v for k, v in self.configs[key].items() if k != "number"}
        assert openapi.violations(self.validator, answer) == []
        return 200, {}, json.dumps(answer)

    def delete(self, request):
        key = urlsplit(request.url).path.rsplit("/", 1)[1]
        if self.configs.pop(key, None) is None:
            return (
                404,
                {},
                json.dumps(
                    {
                        "requestError": {
                            "serviceException": {"messageId": "NOT_FOUND", "text": "Not found"}
                        }
                    }
                ),
            )
        self.deleted.append(key)
        return 204, {}, ""


def test_registers_once_lists_and_removes_against_responses(provider_mocked, settings) -> None:
    api = FakeResources(provider_mocked)
    report, text = run("--channel", "sms", "--number", "+447860099299", "--keyword", "promo")
    assert report["action"] == "created"
    [config] = api.configs.values()
    assert config == {
        "configurationKey": "KEY1",
        "channel": "SMS",
        "number": "447860099299",
        "keyword": "PROMO",
        "forwarding": {
            "type": "HTTP_FORWARD",
            "url": webhook_url("sms/inbound"),
            "format": "MO_JSON_2",
        },
    }
    assert settings.INFOBIP_WEBHOOK_TOKEN not in text  # the secret is masked in the output

    again, _ = run("--channel", "sms", "--number", "447860099299", "--keyword", "PROMO")
    assert again["action"] == "unchanged"
    assert len(api.configs) == 1

    listed, _ = run("--channel", "sms", "--list", "--number", "447860099299")
    assert [
        (r["configuration_key"], r["keyword"], r["herald"]) for r in listed["configurations"]
    ] == [("KEY1", "PROMO", True)]

    removed, _ = run(
        "--channel", "sms", "--number", "447860099299", "--keyword", "PROMO", "--remove"
    )
    assert removed["action"] == "removed"
    assert api.configs == {}
    assert api.deleted == ["KEY1"]
    gone, _ = run("--channel", "sms", "--number", "447860099299", "--keyword", "PROMO", "--remove")
    assert gone["action"] == "absent"


def test_someone_elses_forwarding_is_only_replaced_when_asked(provider_mocked) -> None:
    api = FakeResources(provider_mocked)
    forwarding = {"type": "HTTP_FORWARD", "url": "https://crm.example/in"}
    api.configs["KEY1"] = {
        "configurationKey": "KEY1",
        "channel": "WHATSAPP",
        "number": "447860099299",
        "forwarding": forwarding,
    }
    with pytest.raises(CommandError, match=r"does not forward to Herald.*--replace"):
        run("--channel", "whatsapp", "--number", "447860099299")
    report, _ = run("--channel", "whatsapp", "--number", "447860099299", "--replace")
    assert report["action"] == "created"
    assert api.deleted == ["KEY1"]
    [config] = api.configs.values()
    assert config["forwarding"]["url"] == webhook_url("whatsapp/inbound")
    assert config["forwarding"]["format"] == "MO_OTT_CONTACT"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--channel", "sms"], "--number is required"),
        (["--channel", "sms", "--number", "44abc"], "digits in international format"),
        (["--channel", "sms", "--number", "447860099299", "--keyword", "two words"], "one word"),
    ],
)
def test_bad_input_is_refused(provider_mocked, args, problem) -> None:
    with pytest.raises(CommandError, match=problem):
        run(*args)
    assert len(provider_mocked.calls) == 0


def test_against_the_sandbox_keyword_messages_reach_herald(
    on_sandbox, settings, webhook_sink
) -> None:
    settings.PUBLIC_BASE_URL = webhook_sink.base
    number = "447860099299"
    assert (
        run("--channel", "sms", "--number", number, "--keyword", "JOIN")[0]["action"] == "created"
    )
    assert run("--channel", "sms", "--number", number, "--keyword", "JOIN")[0]["action"] == (
        "unchanged"
    )
    listed, _ = run("--channel", "sms", "--list", "--number", number)
    assert len(listed["configurations"]) == 1
    assert listed["configurations"][0]["herald"]

    pushed = on_sandbox.inbound("sms", "447946000001", "JOIN me please", to=number)
    assert pushed["status"] == 200
    token = settings.INFOBIP_WEBHOOK_TOKEN
    [item] = webhook_sink.results(f"/infobip/webhooks/{token}/sms/inbound/")
    assert (item["keyword"], item["cleanText"]) == ("JOIN", "me please")

    assert (
        run("--channel", "sms", "--number", number, "--keyword", "JOIN", "--remove")[0]["action"]
        == "removed"
    )
    listed, _ = run("--channel", "sms", "--list", "--number", number)
    assert listed["configurations"] == []
