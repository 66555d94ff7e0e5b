"""Operator command for campaigns: create, preview, launch, pause/resume/cancel, archive, status,
export."""

import datetime as dt
import json
import sys
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime, parse_duration

from campaigns.editing import campaign_archive, campaign_countries_update, campaign_unarchive
from campaigns.export import campaign_export
from campaigns.models import Campaign, FailoverMode, Segment
from campaigns.preview import campaign_preview
from campaigns.services import (
    CampaignError,
    campaign_approval_request,
    campaign_approve,
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_resend_failed,
    campaign_resume,
    campaign_status,
    campaign_test_send,
)
from campaigns.split import SplitSpec, VariantSpec, split_decide_by_name
from channels.base import PROVIDER, ChannelType
from channels.registry import UnknownChannel, channel_names, channel_type
from channels.senders import sender_is_auto
from contacts.models import ContactList
from core.cli import add_actor_argument, cli_actor
from core.rules import Refused, actor_require, actor_user
from whatsapp.mapping import slot_from_text
from whatsapp.models import WhatsAppTemplate


class Command(BaseCommand):
    """Create and run campaigns from the terminal (see INTERFACE.md)."""

    help = (
        "Campaigns: create | preview | test | countries | launch | approve | pause | resume | "
        "cancel | archive | unarchive | status | decide | export; state changes act as --as "
        "USERNAME (or HERALD_CLI_USER, else the operator)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a draft campaign")
        create.add_argument("--name", required=True)
        create.add_argument("--list", action="append", default=[], dest="lists")
        create.add_argument("--segment", help="a saved segment (manage.py segment), besides lists")
        create.add_argument("--exclude-segment", help="a saved segment whose members are left out")
        create.add_argument(
            "--audience-match",
            choices=["any", "all"],
            default="any",
            help="with --list and --segment: any = on the lists or in the segment (default), "
            "all = on the lists and in the segment",
        )
        create.add_argument("--exclude-list", action="append", default=[], dest="exclude")
        # The registered channel types (channels/registry.py), read when the parser is built.
        create.add_argument("--channel", required=True, choices=channel_names())
        create.add_argument(
            "--sender",
            default="",
            help="a number or name; auto (the default): each recipient's country's sender",
        )
        create.add_argument("--text", default="")
        create.add_argument("--template")
        create.add_argument("--language")
        create.add_argument("--placeholder", action="append", default=[], dest="placeholders")
        create.add_argument("--header-placeholder")
        create.add_argument(
            "--image",
            default="",
            metavar="URL",
            help="an https image (Viber, RCS): the text becomes its caption",
        )
        create.add_argument(
            "--button",
            action="append",
            default=[],
            dest="buttons",
            metavar="TEXT=URL",
            help="a button (Viber, RCS): TEXT=https://… opens a link, TEXT alone is a reply",
        )
        create.add_argument(
            "--fallback",
            default="",
            metavar="CHANNEL,…",
            help="the fallback chain, in order (e.g. rcs,sms): who a step did not reach gets the "
            "next; each step says the campaign's text unless --fallback-text gives its own",
        )
        create.add_argument(
            "--fallback-text",
            action="append",
            default=[],
            metavar="CHANNEL=TEXT",
            help="the text of one fallback step (repeatable)",
        )
        create.add_argument("--sms-failover-text", default="", help="the same as --fallback sms")
        create.add_argument("--sms-failover-sender", default="")
        create.add_argument("--failover-mode", choices=["herald", "infobip"], default="herald")
        create.add_argument("--send-at")
        create.add_argument("--speed-limit", type=int)
        create.add_argument("--speed-unit", choices=["second", "minute"], default="minute")
        create.add_argument(
            "--send-window",
            "--quiet-hours",
            dest="quiet_hours",
            metavar="HH:MM-HH:MM",
            help="the local hours in which messages may go, e.g. 08:00-21:00 (nothing is sent "
            "between 21:00 and 08:00); --quiet-hours is its older name, same meaning",
        )
        create.add_argument(
            "--track-links", action="store_true", help="shorten links and count their clicks"
        )
        create.add_argument(
            "--validity",
            type=int,
            metavar="MINUTES",
            help="SMS: how long Infobip keeps trying (max 2880); WhatsApp: expire unreported after",
        )
        create.add_argument("--failover-validity", type=int, metavar="MINUTES")
        create.add_argument("--max-spend", help="budget cap in the price table's currency")
        create.add_argument(
            "--override-frequency-cap",
            action="store_true",
            help="lift the workspace's frequency caps for this campaign (audited)",
        )
        _add_split_arguments(create)
        create.add_argument(
            "--no-opt-out-footer",
            dest="opt_out_footer",
            action="store_false",
            help='add no "Reply STOP to opt out" line where the law asks for one (the launch is '
            "then refused unless the text says how to opt out)",
        )
        _regional_arguments(create)
        create.add_argument(
            "--exclude-country",
            action="append",
            default=[],
            dest="exclude_countries",
            metavar="CC",
            help="leave this destination country's recipients out (repeatable)",
        )
        create.add_argument("--json", action="store_true")
        add_actor_argument(create)
        countries = sub.add_parser(
            "countries",
            help="fix what the preview's compliance list asks: exclude countries, "
            "the sender, regional ids",
        )
        countries.add_argument("id", type=int)
        countries.add_argument("--exclude", action="append", default=[], metavar="CC")
        countries.add_argument("--include", action="append", default=[], metavar="CC")
        countries.add_argument("--sender", default=None, help="a number or name, or auto")
        _regional_arguments(countries, default=None)
        countries.add_argument("--json", action="store_true")
        add_actor_argument(countries)
        for name in ("preview", "status"):
            p = sub.add_parser(name)
            p.add_argument("id", type=int)
            p.add_argument("--json", action="store_true")
        launch = sub.add_parser("launch")
        launch.add_argument("id", type=int)
        launch.add_argument("--wait", action="store_true")
        launch.add_argument("--timeout", type=float, default=0, help="seconds; 0 = no limit")
        add_actor_argument(launch)
        test = sub.add_parser("test", help="send the message to one number (a test, no ledger)")
        test.add_argument("id", type=int)
        test.add_argument("--to", required=True, help="the number (national format accepted)")
        test.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="wait this long for the delivery report",
        )
        test.add_argument("--json", action="store_true")
        add_actor_argument(test)
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
        decide = sub.add_parser("decide", help="choose a split test's winner before the rule does")
        decide.add_argument("id", type=int)
        decide.add_argument("--winner", required=True, help="a variant's name, or none")
        add_actor_argument(decide)
        export = sub.add_parser("export")
        export.add_argument("id", type=int)
        export.add_argument("file")

    def handle(self, *args: str, action: str, **options: Any) -> None:
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

    def do_create(self, **o: Any) -> None:
        lists = self._lists(o["lists"])
        exclude = self._lists(o["exclude"])
        segment, exclude_segment = _segment(o["segment"]), _segment(o["exclude_segment"])
        if not lists and segment is None:
            raise CommandError("give --list NAME (one or more) or --segment NAME")
        template: WhatsAppTemplate | None = None
        mapping: dict[str, object] = {}
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
                raise CommandError("--send-window must look like 08:00-21:00") from exc
            quiet = (start, end)
        variants, test = self._split(o)
        campaign = campaign_create(
            variants=variants,
            test=test,
            name=o["name"],
            channel=o["channel"],
            lists=lists,
            exclude_lists=exclude,
            sender=o["sender"],
            text=o["text"],
            template=template,
            template_mapping=mapping,
            media_url=o["image"],
            buttons=[_button(b) for b in o["buttons"]],
            fallback=_fallback(o),
            failover_mode=(
                o["failover_mode"] if o["sms_failover_text"] or o["fallback"] else FailoverMode.NONE
            ),
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
            audience_match=o["audience_match"],
            frequency_cap_override=o["override_frequency_cap"],
            opt_out_footer=o["opt_out_footer"],
            dlt_template_id=o["dlt_template_id"],
            iys_recipient_type=o["iys_recipient_type"],
            kr_title=o["kr_title"],
            exclude_countries=o["exclude_countries"],
        )
        if o["json"]:
            self.stdout.write(json.dumps({"id": campaign.pk}))
        else:
            self.stdout.write(f"campaign created: id={campaign.pk} state={campaign.state}")

    def _split(self, o: dict[str, Any]) -> tuple[list[VariantSpec], SplitSpec | None]:
        """--variant / --variant-template / --coupon and the test's options, checked."""
        coupons = dict(_pair(v, "--coupon") for v in o["coupons"])
        variants = []
        for raw in o["variants"]:
            name, text = _pair(raw, "--variant")
            variants.append(VariantSpec(name=name, text=text, coupon=coupons.pop(name, "")))
        for raw in o["variant_templates"]:
            name, ref = _pair(raw, "--variant-template")
            template_name, _, language = ref.partition(":")
            template, mapping = self._template(
                o | {"template": template_name, "language": language}, channel_type(o["channel"])
            )
            variants.append(
                VariantSpec(
                    name=name,
                    template=template,
                    template_mapping=mapping,
                    coupon=coupons.pop(name, ""),
                )
            )
        if coupons:
            raise CommandError(f"--coupon for no variant: {', '.join(sorted(coupons))}")
        options = (
            o["test_share"],
            o["holdout"],
            o["winner_by"],
            o["decide_after"],
            o["if_undecided"],
        )
        if not variants and all(v is None for v in options):
            return [], None
        decide_after = dt.timedelta(hours=4)
        if o["decide_after"] is not None:
            parsed = parse_duration(o["decide_after"])
            if parsed is None:
                raise CommandError("--decide-after takes an ISO 8601 duration such as PT4H")
            decide_after = parsed
        test = SplitSpec(
            share=o["test_share"] if o["test_share"] is not None else 100,
            holdout=o["holdout"] or 0,
            winner_by=o["winner_by"] or "clicks",
            decide_after=decide_after,
            if_undecided=o["if_undecided"] or "leader",
        )
        return variants, test

    def _lists(self, names: list[str]) -> list[ContactList]:
        found = {cl.name: cl for cl in ContactList.objects.filter(name__in=names)}
        unknown = [name for name in names if name not in found]
        if unknown:
            raise CommandError(f"no contact list named {', '.join(map(repr, unknown))}")
        return [found[name] for name in names]

    def _template(
        self, o: dict[str, Any], kind: ChannelType
    ) -> tuple[WhatsAppTemplate, dict[str, Any]]:
        if not o["template"] or not o["language"]:
            raise CommandError(f"a {kind.name} campaign needs --template and --language")
        # Templates are synced per sender: an automatic sender looks them up on the default.
        sender = "" if sender_is_auto(o["sender"]) else o["sender"]
        sender = sender or kind.default_sender()
        template = WhatsAppTemplate.objects.filter(
            sender=sender, name=o["template"], language=o["language"]
        ).first()
        if template is None:
            raise CommandError(
                f"no template {o['template']!r} ({o['language']}) for sender {sender}: "
                "run `manage.py sync_templates` first"
            )
        mapping: dict[str, Any] = {"body": [slot_from_text(v) for v in o["placeholders"]]}
        if o["header_placeholder"]:
            mapping["header"] = [slot_from_text(o["header_placeholder"])]
        return template, mapping

    def do_preview(self, *, id: int, json: bool, **_: Any) -> None:
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
        if split := data.get("split"):
            groups = " ".join(f"{v['name']}={v['recipients']}" for v in split["variants"])
            self.stdout.write(
                f"split: {groups} holdout={split['holdout']} rest={split['rest']} "
                f"winner_by={split['winner_by']} decide_after={split['decide_after']}"
            )
            for variant in split["variants"]:
                self.stdout.write(f"  {variant['name']}: {variant.get('sample', '')}")
        self.stdout.write("options:")
        for option in data["options"]:
            self.stdout.write(f"  {option['label']}: {option['text']}")
        self.stdout.write("if launched now:")
        for line in data["forecast"]["text"]:
            self.stdout.write(f"  {line}")
        if ex.get("excluded_countries"):
            countries = ", ".join(data["exclude_countries"])
            self.stdout.write(f"excluded countries ({countries}): {ex['excluded_countries']}")
        for use in data["senders"]:
            swapped = f" (instead of {use['swapped_from']})" if use["swapped_from"] else ""
            self.stdout.write(
                f"  {use['channel']} to {use['country'] or '??'} ({use['recipients']}) from "
                f"{use['sender'] or '(Infobip default)'}{swapped}"
            )
        for entry in data["compliance"]:
            self.stdout.write(
                self.style.ERROR(
                    f"{entry['country_name']} ({entry['country']}): {entry['recipients']} "
                    f"recipients would be refused: {' '.join(entry['problems'])}"
                )
            )
        if data["compliance"]:
            self.stdout.write(
                "launch is refused until these are fixed or excluded "
                f"(manage.py campaign countries {id} --exclude CC)"
            )

    def do_countries(self, *, id: int, json: bool, acting_user: str | None, **o: Any) -> None:
        campaign = campaign_countries_update(
            campaign=self._campaign(id),
            actor=cli_actor(acting_user),
            exclude=o["exclude"],
            include=o["include"],
            sender=o["sender"],
            dlt_template_id=o["dlt_template_id"],
            iys_recipient_type=o["iys_recipient_type"],
            kr_title=o["kr_title"],
        )
        if json:
            self.stdout.write(
                _dumps(
                    {
                        "id": campaign.pk,
                        "exclude_countries": campaign.exclude_countries,
                        "sender": campaign.sender or "auto",
                        "dlt_template_id": campaign.dlt_template_id,
                        "iys_recipient_type": campaign.iys_recipient_type,
                        "kr_title": campaign.kr_title,
                    }
                )
            )
            return
        self.stdout.write(
            f"campaign {campaign.pk}: excluded countries "
            f"{', '.join(campaign.exclude_countries) or 'none'}; sender "
            f"{campaign.sender or 'auto'}; DLT template {campaign.dlt_template_id or '-'}"
        )

    def do_launch(
        self, *, id: int, wait: bool, timeout: float, acting_user: str | None, **_: Any
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

    def do_test(
        self, *, id: int, to: str, wait: float, json: bool, acting_user: str | None, **_: Any
    ) -> None:
        from campaigns.audience import audience_contacts
        from campaigns.models import CampaignTestSend
        from campaigns.testsend import FINAL
        from contacts.models import Contact

        campaign = self._campaign(id)
        actor = cli_actor(acting_user)
        actor_require(actor, "campaigns.change_campaign", doing="send tests")
        sample = audience_contacts(campaign).filter(opted_out=False).order_by("id").first()
        campaign_test_send(
            campaign=campaign, contact=sample or Contact(), to=to, sent_by=actor_user(actor)
        )
        test = campaign.test_sends.order_by("-id").first()
        assert test is not None  # campaign_test_send records every test it sends
        deadline = time.monotonic() + wait
        while test.state not in FINAL and time.monotonic() < deadline:
            time.sleep(0.5)
            test = CampaignTestSend.objects.get(pk=test.pk)
        data = {
            "to": test.to,
            "message_id": str(test.message_id),
            "state": test.state,
            "status": test.status_name,
            "error": test.error_name,
        }
        if json:
            self.stdout.write(_dumps(data))
        else:
            self.stdout.write(f"test to {test.to}: {test.state} {test.status_name}".rstrip())

    def do_approve(self, *, id: int, acting_user: str | None, **_: Any) -> None:
        approval = campaign_approve(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {id} approved by {approval.approved_by}")

    def do_pause(self, *, id: int, acting_user: str | None, **_: Any) -> None:
        campaign = campaign_pause(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {campaign.pk} paused")

    def do_resume(self, *, id: int, acting_user: str | None, **_: Any) -> None:
        campaign = campaign_resume(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {campaign.pk} running")

    def do_cancel(self, *, id: int, acting_user: str | None, **_: Any) -> None:
        campaign = campaign_cancel(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {campaign.pk} cancelled; skipped={campaign.count_skipped}")

    def do_resend(self, *, id: int, acting_user: str | None, **_: Any) -> None:
        count = campaign_resend_failed(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self.stdout.write(f"campaign {id} resend queued={count}")

    def do_request_approval(self, *, id: int, note: str, acting_user: str | None, **o: Any) -> None:
        request = campaign_approval_request(
            campaign=self._campaign(id), actor=cli_actor(acting_user), note=note
        )
        answer = {
            "id": id,
            "requested_by": str(request.requested_by or "operator"),
            "requested_at": request.requested_at.isoformat(),
        }
        if o["json"]:
            self.stdout.write(json.dumps(answer))
        else:
            self.stdout.write(
                f"campaign {id} approval requested by {answer['requested_by']} "
                f"at {answer['requested_at']}"
            )

    def do_archive(self, *, id: int, json: bool, acting_user: str | None, **_: Any) -> None:
        campaign = campaign_archive(campaign=self._campaign(id), actor=cli_actor(acting_user))
        self._archived(campaign, json)

    def do_unarchive(self, *, id: int, json: bool, acting_user: str | None, **_: Any) -> None:
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

    def do_status(self, *, id: int, json: bool, **_: Any) -> None:
        status = campaign_status(campaign=self._campaign(id), breakdown=True)
        self.stdout.write(_dumps(status) if json else _summary(status))

    def do_decide(self, *, id: int, winner: str, acting_user: str | None, **_: Any) -> None:
        split = split_decide_by_name(
            campaign=self._campaign(id), name=winner, actor=cli_actor(acting_user)
        )
        self.stdout.write(f"campaign {id} split decided: {split.decision}")

    def do_export(self, *, id: int, file: str, **_: Any) -> None:
        campaign = self._campaign(id)
        try:
            with open(file, "w", newline="", encoding="utf-8") as out:
                rows = campaign_export(campaign=campaign, out=out)
        except OSError as exc:
            raise CommandError(f"cannot write {file}: {exc.strerror}") from exc
        self.stdout.write(f"exported rows={rows} file={file}")


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)


def _summary(status: dict[str, Any]) -> str:
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
    for variant in status.get("variants", []):
        chance = variant.get("probability_best")
        line += (
            f"\n  variant {variant['name']}: recipients={variant['recipients']}"
            f" delivered={variant['delivered']} clicks={variant['clicks']}"
            f" replies={variant['replies']} conversions={variant.get('conversions', 0)}"
            f" revenue={variant.get('revenue', '0.00')}"
            + (f" p_best={chance:.0%}" if chance is not None else "")
        )
    if "split" in status:
        split = status["split"]
        line += (
            f"\n  split {split['state']} winner={status['winner'] or '-'}"
            f" holdout={status['holdout']['recipients']} waiting={split['waiting']}"
            f" decide_at={split['decide_at'] or '-'}"
        )
    if "conversions" in status:
        conversions = status["conversions"]
        line += f" conversions={conversions['count']} revenue={conversions['revenue']}"
    if "clicks" in status:
        clicks = status["clicks"]
        line += f" clicks={clicks['total']} clicked_messages={clicks['unique_messages']}"
        for url, entry in clicks["by_url"].items():
            line += f"\n  {entry['clicks']} clicks ({entry['unique_messages']} messages) {url}"
    return line


def _add_split_arguments(create: CommandParser) -> None:
    """A split test's options on `campaign create` (README "Split tests and holdouts")."""
    create.add_argument(
        "--variant",
        action="append",
        default=[],
        dest="variants",
        metavar="NAME=TEXT",
        help="a variant's text (2 to 4 variants make a split test)",
    )
    create.add_argument(
        "--variant-template",
        action="append",
        default=[],
        dest="variant_templates",
        metavar="NAME=TEMPLATE:LANGUAGE",
        help="a template variant (placeholders: --placeholder)",
    )
    create.add_argument(
        "--coupon",
        action="append",
        default=[],
        dest="coupons",
        metavar="NAME=CODE",
        help="a variant's coupon code, which a shop may pass back with a conversion",
    )
    create.add_argument(
        "--test-share",
        type=int,
        metavar="PERCENT",
        help="of the audience, split evenly between the variants (100: no winner step)",
    )
    create.add_argument(
        "--holdout",
        type=int,
        metavar="PERCENT",
        help="of the audience, sent nothing (to measure lift)",
    )
    create.add_argument("--winner-by", choices=["clicks", "replies", "conversions", "revenue"])
    create.add_argument("--decide-after", metavar="ISO8601", help="from launch, e.g. PT4H")
    create.add_argument(
        "--if-undecided",
        metavar="leader|none|NAME",
        help="at the decision time with no certain winner (default: leader)",
    )


def _pair(raw: str, flag: str) -> tuple[str, str]:
    name, sep, value = raw.partition("=")
    if not sep or not name.strip():
        raise CommandError(f"{flag} takes NAME=VALUE, not {raw[:40]!r}")
    return name.strip(), value


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


def _button(value: str) -> dict[str, Any]:
    """`--button "Shop=https://…"` → {"text", "url"}; `--button Yes` → a reply button."""
    text, _, url = value.partition("=")
    if not text.strip():
        raise CommandError(f"--button {value!r}: give TEXT=URL or TEXT")
    if url.strip():
        return {"text": text.strip(), "url": url.strip()}
    return {"text": text.strip(), "postback": text.strip()}


def _fallback(o: dict[str, Any]) -> list[dict[str, Any]]:
    """The chain of --fallback (and the texts of --fallback-text), in order."""
    names = [n.strip() for n in o["fallback"].split(",") if n.strip()]
    texts: dict[str, str] = {}
    for item in o["fallback_text"]:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"--fallback-text {item!r}: give CHANNEL=TEXT")
        if name.strip() not in names:
            raise CommandError(f"--fallback-text {name.strip()}: not in --fallback")
        texts[name.strip()] = text
    for name in names:
        try:
            channel_type(name)
        except UnknownChannel as exc:
            raise CommandError(f"--fallback: {exc}") from None
    return [{"channel": name, "text": texts.get(name, "")} for name in names]


def _regional_arguments(parser: CommandParser, default: str | None = "") -> None:
    """Countries' rules a campaign carries (docs/COUNTRIES.md)."""
    parser.add_argument(
        "--dlt-template-id",
        default=default,
        metavar="ID",
        help="India: the DLT content template id registered for the SMS text",
    )
    parser.add_argument(
        "--iys-recipient-type",
        default=default,
        choices=["BIREYSEL", "TACIR", ""],
        type=str.upper,
        help="Turkey: IYS type of recipients whose contact attribute has none",
    )
    parser.add_argument("--kr-title", default=default, help="South Korea: the message's title")
