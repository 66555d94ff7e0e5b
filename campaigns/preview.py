"""What a campaign would send, without sending: audience, exclusions, parts, encoding, cost."""

from collections import Counter
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from django.utils import timezone

from campaigns.audience import audience_contacts, audience_summary
from campaigns.budget import over_budget_count
from campaigns.caps import capped_contacts
from campaigns.compliance import CountryCompliance, campaign_compliance
from campaigns.consent_rules import without_channel_consent
from campaigns.models import Campaign
from campaigns.opt_out_law import Footers, opt_out_problems
from campaigns.pricing import estimate_cost
from campaigns.rendering import compile_template, contact_values
from campaigns.split import split_preview
from campaigns.steps import campaign_kind, campaign_steps, primary_content
from channels.countries import country_name

SAMPLES = 3


def campaign_preview(
    *, campaign: Campaign, samples: int = SAMPLES, forecast: bool = True
) -> dict[str, Any]:
    """Render the campaign for its whole audience (streamed) and sum what it would cost.

    With `forecast`, the document also says each option in words and what a launch now would
    do over time (campaigns.forecast); the launch checks, which need only the figures, skip it.
    """
    summary = audience_summary(campaign)
    items: list[tuple[str, str, int]] = []
    encodings: Counter[str] = Counter()
    parts: Counter[int] = Counter()
    missing: Counter[str | None] = Counter()  # by skip_reason
    ucs2: dict[str, None] = {}
    too_long: dict[str, int] = {}  # length problem of the rendered text → recipients
    rendered_samples: list[dict[str, Any]] = []
    first = None
    kind = campaign_kind(campaign)
    content = primary_content(campaign)
    channel = campaign.channel
    template = None if kind.uses_template else compile_template(campaign.text)
    footers = Footers(campaign)
    eligible = audience_contacts(campaign).filter(opted_out=False).order_by("id")
    now = timezone.now()
    # The capped are not counted in messages or cost, exactly as the freeze will skip them.
    held = capped_contacts(
        campaign=campaign, contact_ids=eligible.values_list("id", flat=True), now=now
    )
    no_consent = without_channel_consent(
        campaign=campaign, contact_ids=eligible.values_list("id", flat=True)
    )
    held = {k: v for k, v in held.items() if k not in no_consent}
    for contact in eligible.iterator(chunk_size=5000):
        first = first or contact
        if contact.id in held or contact.id in no_consent:
            continue
        if template is not None:
            rendered = template.render(contact_values(contact))
            if rendered.missing:
                missing[rendered.skip_reason] += 1
                continue
            text = footers.apply(rendered.text, contact) if footers.active else rendered.text
            if problem := kind.cap_check(text):
                # Refused, never truncated: the text is reported with its exact length and parts.
                too_long[problem] = too_long.get(problem, 0) + 1
            count, encoding = kind.measure(text)
            if encoding:  # types whose texts are encoded and split (SMS)
                encodings[encoding] += 1
                parts[count] += 1
                ucs2.update(dict.fromkeys(kind.costly_characters(text)))
            items.append((contact.phone, channel, count))
        else:
            text, _values, why = kind.render_template(content, contact)
            if why:
                missing[why] += 1
                continue
            items.append((contact.phone, channel, 1))
        if len(rendered_samples) < samples:
            rendered_samples.append({"phone": contact.phone, "text": text})
    cost = estimate_cost(items)
    sendable = kind.sendable_problem(content)
    compliance = campaign_compliance(campaign=campaign)
    document = {
        "id": campaign.pk,
        "name": campaign.name,
        "channel": campaign.channel,
        "audience": summary.total,
        "excluded": {
            "opted_out": summary.opted_out,
            "excluded_lists": summary.excluded_by_list,
            "excluded_countries": summary.excluded_by_country,
            "missing_values": sum(missing.values()),
            "frequency_capped": len(held),
            "no_channel_consent": len(no_consent),
            "over_budget": over_budget_count(max_spend=campaign.max_spend, items=items),
        },
        "max_spend": None if campaign.max_spend is None else f"{campaign.max_spend:.4f}",
        "missing_values": dict(missing),
        "messages": len(items),
        "encoding": dict(encodings),
        "parts": {str(k): v for k, v in sorted(parts.items())},
        "ucs2_characters": list(ucs2),
        "cost": {"amount": f"{cost.total:.4f}", "currency": cost.currency},
        "template_problem": sendable,
        "length_problems": _length_problems(campaign, too_long),
        "samples": rendered_samples,
        # A split test's sizes and every variant rendered for the first contact (None without).
        "split": split_preview(campaign=campaign, audience=summary.total, contact=first),
        # Countries whose rules the campaign does not meet (launch is refused until they are
        # fixed or excluded), and who sends to each destination country.
        "compliance": _compliance(campaign, compliance.countries),
        "senders": [u.to_dict() for u in compliance.senders],
        "exclude_countries": list(campaign.exclude_countries or []),
    }
    if forecast:
        from campaigns.describe import campaign_option_lines, forecast_lines
        from campaigns.forecast import campaign_forecast

        lines = campaign_option_lines(campaign, senders=compliance.senders)
        document["options"] = [asdict(line) for line in lines]
        launch = campaign_forecast(campaign=campaign, now=now)
        document["forecast"] = launch.as_dict() | {"text": forecast_lines(launch)}
    return document


def _compliance(campaign: Campaign, refused: list[CountryCompliance]) -> list[dict[str, Any]]:
    """Countries whose rules the campaign does not meet, each once: the regional rules' and
    the opt-out wording's problems together (the launch is refused while any is left)."""
    by_country = {c.country: c.to_dict() for c in refused}
    for entry in opt_out_problems(campaign=campaign):
        known = by_country.get(entry["country"])
        if known is None:
            by_country[entry["country"]] = {**entry, "country_name": country_name(entry["country"])}
        else:
            known["recipients"] = max(known["recipients"], entry["recipients"])
            known["problems"] += entry["problems"]
    return [by_country[code] for code in sorted(by_country)]


def _length_problems(campaign: Campaign, too_long: dict[str, int]) -> list[str]:
    """Texts over their channel's cap: each step's own text, and rendered ones."""
    problems = []
    for step in campaign_steps(campaign):
        if step.kind.uses_template or not step.content.text:
            continue
        if problem := step.kind.cap_check(step.content.text):
            problems.append(problem if step.position == 0 else f"failover {problem}")
    for problem, count in too_long.items():
        if problem not in problems:
            problems.append(f"{problem} for {count} recipient(s) once placeholders are filled")
    return problems


def budget_launch_problem(*, campaign: Campaign) -> str:
    """Why the campaign's estimate does not fit its budget cap ('' when it does or has none)."""
    if campaign.max_spend is None:
        return ""
    preview = campaign_preview(campaign=campaign, samples=0, forecast=False)
    estimate = Decimal(preview["cost"]["amount"])
    if estimate <= campaign.max_spend:
        return ""
    currency = preview["cost"]["currency"]
    return (
        f"the estimated cost {estimate:.4f} {currency} is over the budget cap "
        f"{campaign.max_spend:.4f} {currency} ({preview['excluded']['over_budget']} recipients "
        "past it); raise the cap or narrow the audience"
    )
