"""The inbox as conversations: threads per contact, replies on any reply medium, read/handled."""

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from channels.registry import medium_label
from contacts.models import Contact, RevocationReview
from core.params import param_int
from inbox.conversations import (
    ReplyError,
    conversation_mark_handled,
    conversation_mark_read,
    conversation_reply,
    conversation_template_send,
    reply_options,
    template_fields,
)
from inbox.models import ConversationState
from ui.access import AuthenticatedRequest, page
from ui.selectors import inbox_threads, thread_items
from ui.words import in_words
from whatsapp.models import WhatsAppTemplate

SHOW = ("", "unread", "open")


@page("infobip.view_inboundmessage")
def threads_fragment(request: AuthenticatedRequest) -> HttpResponse:
    """Fragment: the conversation list (polled by the inbox page)."""
    show = request.GET.get("show", "") if request.GET.get("show", "") in SHOW else ""
    return render(request, "ui/_threads.html", {"threads": inbox_threads(show=show), "show": show})


def _templates(request: HttpRequest, window_open: bool) -> dict[str, Any]:
    """The closed-window template send: approved templates, and the chosen one's fields."""
    if window_open:
        return {}
    templates = WhatsAppTemplate.objects.filter(
        status="APPROVED", supported=True, removed_upstream_at__isnull=True
    ).order_by("name", "language")
    chosen_id = param_int(request.POST.get("template") or request.GET.get("template", ""))
    chosen = templates.filter(pk=chosen_id).first() if chosen_id is not None else None
    return {
        "wa_templates": templates[:200],
        "wa_template": chosen,
        "wa_fields": [
            (name, label, request.POST.get(name, "")) for name, label in template_fields(chosen)
        ]
        if chosen
        else [],
    }


def _context(request: HttpRequest, contact: Contact, **extra: object) -> dict[str, Any]:
    state = ConversationState.objects.filter(contact=contact).first()
    options = reply_options(contact)
    # Preselected: the first medium with a session window that is open (a free reply there
    # is what the person is waiting for), else the first medium that is always open.
    windowed = [o for o in options if o["window"] and o["open"]]
    always = [o for o in options if not o["window"]]
    default = (windowed or always or options or [{"medium": ""}])[0]["medium"]
    whatsapp = next((o for o in options if o["medium"] == "whatsapp"), None)
    window_open = whatsapp is None or whatsapp["open"]
    return (
        {
            "contact": contact,
            "window_open": window_open,
            "template_error": "",
            "items": thread_items(contact),
            "reply_options": options,
            "handled": bool(state and state.handled_at),
            "can_reply": request.user.has_perm("ui.reply_inbound"),
            "channel": default,
            "text": "",
            "transactional": False,
            "error": "",
            "error_field": "",
            # Sent with the form: a double click or a re-sent request is one reply.
            "reply_key": uuid.uuid4().hex,
            "reviews": RevocationReview.objects.filter(contact=contact, resolved_at__isnull=True),
            "can_resolve": request.user.has_perm("contacts.change_contact"),
            "today": timezone.localdate(),
        }
        | _templates(request, window_open)
        | extra
    )


@page("infobip.view_inboundmessage")
def thread(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One contact's conversation with the reply form; reading it clears its unread marker."""
    contact = get_object_or_404(Contact, pk=pk)
    conversation_mark_read(contact=contact)
    return render(request, "ui/thread.html", _context(request, contact))


@page("infobip.view_inboundmessage")
def thread_messages(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Fragment: the messages of a conversation (polled while the page is open)."""
    contact = get_object_or_404(Contact, pk=pk)
    conversation_mark_read(contact=contact)
    return render(request, "ui/_thread_messages.html", {"items": thread_items(contact)})


@require_POST
@page("infobip.view_inboundmessage", "ui.reply_inbound")
def thread_reply(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Send a reply; a refusal shows Infobip's (or Herald's) reason and keeps the typed text."""
    contact = get_object_or_404(Contact, pk=pk)
    channel = request.POST.get("channel", "sms")
    text = request.POST.get("text", "")[:5000]
    transactional = request.POST.get("transactional") == "1"
    key = request.POST.get("reply_key", "")[:300]
    try:
        reply = conversation_reply(
            contact=contact,
            channel=channel,
            text=text,
            actor=request.user,
            transactional=transactional,
            key=key,
        )
    except ReplyError as exc:
        error = in_words(str(exc))
        # The same key again: nothing was written, so a corrected reply may reuse it.
        context = _context(
            request,
            contact,
            channel=channel,
            text=text,
            transactional=transactional,
            error_field=exc.field,
            error=error[:1].upper() + error[1:],
            reply_key=key or uuid.uuid4().hex,
        )
        return render(request, "ui/thread.html", context, status=400)
    messages.success(
        request,
        f"{medium_label(reply.channel)} reply to {contact.phone} queued: its delivery shows "
        "in the conversation.",
    )
    return redirect("ui:thread", pk=pk)


@require_POST
@page("infobip.view_inboundmessage", "ui.reply_inbound")
def thread_handled(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Mark the conversation handled, or open it again."""
    contact = get_object_or_404(Contact, pk=pk)
    handled = request.POST.get("handled") == "1"
    conversation_mark_handled(contact=contact, actor=request.user, handled=handled)
    messages.success(request, "Marked as handled." if handled else "Opened again.")
    return redirect("ui:thread", pk=pk)


@require_POST
@page("infobip.view_inboundmessage", "ui.reply_inbound")
def thread_template(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Send a WhatsApp template from the thread (after the 24-hour window closed)."""
    contact = get_object_or_404(Contact, pk=pk)
    context = _context(request, contact)
    template = context.get("wa_template")
    values = {name: value[:1000] for name, _label, value in context.get("wa_fields", [])}
    try:
        if template is None:
            raise ReplyError("choose a template", field="template")
        conversation_template_send(
            contact=contact,
            template=template,
            values=values,
            actor=request.user,
            transactional=request.POST.get("transactional") == "1",
        )
    except ReplyError as exc:
        error = in_words(str(exc))
        context["template_error"] = error[:1].upper() + error[1:]
        return render(request, "ui/thread.html", context, status=400)
    messages.success(request, f"WhatsApp template “{template.name}” sent to {contact.phone}.")
    return redirect("ui:thread", pk=pk)
