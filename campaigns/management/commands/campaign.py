"""Operator command for campaigns: create, preview, launch, pause/resume/cancel, archive, status,
export."""

import datetime as dt
import json
import sys
import time
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from campaigns.editing import campaign_archive, campaign_unarchive
from campaigns.export import campaign_export
from campaigns.models import Campaign, FailoverMode, Segment
from campaigns.preview import campaign_preview
from campaigns.services import (
    CampaignError,
    campaign_approval_request,
    campaign_approve,
    campaign_cancel,
    campaign_create,
    campaign_frequency_cap_override,
    campaign_launch,
    campaign_pause,
    campaign_resend_failed,
    campaign_resume,
    campaign_status,
)
from channels.base import PROVIDER, ChannelType
from channels.registry import channel_names, channel_type
from contacts.models import ContactList
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused
from whatsapp.mapping import slot_from_text
from whatsapp.models import WhatsAppTemplate


class Command(BaseCommand):
    """Create and run campaigns from the terminal (see INTERFACE.md)."""

    help = (
        "Campaigns: create | preview | launch | approve | pause | resume | cancel | archive | "
        "unarchive | status | export; state changes act as --as USERNAME (or HERALD_CLI_USER, "
        "else the operator)"
    )

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a draft campaign")
        create.add_argument("--name", required=True)
        create.add_argument("--list", action="append", default=[], dest="lists")
        create.add_argument("--segment", help="a saved segment (manage.py segment), besides lists")
        create.add_argument("--exclude-segment", help="a saved segment whose members are left out")
        create.add_argument("--exclude-list", action="append", default=[], dest="exclude")
        # The registered channel types (channels/registry.py), read when the parser is built.
        create.add_argument("--channel", required=True, choices=channel_names())
        create.add_argument("--sender", default="")
        create.add_argument("--text", default="")
        create.add_argument("--template")
        create.add_argument("--language")
        create.add_argument("--placeholder", action="append", default=[], dest="placeholders")
        create.add_argument("--header-placeholder")
        create.add_argument("--sms-failover-text", default="")
        create.add_argument("--sms-failover-sender", default="")
        create.add_argument("--failover-mode", choices=["herald", "infobip"], default="herald")
        create.add_argument("--send-at")
        create.add_argument("--speed-limit", type=int)
        create.add_argument("--speed-unit", choices=["second", "minute"], default="minute")
        create.add_argument("--quiet-hours", help="HH:MM-HH:MM, recipient local time")
        create.add_argument(
            "--track-links", action="store_true", help="shorten links and count their clicks"
        )
        create.add_argument(
            "--validity", type=int, metavar="MINUTES",
            help="SMS: how long Infobip keeps trying (max 2880); WhatsApp: expire unreported after",
        )  # fmt: skip
        create.add_argument("--failover-validity", type=int, metavar="MINUTES")
        create.add_argument("--max-spend", help="budget cap in the price table's currency")
        create.add_argument(
            "--override-frequency-cap", action="store_true",
            help="lift the workspace's frequency caps for this campaign (audited)",
        )  # fmt: skip
        create.add_argument("--json", action="store_true")
        add_actor_argument(create)
        for name in ("preview", "status"):
            p = sub.add_parser(name)
            p.add_argument("id", type=int)
            p.add_argument("--json", action="store_true")
        launch = sub.add_parser("launch")
        launch.add_argument("id", type=int)
        launch.add_argument("--wait", action="store_true")
        launch.add_argument("--timeout", type=float, default=0, help="seconds; 0 = no limit")
        add_actor_argument(launch)
        for name in ("approve", "pause", "resume", "cancel", "resend"):
            p = sub.add_parser(name)
            p.add_argument("id", type=int)
            add_actor_argument(p)
        request = sub.add_parser(
            "request-approval", help="ask the approvers to check a draft (menu, queue, event)"
        )
        request.add_argument("id", type=int)
        request.add_argument("--note", default="", help="a note for the approvers")
        request.add_argument("--json", action="store_true")
        add_actor_argument(request)
        for name in ("archive", "unarchive"):
            p = sub.add_parser(name, help=f"{name} a draft or finished campaign (list/dashboard)")
            p.add_argument("id", type=int)
            p.add_argument("--json", action="store_true")
            add_actor_argument(p)
        export = sub.add_parser("export")
        export.add_argument("id", type=int)
        export.add_argument("file")

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, f"do_{action.replace('-', '_')}")(**options)
        except Refused as exc:
            raise CommandError(f"refused: {exc}") from exc
        except (CampaignError, ValidationError) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise CommandError("; ".join(messages)) from exc

    def _campaign(self, pk: int) -> Campaign:
        try:
            return Campaign.objects.get(pk=pk)
        except Campaign.DoesNotExist as exc:
            raise CommandError(f"no campaign with id {pk}") from exc

    def do_create(self, **o) -> None:
        lists = self._lists(o["lists"])
        exclude = self._lists(o["exclude"])
        segment, exclude_segment = _segment(o["segment"]), _segment(o["exclude_segment"])
        if not lists and segment is None:
            raise CommandError("give --list NAME (one or more) or --segment NAME")
        template, mapping = None, {}
        kind = channel_type(o["channel"])
        if kind.uses_template:
            template, mapping = self._template(o, kind)
        send_at = None
        if o["send_at"]:
            send_at = parse_datetime(o["send_at"])
            if send_at is None or send_at.tzinfo is None:
                raise CommandError(
                    "--send-at needs an ISO 8601 time with offset, e.g. 2026-12-01T09:00:00+00:00"
                )
        quiet = None
        if o["quiet_hours"]:
            try:
                start, end = (dt.time.fromisoformat(t) for t in o["quiet_hours"].split("-"))
            except ValueError as exc:
                raise CommandError("--quiet-hours must look like 08:00-20:00") from exc
            quiet = (start, end)
        campaign = campaign_create(
            name=o["name"],
            channel=o["channel"],
            lists=lists,
            exclude_lists=exclude,
            sender=o["sender"],
            text=o["text"],
            template=template,
            template_mapping=mapping,
            failover_mode=o["failover_mode"] if o["sms_failover_text"] else FailoverMode.NONE,
            failover_text=o["sms_failover_text"],
            failover_sender=o["sms_failover_sender"],
            send_at=send_at,
            speed_limit=o["speed_limit"],
            speed_unit=o["speed_unit"],
            quiet_hours=quiet,
            track_links=o["track_links"],
            # --validity is the channel's own: Infobip's validityPeriod, or Herald's expiry.
            sms_validity_minutes=o["validity"] if kind.validity == PROVIDER else None,
            whatsapp_validity_minutes=o["validity"] if kind.validity != PROVIDER else None,
            failover_validity_minutes=o["failover_validity"],
            actor=cli_actor(o["acting_user"]),
            max_spend=_max_spend(o["max_spend"]),
            segment=segment,
            exclude_segment=exclude_segment,
        )
        if o["override_frequency_cap"]:
            campaign_frequency_cap_override(campaign=campaign, actor=cli_actor(o["acting_user"]))
        if o["json"]:
            self.stdout.write(json.dumps({"id": campaign.pk}))
        else:
            self.stdout.write(f"campaign created: id={campaign.pk} state={campaign.state}")

    def _lists(self, names: list[str]) -> list[ContactList]:
        found = {cl.name: cl for cl in ContactList.objects.filter(name__in=names)}
        unknown = [name for name in names if name not in found]
        if unknown:
            raise CommandError(f"no contact list named {', '.join(map(repr, unknown))}")
        return [found[name] for name in names]

    def _template(self, o: dict, kind: ChannelType) -> tuple[WhatsAppTemplate, dict]:
        if not o["template"] or not o["language"]:
            raise CommandError(f"a {kind.name} campaign needs --template and --language")
        sender = o["sender"] or kind.default_sender()
        template = WhatsAppTemplate.objects.filter(
            sender=sender, name=o["template"], language=o["language"]
        ).first()
        if template is None:
            raise CommandError(
                f"no template {o['template']!r} ({o['language']}) for sender {sender}: "
                "run `manage.py sync_templates` first"
            )
        mapping: dict = {"body": [slot_from_text(v) for v in o["placeholders"]]}
        if o["header_placeholder"]:
            mapping["header"] = [slot_from_text(o["header_placeholder"])]
        return template, mapping

    def do_preview(self, *, id: int, json: bool, **_) -> None:
        data = campaign_preview(campaign=self._campaign(id))
        if json:
            self.stdout.write(_dumps(data))
            return
        ex = data["excluded"]
        self.stdout.write(
            f"audience={data['audience']} messages={data['messages']} "
            f"opted_out={ex['opted_out']} excluded_lists={ex['excluded_lists']} "
            f"missing_values={ex['missing_values']} frequency_capped={ex['frequency_capped']} "
            f"over_budget={ex['over_budget']} no_channel_consent={ex['no_channel_consent']} "
            f"encoding={data['encoding']} "
            f"parts={data['parts']} cost={data['cost']['amount']} {data['cost']['currency']}"
        )
        if data["ucs2_characters"]:
            self.stdout.write("characters forcing UCS-2: " + " ".join(data["ucs2_characters"]))
        if data["template_problem"]:
            self.stdout.write(self.style.WARNING(data["template_problem"]))
        for problem in data.get("length_problems", []):
            self.stdout.write(self.style.ERROR(problem))
        for sample in data["samples"]:
            self.stdout.write(f"  {sample['phone']}: {sample['text']}")

    def do_launch(
        self, *, id: int, wait: bool, timeout: float, acting_user: str | None, **_
    ) -> None:
        actor = cli_actor(acting_user)
        campaign = campaign_launch(campaign=self._campaign(id), actor=actor)
        self.stdout.write(f"campaign {campaign.pk} {campaign.state}")
        if wait and campaign.state == "running":
            self._wait(campaign.pk, timeout)

    def _wait(self, pk: int, timeout: float) -> None:
        from tqdm import tqdm

        started = time.monotonic()
        bar = None
        while True:
            campaign = Campaign.objects.get(pk=pk)
            if campaign.frozen_at and bar is None:
                bar = tqdm(total=campaign.recipients, unit="msg", file=sys.stderr)
            if bar is not None:
                bar.n = campaign.recipients - campaign.count_queued - campaign.count_sending
                bar.refresh()
                if not campaign.count_queued and not campaign.count_sending:
                    bar.close()
                    break
            if campaign.state in ("paused", "cancelled", "failed"):
                if bar is not None:
                    bar.close()
                raise CommandError(f"campaign {pk} is {campaign.state}: {campaign.state_reason}")
            if timeout and time.monotonic() - started > timeout:
                raise CommandError(f"campaign {pk} still running after {timeout:.0f}s")
            time.sleep(0.5)
        status = campaign_status(campaign=campaign)
        self.stdout.write(_summary(status))

    def do_approve(self, *, id: int, acting_user: str | None, **_) -> None:
        approval = campaign_approve(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {id} approved by {approval.approved_by}")

    def do_pause(self, *, id: int, acting_user: str | None, **_) -> None:
        campaign = campaign_pause(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {campaign.pk} paused")

    def do_resume(self, *, id: int, acting_user: str | None, **_) -> None:
        campaign = campaign_resume(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {campaign.pk} running")

    def do_cancel(self, *, id: int, acting_user: str | None, **_) -> None:
        campaign = campaign_cancel(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {campaign.pk} cancelled; skipped={campaign.count_skipped}")

    def do_resend(self, *, id: int, acting_user: str | None, **_) -> None:
        count = campaign_resend_failed(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {id} resend queued={count}")

    def do_request_approval(self, *, id: int, note: str, acting_user: str | None, **o) -> None:
        request = campaign_approval_request(
            campaign=self._campaign(id), actor=cli_actor(acting_user), note=note
        )
        answer = {"id": id, "requested_by": str(request.requested_by or "operator"),
                  "requested_at": request.requested_at.isoformat()}  # fmt: skip
        if o["json"]:
            self.stdout.write(json.dumps(answer))
        else:
            self.stdout.write(
                f"campaign {id} approval requested by {answer['requested_by']} "
                f"at {answer['requested_at']}"
            )

    def do_archive(self, *, id: int, json: bool, acting_user: str | None, **_) -> None:
        campaign = campaign_archive(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self._archived(campaign, json)

    def do_unarchive(self, *, id: int, json: bool, acting_user: str | None, **_) -> None:
        campaign = campaign_unarchive(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self._archived(campaign, json)

    def _archived(self, campaign: Campaign, as_json: bool) -> None:
        at = campaign.archived_at.isoformat() if campaign.archived_at else None
        if as_json:
            data = {"id": campaign.pk, "state": campaign.state, "archived_at": at}
            self.stdout.write(json.dumps(data))
        elif at:
            self.stdout.write(f"campaign {campaign.pk} {campaign.state} archived_at={at}")
        else:
            self.stdout.write(f"campaign {campaign.pk} {campaign.state} not archived")

    def do_status(self, *, id: int, json: bool, **_) -> None:
        status = campaign_status(campaign=self._campaign(id), breakdown=True)
        self.stdout.write(_dumps(status) if json else _summary(status))

    def do_export(self, *, id: int, file: str, **_) -> None:
        campaign = self._campaign(id)
        try:
            with open(file, "w", newline="", encoding="utf-8") as out:
                rows = campaign_export(campaign=campaign, out=out)
        except OSError as exc:
            raise CommandError(f"cannot write {file}: {exc.strerror}") from exc
        self.stdout.write(f"exported rows={rows} file={file}")


def _dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)


def _summary(status: dict) -> str:
    counts = " ".join(f"{k}={v}" for k, v in status["counts"].items())
    cost = status["cost"]
    line = (
        f"campaign {status['id']} {status['state']} recipients={status['recipients']} {counts} "
        f"failover_sent={status['failover']['sent']} "
        f"cost={cost['amount']} {cost['currency']}"
    )
    if cost.get("estimated") is not None:
        line += f" estimated={cost['estimated']}"
    for channel, amount in (cost.get("by_channel") or {}).items():
        line += f" cost_{channel}={amount}"
    if "clicks" in status:
        clicks = status["clicks"]
        line += f" clicks={clicks['total']} clicked_messages={clicks['unique_messages']}"
        for url, entry in clicks["by_url"].items():
            line += f"\n  {entry['clicks']} clicks ({entry['unique_messages']} messages) {url}"
    return line


def _max_spend(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise CommandError(f"--max-spend must be an amount such as 250.00, not {value!r}") from None


def _segment(name: str | None) -> Segment | None:
    if not name:
        return None
    segment = Segment.objects.filter(name=name).first()
    if segment is None:
        raise CommandError(f"no segment named {name!r} (see manage.py segment list)")
    return segment
