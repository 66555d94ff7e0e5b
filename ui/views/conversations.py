"""The inbox as conversations: threads per contact, replies by SMS or WhatsApp, read/handled."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns.whatsapp_session import WHATSAPP_WINDOW, whatsapp_window_reason
from contacts.models import Contact, RevocationReview
from ui.access import page
from ui.conversations import conversation_mark_handled, conversation_mark_read, conversation_reply
from ui.models import ConversationState
from ui.selectors import inbox_threads, thread_items
from ui.services import UiError

SHOW = ("", "unread", "open")


@page("infobip.view_inboundmessage")
def threads_fragment(request):
    """Fragment: the conversation list (polled by the inbox page)."""
    show = request.GET.get("show", "") if request.GET.get("show", "") in SHOW else ""
    return render(request, "ui/_threads.html", {"threads": inbox_threads(show=show), "show": show})


def _context(request, contact: Contact, **extra) -> dict:
    window_reason = whatsapp_window_reason(contact=contact)
    state = ConversationState.objects.filter(contact=contact).first()
    last = contact.whatsapp_last_inbound_at
    return {
        "contact": contact,
        "items": thread_items(contact),
        "window_open": window_reason is None,
        "window_reason": window_reason,
        "window_closes": last + WHATSAPP_WINDOW if last and window_reason is None else None,
        "handled": bool(state and state.handled_at),
        "can_reply": request.user.has_perm("ui.reply_inbound"),
        "channel": "whatsapp" if window_reason is None else "sms",
        "text": "",
        "transactional": False,
        "error": "",
        "reviews": RevocationReview.objects.filter(contact=contact, resolved_at__isnull=True),
        "can_resolve": request.user.has_perm("contacts.change_contact"),
        "today": timezone.localdate(),
    } | extra


@page("infobip.view_inboundmessage")
def thread(request, pk: int):
    """One contact's conversation with the reply form; reading it clears its unread marker."""
    contact = get_object_or_404(Contact, pk=pk)
    conversation_mark_read(contact=contact)
    return render(request, "ui/thread.html", _context(request, contact))


@page("infobip.view_inboundmessage")
def thread_messages(request, pk: int):
    """Fragment: the messages of a conversation (polled while the page is open)."""
    contact = get_object_or_404(Contact, pk=pk)
    conversation_mark_read(contact=contact)
    return render(request, "ui/_thread_messages.html", {"items": thread_items(contact)})


@require_POST
@page("infobip.view_inboundmessage", "ui.reply_inbound")
def thread_reply(request, pk: int):
    """Send a reply; a refusal shows Infobip's (or Herald's) reason and keeps the typed text."""
    contact = get_object_or_404(Contact, pk=pk)
    channel = request.POST.get("channel", "sms")
    text = request.POST.get("text", "")[:5000]
    transactional = request.POST.get("transactional") == "1"
    try:
        reply = conversation_reply(
            contact=contact, channel=channel, text=text, user=request.user,
            transactional=transactional,
        )  # fmt: skip
    except UiError as exc:
        error = str(exc)
        context = _context(request, contact, channel=channel, text=text,
                           transactional=transactional,
                           error=error[:1].upper() + error[1:])  # fmt: skip
        return render(request, "ui/thread.html", context, status=400)
    messages.success(request, f"{reply.get_channel_display()} reply sent to {contact.phone}.")
    return redirect("ui:thread", pk=pk)


@require_POST
@page("infobip.view_inboundmessage", "ui.reply_inbound")
def thread_handled(request, pk: int):
    """Mark the conversation handled, or open it again."""
    contact = get_object_or_404(Contact, pk=pk)
    handled = request.POST.get("handled") == "1"
    conversation_mark_handled(contact=contact, user=request.user, handled=handled)
    messages.success(request, "Marked as handled." if handled else "Opened again.")
    return redirect("ui:thread", pk=pk)
