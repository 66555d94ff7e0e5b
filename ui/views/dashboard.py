"""Dashboard and audit trail."""

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campaigns.analytics import marketing_campaigns
from campaigns.states import CampaignState
from contacts.phrases import revocation_review_oldest_open
from core.health import health_check
from core.models import InfobipConnection
from ui.access import AuthenticatedRequest, page
from ui.models import AuditEntry
from ui.selectors import campaign_progress, dashboard_figures, period_totals, sent_per_day

LIVE = (CampaignState.RUNNING, CampaignState.SCHEDULED, CampaignState.PAUSED)


def _campaign_rows() -> tuple[list[dict[str, Any]], bool]:
    # Not the API's one-off sends, nor what the marketer archived.
    marketing = marketing_campaigns().filter(archived_at__isnull=True)
    campaigns = list(marketing.filter(state__in=LIVE).order_by("-created_at")[:20])
    campaigns += list(marketing.exclude(state__in=LIVE).order_by("-created_at")[:10])
    rows = [{"campaign": c, **campaign_progress(c)} for c in campaigns]
    return rows, any(row["live"] for row in rows)


def first_run_steps() -> list[dict[str, object]] | None:
    """The first-run checklist (import, sync templates, first campaign), None once all are
    done: three EXISTS queries, so it costs nothing on a working Herald."""
    from contacts.models import Contact
    from whatsapp.models import WhatsAppTemplate

    steps = [
        {
            "key": "import",
            "label": "Import your contacts",
            "url": "ui:contact_import",
            "done": Contact.objects.exists(),
            "hint": "A CSV with a phone column; names, language and any other columns come too.",
        },
        {
            "key": "templates",
            "label": "Sync your WhatsApp templates",
            "url": "ui:templates",
            "done": WhatsAppTemplate.objects.exists(),
            "hint": "Only for WhatsApp: Herald reads the templates Infobip approved.",
        },
        {
            "key": "campaign",
            "label": "Launch your first campaign",
            "url": "ui:wizard_audience",
            "done": marketing_campaigns().filter(launched_at__isnull=False).exists(),
            "hint": "Audience, message, options, a test to your own phone, then launch.",
        },
    ]
    return None if all(step["done"] for step in steps) else steps


@page()
def dashboard(request: AuthenticatedRequest) -> HttpResponse:
    rows, live = _campaign_rows()
    days = 30 if request.GET.get("days") == "30" else 7
    figures = dashboard_figures(days=days)
    sent = sent_per_day(days=days)
    chart = {
        "labels": figures["labels"],
        "datasets": [
            {"label": "Delivered", "data": sent["delivered"], "colors": "#1b7f3b"},
            {"label": "Not delivered", "data": sent["failed"], "colors": "#b42318"},
            {"label": "Opt-outs", "data": figures["opt_outs"], "colors": "#8e44ad"},
            {"label": "Replies", "data": figures["inbound"], "colors": "#5b8def"},
        ],
    }
    context = {
        "checklist": first_run_steps(),
        "rows": rows,
        "live": live,
        "chart": chart,
        "totals": period_totals(days=days),
        "infobip": InfobipConnection.objects.filter(pk=1).first(),
        "health": health_check(),
        "days": days,
        "opt_outs": sum(figures["opt_outs"]),
        "inbound": sum(figures["inbound"]),
        "running": sum(1 for row in rows if row["campaign"].state == CampaignState.RUNNING),
        "review": revocation_review_oldest_open(),
        "today": timezone.localdate(),
    }
    return render(request, "ui/dashboard.html", context)


@page()
def dashboard_campaigns(request: AuthenticatedRequest) -> HttpResponse:
    rows, live = _campaign_rows()
    return render(request, "ui/_dashboard_campaigns.html", {"rows": rows, "live": live})


@page("core.view_auditentry")
def audit(request: AuthenticatedRequest) -> HttpResponse:
    entries = AuditEntry.objects.select_related("actor", "campaign", "contact")[:200]
    return render(request, "ui/audit.html", {"entries": entries})
