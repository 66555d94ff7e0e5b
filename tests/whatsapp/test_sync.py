"""Template sync against Infobip's own list examples, statuses, drift and the command/task."""

import json

import pytest
import responses
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.whatsapp.conftest import (
    SENDER,
    build_template,
    examples_file,
    list_url,
    raw_template,
    spec_list_examples,
)
from whatsapp import services
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import (
    InvalidSender,
    TemplateSyncError,
    template_apply_status_update,
    template_apply_update_event,
    template_check_sendable,
    templates_sync,
)
from whatsapp.tasks import sync_templates

pytestmark = pytest.mark.django_db
SPEC = spec_list_examples()


def counts(result) -> tuple:
    return (result.created, result.updated, result.unchanged, result.removed, result.unsupported)


@pytest.mark.parametrize("example", sorted(SPEC))
def test_each_spec_example_syncs_and_a_second_sync_changes_nothing(example, mocked_api) -> None:
    mocked_api.add(responses.GET, list_url(), json=SPEC[example])
    assert counts(templates_sync(sender=SENDER)) == (1, 0, 0, 0, 0)
    (raw,) = SPEC[example]["templates"]
    template = WhatsAppTemplate.objects.get(sender=SENDER, name=raw["name"], language="en")
    assert template.raw == raw
    assert template.structure == raw["structure"]
    assert (template.status, template.category, template.quality) == (
        "APPROVED",
        "MARKETING",
        raw["quality"],
    )
    assert template.body_placeholder_count == 1
    assert template.infobip_id == "111"
    assert template.is_sendable
    first_sync = template.last_synced_at

    assert counts(templates_sync(sender=SENDER)) == (0, 0, 1, 0, 0)
    template.refresh_from_db()
    assert template.last_synced_at > first_sync
    request = mocked_api.calls[0].request
    assert request.headers["Authorization"] == f"App {settings.INFOBIP_SANDBOX_API_KEY}"


def test_the_four_examples_together_and_the_shared_examples_file(serve_templates) -> None:
    templates = [t for body in SPEC.values() for t in body["templates"]]
    serve_templates(templates)
    assert counts(templates_sync()) == (4, 0, 0, 0, 0)  # default sender from settings
    assert WhatsAppTemplate.objects.filter(sender=settings.INFOBIP_WHATSAPP_SENDER).count() == 4
    shared = examples_file("whatsapp_templates_list_response__spec.json")
    serve_templates(shared["templates"])
    result = templates_sync()
    assert (result.unchanged, result.removed) == (1, 3)


def test_changes_upstream_update_the_row(serve_templates) -> None:
    serve_templates([raw_template("promo")])
    templates_sync(sender=SENDER)
    serve_templates([raw_template("promo", status="FIRST_PAUSED", quality="LOW")])
    assert counts(templates_sync(sender=SENDER)) == (0, 1, 0, 0, 0)
    template = WhatsAppTemplate.objects.get(name="promo")
    assert (template.status, template.quality) == ("FIRST_PAUSED", "LOW")
    assert template.raw["status"] == "FIRST_PAUSED"


def test_templates_gone_upstream_are_marked_not_deleted_and_come_back(serve_templates) -> None:
    serve_templates([raw_template("keep"), raw_template("gone"), raw_template("gone", "de")])
    templates_sync(sender=SENDER)
    serve_templates([raw_template("keep")])
    assert counts(templates_sync(sender=SENDER)) == (0, 0, 1, 2, 0)
    gone = WhatsAppTemplate.objects.get(name="gone", language="en")
    assert gone.removed_upstream_at is not None
    assert "no longer exists on Infobip" in template_check_sendable(template=gone)
    assert WhatsAppTemplate.objects.count() == 3
    assert templates_sync(sender=SENDER).removed == 0  # already marked

    serve_templates([raw_template("keep"), raw_template("gone")])
    assert counts(templates_sync(sender=SENDER)) == (0, 1, 1, 0, 0)
    gone.refresh_from_db()
    assert gone.removed_upstream_at is None
    assert template_check_sendable(template=gone) is None


def test_other_senders_are_left_alone(serve_templates) -> None:
    build_template(raw_template("theirs"), sender="441134960000", save=True)
    serve_templates([raw_template("ours")])
    assert templates_sync(sender=SENDER).removed == 0
    assert WhatsAppTemplate.objects.get(name="theirs").removed_upstream_at is None


def test_malformed_and_unsupported_templates_do_not_break_the_others(serve_templates) -> None:
    no_structure = raw_template("no_structure")
    del no_structure["structure"]
    serve_templates(
        [
            {"id": "1", "language": "en", "status": "APPROVED"},  # no name: cannot be stored
            no_structure,
            raw_template(
                "carousel", structure={"body": {"text": "x"}, "carousel": {"cards": [{}]}}
            ),
            raw_template("weird", structure={"body": {"text": "x"}, "type": "UNSUPPORTED"}),
            raw_template("good"),
        ]
    )
    result = templates_sync(sender=SENDER)
    assert counts(result) == (4, 0, 0, 0, 3)
    assert result.errors == ["template #1: template has no name"]
    stored = {t.name: t for t in WhatsAppTemplate.objects.all()}
    assert stored["good"].supported
    assert not stored["carousel"].supported
    assert stored["weird"].unsupported_reason.startswith("Infobip reports")
    assert "not supported by Herald" in template_check_sendable(template=stored["no_structure"])


def test_a_template_that_crashes_the_parser_is_marked_unsupported(serve_templates, monkeypatch):
    real = services.parse_template

    def flaky(raw):
        if raw.get("name") == "crash":
            raise KeyError("surprise")
        return real(raw)

    monkeypatch.setattr(services, "parse_template", flaky)
    serve_templates([raw_template("crash"), raw_template("fine")])
    result = templates_sync(sender=SENDER)
    assert (result.created, result.unsupported) == (2, 1)
    crash = WhatsAppTemplate.objects.get(name="crash")
    assert not crash.supported
    assert "could not be read" in crash.unsupported_reason
    assert crash.raw["name"] == "crash"
    assert result.errors == ["template 'crash' (en): could not be read (KeyError('surprise'))"]


def test_pages_are_followed(mocked_api) -> None:
    page1 = {"templates": [raw_template("one")], "cursor": {"nextCursor": "page-2"}}
    page2 = {"templates": [raw_template("two")]}
    mocked_api.add(
        responses.GET,
        list_url(),
        json=page2,
        match=[responses.matchers.query_param_matcher({"cursor": "page-2"})],
    )
    mocked_api.add(responses.GET, list_url(), json=page1)
    assert templates_sync(sender=SENDER).created == 2
    assert set(WhatsAppTemplate.objects.values_list("name", flat=True)) == {"one", "two"}


@pytest.mark.parametrize("status", [401, 500])
def test_an_api_error_raises_and_changes_nothing(serve_templates, status, settings) -> None:
    settings.INFOBIP_MAX_RETRIES = 0
    existing = build_template(raw_template("kept"), save=True)
    error = {"requestError": {"serviceException": {"messageId": "X", "text": "nope"}}}
    serve_templates([], status=status, body=error)
    with pytest.raises(TemplateSyncError, match=f"sender {SENDER}: HTTP {status}"):
        templates_sync(sender=SENDER)
    existing.refresh_from_db()
    assert existing.removed_upstream_at is None


@pytest.mark.parametrize("bad", ["abc", "12", "+44 11 34", ""])
def test_invalid_senders_are_refused_before_any_request(bad, settings, mocked_api) -> None:
    settings.INFOBIP_WHATSAPP_SENDER = ""
    with pytest.raises(InvalidSender):
        templates_sync(sender=bad)
    assert len(mocked_api.calls) == 0


def test_sender_with_plus_and_spaces_is_normalised(serve_templates) -> None:
    serve_templates([raw_template()])
    assert templates_sync(sender=" +44 7860 099299").sender == SENDER


# --- status pushes and the drift guard -------------------------------------------------------


def test_template_update_push_example_approves_a_pending_template() -> None:
    event = examples_file("whatsapp_template_update_push__spec.json")
    template = build_template(raw_template("template_name", status="PENDING"), save=True)
    template.infobip_id = event["messageTemplateId"]
    template.save()
    assert "PENDING" in template_check_sendable(template=template)
    assert template_apply_update_event(event=event) == 1
    assert template_check_sendable(template=template) is None


def test_push_changes_category_and_quality() -> None:
    build_template(raw_template("promo"), save=True)
    base = {"messageTemplateName": "promo", "messageTemplateLanguage": "en"}
    quality = {
        "type": "TEMPLATE_QUALITY_UPDATE",
        "previousQualityScore": "HIGH",
        "newQualityScore": "LOW",
    }
    assert template_apply_update_event(event={**base, "change": quality}) == 1
    category = {
        "type": "TEMPLATE_CATEGORY_UPDATE",
        "previousCategory": "MARKETING",
        "newCategory": "UTILITY",
    }
    assert template_apply_update_event(event={**base, "change": category}) == 1
    template = WhatsAppTemplate.objects.get(name="promo")
    assert (template.quality, template.category) == ("LOW", "UTILITY")
    assert template_apply_update_event(event={**base, "change": {"type": "OTHER"}}) == 0


def test_drift_guard_sees_a_pause_pushed_while_a_campaign_holds_the_template() -> None:
    held = build_template(raw_template("promo"), save=True)  # the campaign's in-memory copy
    assert template_check_sendable(template=held) is None
    updated = template_apply_status_update(
        sender="+" + SENDER, name="promo", language="en", status="SECOND_PAUSED"
    )
    assert updated == 1
    assert template_check_sendable(template=held) == (
        "template 'promo' (en) is PAUSED on Infobip (Meta paused it for low quality, second pause)"
    )
    template_apply_status_update(
        sender=None, name="promo", language="en", status="REJECTED", reason="SCAM"
    )
    assert template_check_sendable(template=held).endswith("was REJECTED by Meta (reason: SCAM)")


def test_drift_guard_sees_a_disable_from_the_latest_sync(serve_templates) -> None:
    serve_templates([raw_template("promo")])
    templates_sync(sender=SENDER)
    held = WhatsAppTemplate.objects.get(name="promo")
    serve_templates([raw_template("promo", status="DISABLED")])
    templates_sync(sender=SENDER)
    assert "is DISABLED on Infobip" in template_check_sendable(template=held)


def test_a_pushed_reason_survives_a_sync_with_the_same_status(serve_templates) -> None:
    serve_templates([raw_template("promo", status="REJECTED")])
    templates_sync(sender=SENDER)
    template_apply_status_update(
        sender=SENDER, name="promo", language="en", status="REJECTED", reason="INVALID_FORMAT"
    )
    assert templates_sync(sender=SENDER).unchanged == 1
    assert WhatsAppTemplate.objects.get(name="promo").status_reason == "INVALID_FORMAT"
    serve_templates([raw_template("promo", status="APPROVED")])
    templates_sync(sender=SENDER)
    assert WhatsAppTemplate.objects.get(name="promo").status_reason == ""


# --- command, task, beat -----------------------------------------------------------------------


def test_command_prints_the_summary_line_and_json(serve_templates, capsys) -> None:
    serve_templates(
        [
            raw_template("a"),
            raw_template("b", structure={"body": {"text": "x"}, "type": "UNSUPPORTED"}),
        ]
    )
    call_command("sync_templates", "--sender", SENDER)
    assert capsys.readouterr().out.strip() == (
        "created=2 updated=0 unchanged=0 removed=0 unsupported=1"
    )
    call_command("sync_templates", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["unchanged"] == 2
    assert data["sender"] == SENDER


def test_command_reports_skipped_templates_on_stderr(serve_templates, capsys) -> None:
    serve_templates([{"language": "en"}, raw_template("a")])
    call_command("sync_templates")
    out = capsys.readouterr()
    assert "skipped template #1: template has no name" in out.err
    assert out.out.startswith("created=1 ")


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--sender", "not-a-number"], "invalid WhatsApp sender"), (["--sender", " "], "empty")],
)
def test_command_refuses_bad_input(args, message, mocked_api) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("sync_templates", *args)


def test_command_fails_clearly_when_infobip_refuses(serve_templates) -> None:
    serve_templates(
        [],
        status=401,
        body={
            "requestError": {
                "serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}
            }
        },
    )
    with pytest.raises(CommandError, match="could not list the WhatsApp templates"):
        call_command("sync_templates")


def test_periodic_task_syncs_every_known_sender_despite_one_failing(serve_templates) -> None:
    other = "441134960000"
    build_template(raw_template("old"), sender=other, save=True)
    serve_templates([raw_template("fresh")])
    serve_templates([], sender=other, status=403, body={})
    sync_templates.delay()  # eager in tests: runs the real task body
    assert WhatsAppTemplate.objects.filter(sender=SENDER, name="fresh").exists()
    assert WhatsAppTemplate.objects.get(sender=other).removed_upstream_at is None


def test_task_with_a_sender_syncs_only_that_sender(serve_templates) -> None:
    serve_templates([raw_template("x")], sender="441134960000")
    sync_templates.delay("441134960000")
    assert WhatsAppTemplate.objects.get().sender == "441134960000"


def test_beat_runs_the_sync_hourly_by_default() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["whatsapp-sync-templates"]
    assert entry == {"task": "whatsapp.tasks.sync_templates", "schedule": 3600.0}
    assert entry["task"] in sync_templates.app.tasks
