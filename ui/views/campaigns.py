"""Campaign pages: list, preview and test send, live campaign page, ledger, actions."""

import itertools
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Min
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns.analytics import marketing_campaigns
from campaigns.clicks import campaign_click_counts
from campaigns.describe import campaign_option_lines, duration_words, forecast_lines
from campaigns.editing import ARCHIVABLE, EDITABLE
from campaigns.export import campaign_export_rows, ledger_export_rows, split_variants
from campaigns.forecast import campaign_forecast
from campaigns.history import history_first_texts
from campaigns.models import (
    ApprovalRequest,
    Campaign,
    CampaignTestSend,
    Message,
    SplitTest,
    WinnerBy,
)
from campaigns.preview import campaign_preview
from campaigns.services import (
    CampaignError,
    campaign_approval_problem,
    campaign_approval_request,
    campaign_approve,
    campaign_cancel,
    campaign_launch,
    campaign_pause,
    campaign_resend_failed,
    campaign_resume,
    campaign_test_send,
)
from campaigns.split import split_decide_by_name
from campaigns.states import CampaignState, MessageState
from campaigns.steps import campaign_kind, campaign_steps
from campaigns.testsend import saved_number_add, saved_numbers_for, team_region
from channels.registry import channel_choices, channel_names, medium_choices
from contacts.models import Contact
from contacts.services import contact_list_add, contact_list_create
from core.csvsafe import csv_lines
from core.params import param_int
from core.rules import Refused
from infobip.errors import InfobipError
from ui.access import APPROVE, LAUNCH, AuthenticatedRequest, page, permission_denied_text
from ui.models import CampaignApproval
from ui.selectors import campaign_progress
from ui.services import audit_record
from ui.split import campaign_conversions_card, campaign_split_panel
from ui.story import GROUPS, campaign_funnel, recipient_messages, waiting_reasons
from ui.templatetags.herald_ui import channel_label, money
from ui.words import in_words

RECIPIENTS_PAGE = 50


@page("campaigns.view_campaign")
def campaign_list(request: AuthenticatedRequest) -> HttpResponse:
    # API sends are one-off campaigns of their own (api.TransactionalSend): not the marketer's.
    campaigns = marketing_campaigns().select_related("created_by")
    state = request.GET.get("state", "")
    channel = request.GET.get("channel", "")
    q = request.GET.get("q", "").strip()[:200]
    # Archived campaigns are hidden unless asked for: "" (not archived), "only", "all".
    archived = request.GET.get("archived", "")
    if archived == "only":
        campaigns = campaigns.filter(archived_at__isnull=False)
    elif archived != "all":
        archived = ""
        campaigns = campaigns.filter(archived_at__isnull=True)
    if state in CampaignState.values:
        campaigns = campaigns.filter(state=state)
    if channel in channel_names():
        campaigns = campaigns.filter(channel=channel)
    if q:
        campaigns = campaigns.filter(name__icontains=q)
    rows = [{"campaign": c, **campaign_progress(c)} for c in campaigns[:100]]
    context = {
        "rows": rows,
        "state": state,
        "states": CampaignState.choices,
        "channel": channel,
        "channels": channel_choices(),
        "q": q,
        "archived": archived,
        "archived_choices": [("", "Not archived"), ("only", "Archived"), ("all", "All")],
    }
    return render(request, "ui/campaigns.html", context)


def _sample_contact(campaign: Campaign) -> Contact:
    from campaigns.audience import audience_contacts

    return audience_contacts(campaign).filter(opted_out=False).order_by("id").first() or Contact()


def _actions(request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
    """Which buttons this user sees for this campaign, and why launch is blocked if it is."""
    can_send = request.user.has_perm(LAUNCH)
    state = campaign.state
    return {
        "can_send": can_send,
        # The creator is never offered Approve: a second person must check the campaign.
        "can_approve": request.user.has_perm(APPROVE) and campaign.created_by_id != request.user.pk,
        # An archived draft is unarchived before it is launched (campaign_launch refuses it).
        "launch": can_send and state == CampaignState.DRAFT and campaign.archived_at is None,
        "pause": can_send and state == CampaignState.RUNNING,
        "resume": can_send and state == CampaignState.PAUSED,
        "cancel": can_send
        and state
        in (
            CampaignState.DRAFT,
            CampaignState.SCHEDULED,
            CampaignState.RUNNING,
            CampaignState.PAUSED,
        ),
        "resend": can_send and campaign.count_failed > 0,
        "edit": state in (CampaignState.DRAFT, CampaignState.SCHEDULED),
        "reschedule": state == CampaignState.SCHEDULED,
        "delete": state == CampaignState.DRAFT,
        "archive": campaign.archived_at is None and state in ARCHIVABLE,
        "unarchive": campaign.archived_at is not None,
        "approval_problem": campaign_approval_problem(campaign=campaign),
        "approval_request": ApprovalRequest.objects.filter(
            campaign=campaign, closed_at__isnull=True
        )
        .select_related("requested_by")
        .first(),
        "can_request_approval": request.user.has_perm("campaigns.change_campaign"),
        "approval": CampaignApproval.objects.filter(campaign=campaign)
        .select_related("approved_by")
        .first(),
    }


@page("campaigns.view_campaign")
def campaign_preview_page(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    return render(request, "ui/campaign_preview.html", preview_context(request, campaign))


def preview_context(request: AuthenticatedRequest, campaign: Campaign) -> dict[str, Any]:
    """The preview page's context (also re-rendered by a refused form of the page)."""
    preview = campaign_preview(campaign=campaign)
    return {
        "campaign": campaign,
        "preview": preview,
        "chain": _chain(campaign),
        "split_words": _split_words(campaign) if preview["split"] else None,
        "actions": _actions(request, campaign),
        **_test_context(request, campaign),
        "steps": [
            ("audience", "Audience"),
            ("message", "Message"),
            ("options", "Options"),
            ("preview", "Preview & test"),
            ("launch", "Launch"),
        ],
        "step": "preview",
        # The preview's fixes for countries' rules change drafts and scheduled campaigns only.
        "editable": campaign.state in EDITABLE,
    }


def _split_words(campaign: Campaign) -> dict[str, Any]:
    """The split test's rule as people say it ("clicks", "4 hours"), not the API's PT4H."""
    split = SplitTest.objects.get(campaign=campaign)
    return {
        "winner_by": WinnerBy(split.winner_by).label.lower(),
        "decide_after": duration_words(int(split.decide_after.total_seconds() // 60)),
    }


TESTS_SHOWN = 5


def _test_context(request: AuthenticatedRequest, campaign: Campaign) -> dict[str, Any]:
    """The test form: the person's own numbers (never a customer's), and their last tests."""
    saved = list(saved_numbers_for(request.user))
    last = request.session.get("herald_test_to", "")
    return {
        "saved_numbers": saved,
        # What this person typed last time (unless it is one of their saved numbers, then that
        # one is picked); else their first saved number; else nothing.
        "test_to": last if all(n.phone != last for n in saved) else "",
        "test_pick": next((n.pk for n in saved if n.phone == last), None)
        or (saved[0].pk if saved and not last else None),
        "tests": _tests(request, campaign),
        "region": team_region(),
    }


def _tests(request: HttpRequest, campaign: Campaign) -> list[CampaignTestSend]:
    return list(campaign.test_sends.filter(sent_by_id=request.user.pk)[:TESTS_SHOWN])


@require_POST
@page("campaigns.change_campaign")
def campaign_test(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Send a test to one of the person's saved numbers, or a number typed (and maybe saved)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    picked = param_int(request.POST.get("saved", ""))
    number = saved_numbers_for(request.user).filter(pk=picked).first() if picked else None
    to = number.phone if number else request.POST.get("to", "").strip()
    if number is None and request.POST.get("save") == "on":
        try:
            number = saved_number_add(
                user=request.user, raw=to, label=request.POST.get("label", "")
            )
        except ValidationError as exc:
            messages.error(request, "Number not saved: " + "; ".join(exc.messages) + ".")
            return redirect("ui:campaign_preview", pk=pk)
        to = number.phone
    request.session["herald_test_to"] = to[:40]
    try:
        result = campaign_test_send(
            campaign=campaign, contact=_sample_contact(campaign), to=to, sent_by=request.user
        )
    except (CampaignError, InfobipError) as exc:
        messages.error(request, f"Test not sent: {in_words(exc)}")
        return redirect("ui:campaign_preview", pk=pk)
    sent = result.messages[0] if result.messages else None
    status = sent.status.name if sent and sent.status else "sent"
    audit_record(actor=request.user, action="test", campaign=campaign, detail=f"to {to}: {status}")
    messages.success(request, f"Test sent to {to}: its delivery report shows below.")
    return redirect(reverse("ui:campaign_preview", args=[pk]) + "#tests")


@page("campaigns.view_campaign")
def campaign_tests_fragment(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Fragment: the person's last tests of the campaign and what Infobip reported for each."""
    campaign = get_object_or_404(Campaign, pk=pk)
    return render(
        request, "ui/_test_sends.html", {"campaign": campaign, "tests": _tests(request, campaign)}
    )


@page("campaigns.view_campaign")
def campaign_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    story = campaign_funnel(campaign)
    context = {
        "campaign": campaign,
        "progress": campaign_progress(campaign),
        "actions": _actions(request, campaign),
        "clicks": campaign_click_counts(campaign_id=campaign.pk),
        "states": MessageState.choices,
        "channels": medium_choices(),
        "funnel": _funnel(campaign, story),
        "chain": _chain(campaign),
        "story": story,
        "waiting": waiting_reasons(campaign),
        "options": campaign_option_lines(campaign),
        "bubble": _bubble(campaign),
        "groups": GROUPS,
        "split_panel": campaign_split_panel(campaign),
        "conversions": campaign_conversions_card(campaign),
    }
    return render(request, "ui/campaign.html", context)


@require_POST
@page("campaigns.view_campaign")
def campaign_split_decide(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A person picks the split's winner (or none) now; the service checks who may."""
    campaign = get_object_or_404(Campaign, pk=pk)
    name = request.POST.get("winner", "")[:20]
    try:
        split = split_decide_by_name(campaign=campaign, name=name, actor=request.user)
    except Refused as exc:
        messages.error(request, f"Not decided: {exc}")
    except ValidationError as exc:
        messages.error(request, "Not decided: " + "; ".join(exc.messages))
    else:
        messages.success(request, f"Decided: {split.decision}.")
    return redirect("ui:campaign", pk=pk)


BUBBLE_ROWS = 20  # rows of the ledger the bubble looks at for a written text


def _bubble(campaign: Campaign) -> str:
    """The message as its first recipient sees it (the text as written when nobody fits)."""
    preview = (
        campaign_preview(campaign=campaign, samples=1, forecast=False)
        if campaign.recipients < 1
        else None
    )
    if preview and preview["samples"]:
        text: str = preview["samples"][0]["text"]
        return text
    # The first few rows by id only: a template campaign's rows have no text, and asking for
    # "the first row with text" walked its whole ledger (12 s for a 1M-recipient campaign).
    # From the campaign's first id: with only `campaign = %s ORDER BY id LIMIT n` the planner
    # walks the primary key from the ledger's start (it assumes the campaign's rows are spread
    # evenly), 8 s for a campaign in the middle of a 10M-row ledger.
    if campaign.history_archived_at is not None:  # the rows are in its history file
        texts: Iterable[str] = history_first_texts(campaign, BUBBLE_ROWS)
    else:
        rows = Message.objects.filter(campaign=campaign)
        first_id = rows.aggregate(first=Min("id"))["first"]
        texts = rows.filter(id__gte=first_id or 0).order_by("id").values_list("text", flat=True)
        texts = texts[:BUBBLE_ROWS]
    sent = next((text for text in texts if text), None)
    if sent is not None:
        return sent
    if campaign.template is not None:
        label = channel_label(campaign.channel)
        return f"{label} “{campaign.template.name}” ({campaign.template.language})"
    return campaign.text


def _chain(campaign: Campaign) -> dict[str, Any] | None:
    """The fallback chain as the pages name it ("WhatsApp → SMS"), or None without one."""
    steps = campaign_steps(campaign)
    if len(steps) < 2:
        return None
    first = steps[0].kind.medium_label
    rest = " → ".join(step.kind.medium_label for step in steps[1:])
    return {"first": first, "rest": rest, "label": f"{first} → {rest}"}


def _funnel(campaign: Campaign, story: list[dict[str, Any]]) -> dict[str, Any]:
    """Chart data: the people funnel (sent → delivered → clicked → replied → opted out) and,
    for campaigns with a fallback chain, how many messages the first step and the rest carried."""
    first_total = sum(campaign.counts.values()) - campaign.failover_sent
    chain = _chain(campaign)
    data = {
        "labels": [step["label"] for step in story],
        "datasets": [
            {
                "label": "People",
                "data": [step["value"] for step in story],
                "colors": ["#5b8def", "#166b31", "#8e44ad", "#e67e22", "#b42318"],
            }
        ],
    }
    split = {
        "labels": [chain["first"], f"{chain['rest']} fallback"] if chain else [],
        "datasets": [
            {
                "label": "Messages",
                "data": [first_total, campaign.failover_sent],
                "colors": ["#1b7f3b", "#5b8def"],
            }
        ],
    }
    return {"funnel": data, "split": split}


@page("campaigns.view_campaign")
def campaign_progress_fragment(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    progress = campaign_progress(campaign)
    story = campaign_funnel(campaign)
    context = {
        "campaign": campaign,
        "progress": progress,
        "funnel": _funnel(campaign, story),
        "chain": _chain(campaign),
        "actions": _actions(request, campaign),
        "story": story,
    }
    response = render(request, "ui/_campaign_progress.html", context)
    if not progress["live"]:
        # The last poll: let the recipients table refresh once with the final states.
        response["HX-Trigger"] = "campaign-settled"
    return response


@page("campaigns.view_campaign")
def campaign_recipients(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Fragment: the per-recipient ledger, filtered, keyset-paginated by id."""
    campaign = get_object_or_404(Campaign, pk=pk)
    filters = _recipient_filters(request.GET)
    rows = recipient_messages(campaign, **filters).order_by("id")
    state, channel = filters["state"], filters["channel"]
    after = request.GET.get("after", "")
    if (after_id := param_int(after)) is not None:
        rows = rows.filter(id__gt=after_id)
    # Ids first (an index-only scan of (campaign, id)), then the rows: selecting whole rows
    # lets PostgreSQL walk the primary key through every other campaign's rows instead.
    ids = list(rows.values_list("id", flat=True)[: RECIPIENTS_PAGE + 1])
    page_rows = list(
        Message.objects.filter(id__in=ids)
        .order_by("id")
        .only(
            "id",
            "phone",
            "channel",
            "attempt",
            "state",
            "status_name",
            "error_name",
            "reason",
            "price",
            "currency",
            "done_at",
            "contact_id",
        )
    )
    more = len(page_rows) > RECIPIENTS_PAGE
    page_rows = page_rows[:RECIPIENTS_PAGE]
    context = {
        "campaign": campaign,
        "rows": page_rows,
        "next_after": page_rows[-1].id if more else None,
        "state": state,
        "channel": channel,
        "after": after,
        "states": MessageState.choices,
        "filters": filters,
        "filter_query": urlencode(filters),
        "live": campaign_progress(campaign)["live"],
    }
    template = "ui/_recipients.html"
    if not request.headers.get("HX-Request"):
        template = "ui/recipients.html"
    return render(request, template, context)


def _recipient_filters(params: QueryDict) -> dict[str, str]:
    return {
        "state": params.get("state", "")[:20],
        "channel": params.get("channel", "")[:20],
        "q": params.get("q", "").strip()[:100],
        "group": params.get("group", "") if params.get("group", "") in GROUPS else "",
    }


@page("campaigns.view_campaign")
def campaign_export_csv(request: AuthenticatedRequest, pk: int) -> StreamingHttpResponse:
    """The ledger as CSV, filtered like the table; UTF-8 with a BOM so spreadsheets read it."""
    campaign = get_object_or_404(Campaign, pk=pk)
    filters = _recipient_filters(request.GET)
    audit_record(actor=request.user, action="export", campaign=campaign, detail=urlencode(filters))
    if any(filters.values()):
        rows = recipient_messages(campaign, **filters)
        lines = ledger_export_rows(rows, split_variants(campaign))
    else:
        lines = campaign_export_rows(campaign=campaign)
    response = StreamingHttpResponse(
        # A BOM so spreadsheets read UTF-8; cells defused by core.csvsafe (no formulas).
        itertools.chain(["\ufeff"], csv_lines(lines)),
        content_type="text/csv; charset=utf-8",
    )
    suffix = "-" + "-".join(v for v in filters.values() if v)[:40] if any(filters.values()) else ""
    safe = re.sub(r"[^A-Za-z0-9_-]", "", suffix)
    response["Content-Disposition"] = (
        f'attachment; filename="campaign-{campaign.pk}-ledger{safe}.csv"'
    )
    return response


@require_POST
@page("contacts.add_contactlist")
def campaign_make_list(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A new list from the recipients a filter shows (e.g. everyone who did not receive it)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    filters = _recipient_filters(request.POST)
    name = request.POST.get("name", "").strip()
    if not name:
        label = GROUPS.get(filters["group"], "recipients")
        name = f"{campaign.name[:150]} — {label}"
    ids = recipient_messages(campaign, **filters).exclude(contact_id__isnull=True)
    contact_ids = list(ids.values_list("contact_id", flat=True).distinct())
    try:
        new_list = contact_list_create(
            name=name, description=f"Made from campaign {campaign.pk} ({urlencode(filters)})"
        )
    except ValidationError as exc:
        messages.error(request, "List not made: " + "; ".join(exc.messages) + ".")
        return redirect("ui:campaign", pk=pk)
    added = contact_list_add(contact_list=new_list, contact_ids=contact_ids)
    audit_record(actor=request.user, action="make-list", campaign=campaign, detail=new_list.name)
    messages.success(request, f"List “{new_list.name}” made with {added:,} contacts.")
    return redirect("ui:list", pk=new_list.pk)


def launch_summary(campaign: Campaign) -> str:
    """What a launch will do, in plain numbers (campaigns.preview over the whole audience)."""
    preview = campaign_preview(campaign=campaign, samples=0, forecast=False)
    count = preview["messages"]
    kind = campaign_kind(campaign)
    if preview["parts"]:  # a type whose texts are split into parts (SMS)
        parts = sum(int(p) * n for p, n in preview["parts"].items())
        what = f"{count:,} {kind.medium_label} ({parts:,} part{'s' if parts != 1 else ''})"
    else:
        what = f"{count:,} {kind.medium_label} message{'s' if count != 1 else ''}"
    people = f"{count:,} {'person' if count == 1 else 'people'}"
    when = (
        f" at {timezone.localtime(campaign.send_at):%Y-%m-%d %H:%M %Z}"
        if campaign.send_at and campaign.send_at > timezone.now()
        else " now"
    )
    excluded = preview["excluded"]
    tail = [f"{excluded['opted_out']:,} opted out", f"{excluded['excluded_lists']:,} excluded"]
    if excluded["missing_values"]:
        tail.append(f"{excluded['missing_values']:,} skipped for a missing value")
    cost = money(preview["cost"]["amount"], preview["cost"]["currency"])
    sentence = f"Send {what} to {people}{when}, estimated {cost}; " + ", ".join(tail) + "."
    if chain := _chain(campaign):
        sentence += f" Those {chain['first']} cannot reach get the {chain['rest']} fallback."
    return sentence


ACTIONS = {
    "launch": ("Launch", "Send this campaign to its audience now (or at its scheduled time)."),
    "pause": ("Pause", "Stop handing new messages to Infobip. Messages already sent go on."),
    "resume": ("Resume", "Start sending the remaining messages again."),
    "cancel": ("Cancel", "Skip every message not sent yet. This cannot be undone."),
    "resend": ("Resend to failed", "Send a new attempt to every recipient whose message failed."),
    "approve": ("Approve", "Confirm you checked this campaign; a Sender may then launch it."),
}


@require_POST
@page("campaigns.change_campaign")
def campaign_request_approval(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Ask the approvers to check this draft (campaigns.services.campaign_approval_request)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        campaign_approval_request(
            campaign=campaign, actor=request.user, note=request.POST.get("note", "")[:500]
        )
    except (CampaignError, Refused) as exc:
        messages.error(request, f"Approval not requested: {in_words(exc)}")
    else:
        messages.success(request, "Approval requested: the approvers see it in their menu.")
    return redirect("ui:campaign_preview", pk=pk)


@page("campaigns.view_campaign")
def campaign_action(request: AuthenticatedRequest, pk: int, action: str) -> HttpResponse:
    """GET: a confirmation page; POST: do it (launch/pause/resume/cancel need ui.launch)."""
    if action not in ACTIONS:
        raise Http404
    needed = APPROVE if action == "approve" else LAUNCH
    if not request.user.has_perm(needed):
        raise PermissionDenied(permission_denied_text(needed))
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method != "POST":
        title, explanation = ACTIONS[action]
        context = {
            "campaign": campaign,
            "action": action,
            "title": title,
            "explanation": explanation,
            "progress": campaign_progress(campaign),
            "approval_problem": campaign_approval_problem(campaign=campaign)
            if action == "launch"
            else None,
            "launch_summary": launch_summary(campaign) if action in ("launch", "approve") else None,
            # What the approver approves: the text as recipients see it and the audience.
            "bubble": _bubble(campaign) if action == "approve" else "",
            "approval_request": ApprovalRequest.objects.filter(
                campaign=campaign, closed_at__isnull=True
            ).first(),
        }
        if action == "launch":
            context["options"] = campaign_option_lines(campaign)
            context["forecast"] = forecast_lines(campaign_forecast(campaign=campaign))
        return render(request, "ui/confirm.html", context)
    try:
        done = _perform(request, campaign, action)
    except (CampaignError, Refused) as exc:
        # The services decide and audit; a refusal changes nothing and says why.
        messages.error(request, f"{ACTIONS[action][0]} refused: {in_words(exc)}")
    else:
        messages.success(request, done)
    return redirect("ui:campaign", pk=pk)


def _perform(request: HttpRequest, campaign: Campaign, action: str) -> str:
    actor = request.user
    if action == "launch":
        campaign = campaign_launch(campaign=campaign, actor=actor)
        if campaign.state == CampaignState.SCHEDULED:
            return f"Scheduled for {timezone.localtime(campaign.send_at):%Y-%m-%d %H:%M %Z}."
        return "Launched: messages are going out."
    if action == "pause":
        campaign_pause(campaign=campaign, actor=actor)
        return "Paused."
    if action == "resume":
        campaign_resume(campaign=campaign, actor=actor)
        return "Resumed."
    if action == "cancel":
        campaign_cancel(campaign=campaign, actor=actor)
        return "Cancelled: messages not yet sent are skipped."
    if action == "resend":
        count = campaign_resend_failed(campaign=campaign, actor=actor)
        return f"{count} message(s) queued again."
    campaign_approve(campaign=campaign, actor=actor)
    return "Approved."
