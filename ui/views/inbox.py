"""Inbox: inbound messages with keyword outcomes, replies, sandbox simulation."""

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from channels.registry import medium_choices
from contacts.models import RevocationReview
from core.rules import Refused
from infobip.models import InboundMessage, KeywordAction
from ui.access import AuthenticatedRequest, page, permission_denied_text
from ui.selectors import inbox_threads
from ui.services import (
    SIMULATE_INBOUND,
    UiError,
    inbound_reply,
    reply_window_problem,
    sandbox_inbound,
)
from ui.words import in_words


@page("infobip.view_inboundmessage")
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "ui/inbox.html", _inbox_context(request))


def _inbox_context(
    request: HttpRequest, *, failed: int | None = None, text: str = "", error: str = ""
) -> dict[str, Any]:
    """The inbox page; `failed` is the message whose quick reply was refused (with its text
    kept and the reason beside it)."""
    rows = InboundMessage.objects.select_related("contact").order_by("-received_at", "-id")
    channel = request.GET.get("channel", "")
    keyword = request.GET.get("keyword", "")
    channels = medium_choices()
    if channel in dict(channels):
        rows = rows.filter(channel=channel)
    # "" is KeywordAction.NONE as well as "no filter": the default view shows every message,
    # keyword ones included (issue 26 #12); "none" asks for the messages without a keyword.
    if keyword == "none":
        rows = rows.filter(keyword_action="")
    elif keyword and keyword in KeywordAction.values:
        rows = rows.filter(keyword_action=keyword)
    shown = list(rows[:100])
    # One query for the page: which of these replies wait for a consent decision.
    flagged = dict(
        RevocationReview.objects.filter(
            inbound_id__in=[m.pk for m in shown], resolved_at__isnull=True
        ).values_list("inbound_id", "due_on")
    )
    items = [
        {
            "m": m,
            "reply_problem": reply_window_problem(m.channel, m.contact),
            "review_due": flagged.get(m.pk),
            "reply_key": uuid.uuid4().hex,  # a double click sends one reply
            "reply_text": text if m.pk == failed else "",
            "reply_error": error if m.pk == failed else "",
        }
        for m in shown
    ]
    show = request.GET.get("show", "")
    context = {
        "threads": inbox_threads(show=show if show in ("unread", "open") else ""),
        "show": show,
        "items": items,
        "channel": channel,
        "channels": channels,
        "keyword": keyword,
        "keyword_actions": [("none", "No keyword"), *[c for c in KeywordAction.choices if c[0]]],
        "sandbox": settings.INFOBIP_SANDBOX,
        "can_reply": request.user.has_perm("ui.reply_inbound"),
        "reviews": RevocationReview.objects.filter(resolved_at__isnull=True)
        .select_related("contact")
        .order_by("due_on", "id")[:50],
        "can_resolve": request.user.has_perm("contacts.change_contact"),
        "today": timezone.localdate(),
    }
    return context


@require_POST
@page("infobip.view_inboundmessage", "ui.reply_inbound")
def inbox_reply(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    inbound = get_object_or_404(InboundMessage.objects.select_related("contact"), pk=pk)
    text = request.POST.get("text", "")[:5000]
    try:
        inbound_reply(
            inbound=inbound,
            text=text,
            user=request.user,
            key=request.POST.get("reply_key", "")[:300],
        )
    except UiError as exc:
        # Beside the reply box of that message, its text kept (issue 26 #14).
        error = in_words(exc)
        context = _inbox_context(
            request, failed=inbound.pk, text=text, error=f"Not sent: {error[:1].upper()}{error[1:]}"
        )
        return render(request, "ui/inbox.html", context, status=400)
    else:
        messages.success(
            request, f"Reply to {inbound.from_number} queued: see its delivery in the conversation."
        )
    return redirect("ui:inbox")


@require_POST
@page()
def sandbox_simulate(request: AuthenticatedRequest) -> HttpResponse:
    try:
        sandbox_inbound(
            channel=request.POST.get("channel", "sms"),
            sender=request.POST.get("from", ""),
            text=request.POST.get("text", ""),
            user=request.user,
        )
    except Refused as exc:  # the service decides who may; a refusal is a 403, not a redirect
        raise PermissionDenied(permission_denied_text(exc.missing or SIMULATE_INBOUND)) from exc
    except UiError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "The sandbox pushed the message; it appears here once processed.")
    return redirect("ui:inbox")
