"""Senders per country (issue 25 #4): the table, a form to add or change one, remove; and the
campaign preview's fixes for countries' rules (#5).

Reading needs `channels.view_sender` (the Marketer role); adding, changing and removing are the
services' own permissions (the Sender role), so a refusal reads the same here as in the API.
"""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from campaigns.editing import campaign_countries_update
from campaigns.models import Campaign
from campaigns.services import CampaignError
from channels.countries import country_name
from channels.models import ANY_COUNTRY, Sender
from channels.registry import medium_choices
from channels.senders import SENDER_FIELDS, sender_remove, sender_save
from core.rules import Refused
from ui.access import AuthenticatedRequest, page
from ui.views.campaigns import preview_context
from ui.words import in_words

FORM_FIELDS = ("channel", "country", "sender", *SENDER_FIELDS)
LABELS = {"channel": "Channel", "country": "Country", "sender": "Sender"}


def _countries() -> list[tuple[str, str]]:
    """(code, name) of every country a number can be from, by name, `*` first."""
    import phonenumbers

    named = sorted(
        ((code, country_name(code)) for code in phonenumbers.SUPPORTED_REGIONS if code != "001"),
        key=lambda pair: pair[1],
    )
    return [(ANY_COUNTRY, "Any other country (*)"), *named]


def _form(source: dict[str, Any]) -> dict[str, str]:
    return {name: str(source.get(name, "") or "")[:100] for name in FORM_FIELDS}


@page("channels.view_sender")
def sender_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every sender per channel and country, and a form to add one or change one (?edit=ID)."""
    wanted = request.GET.get("edit", "")
    valid = wanted.isascii() and wanted.isdigit() and len(wanted) < 12
    editing = Sender.objects.filter(pk=int(wanted)).first() if valid else None
    form = _form({"channel": "sms"})
    if editing is not None:
        values = {name: getattr(editing, name) for name in FORM_FIELDS if name != "channel"}
        form = _form({"channel": editing.medium, **values})
    context = {
        "rows": Sender.objects.all()[:1000],
        "mediums": medium_choices(),
        "countries": _countries(),
        "form": form,
        "editing": editing,
        "errors": {},
    }
    if request.method != "POST":
        return render(request, "ui/senders.html", context)
    form = _form(request.POST)
    try:
        row, created = sender_save(
            actor=request.user,
            channel=form["channel"],
            country=form["country"],
            sender=form["sender"],
            **{name: form[name] for name in SENDER_FIELDS},  # blank: not set
        )
    except ValidationError as exc:
        errors = (
            {k: in_words("; ".join(v)) for k, v in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {"general": in_words("; ".join(exc.messages))}
        )
        return render(
            request, "ui/senders.html", context | {"form": form, "errors": errors}, status=400
        )
    except Refused as exc:
        refused = context | {"form": form, "errors": {"general": str(exc)}}
        return render(request, "ui/senders.html", refused, status=403)
    verb = "added" if created else "changed"
    messages.success(
        request,
        f"{row.get_medium_display()} sender for {country_name(row.country)} {verb}: {row.sender}.",
    )
    return redirect("ui:senders")


@require_POST
@page("channels.view_sender")
def sender_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Remove a sender: its country's messages then come from `*` or the default sender."""
    row = get_object_or_404(Sender, pk=pk)
    where = country_name(row.country)
    try:
        sender_remove(sender=row, actor=request.user)
    except Refused as exc:
        messages.error(request, str(exc))
        return redirect("ui:senders")
    messages.success(request, f"{row.get_medium_display()} sender for {where} removed.")
    return redirect("ui:senders")


REGIONAL_FIELDS = ("sender", "dlt_template_id", "iys_recipient_type", "kr_title")


@require_POST
@page("campaigns.change_campaign")
def campaign_countries(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The preview's fixes for countries' rules: exclude or include a country, or change the
    sender and regional ids (campaigns.editing.campaign_countries_update)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    post = request.POST
    try:
        if post.get("exclude"):
            campaign_countries_update(
                campaign=campaign, actor=request.user, exclude=[post["exclude"][:2]]
            )
            done = f"Recipients in {country_name(post['exclude'][:2].upper())} left out."
        elif post.get("include"):
            campaign_countries_update(
                campaign=campaign, actor=request.user, include=[post["include"][:2]]
            )
            done = f"Recipients in {country_name(post['include'][:2].upper())} back in."
        else:
            campaign_countries_update(
                campaign=campaign,
                actor=request.user,
                sender=post.get("sender", "")[:64],
                dlt_template_id=post.get("dlt_template_id", "")[:64],
                iys_recipient_type=post.get("iys_recipient_type", "")[:8],
                kr_title=post.get("kr_title", "")[:100],
            )
            done = "Sender and regional settings saved."
    except (ValidationError, CampaignError) as exc:
        problem = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        if post.get("exclude") or post.get("include"):
            messages.error(request, f"Not saved: {in_words(problem)}")
        else:
            # Beside the settings form, what was typed kept (issue 26 #14).
            context = preview_context(request, campaign) | {
                "countries_error": f"Not saved: {in_words(problem)}",
                "countries_form": {name: post.get(name, "") for name in REGIONAL_FIELDS},
            }
            return render(request, "ui/campaign_preview.html", context, status=400)
    except Refused as exc:
        messages.error(request, in_words(exc))
    else:
        messages.success(request, done)
    return redirect(reverse("ui:campaign_preview", args=[pk]) + "#countries-h")
