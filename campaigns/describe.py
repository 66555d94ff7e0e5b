"""A campaign's options and its launch forecast in plain sentences (issue 26 #2, #4, #5).

The preview, the launch confirmation, the campaign page, `campaign preview` and the API's
preview all say the same words, from here: each option as the marketer would say it (quiet
hours as the hours nothing is sent, a speed as messages a minute), never as a field name.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from campaigns.caps import caps_configured, ledger_channel
from campaigns.compliance import SenderUse
from campaigns.forecast import Forecast
from campaigns.models import Campaign, FailoverMode, SpeedUnit
from campaigns.quiet import COUNTRY_DEFAULTS, US_STATE_DEFAULTS
from campaigns.steps import campaign_kind, campaign_steps, step_sender
from campaigns.throttle import sender_rate
from channels.base import PROVIDER, ChannelType
from channels.countries import country_name

LINK_RE = re.compile(r"https?://|www\.", re.IGNORECASE)


@dataclass(frozen=True)
class OptionLine:
    key: str  # stable, for scripts and tests: "quiet_hours", "sender"…
    label: str
    text: str


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def has_link(text: str) -> bool:
    """Whether a message text holds a web link (what click tracking shortens)."""
    return bool(LINK_RE.search(text or ""))


def duration_words(minutes: int) -> str:
    """90 → "1 hour 30 minutes", 2880 → "2 days"."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (mins, "minute")]
    words = [f"{n:,} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n]
    return " ".join(words) or "0 minutes"


def quiet_hours_words(campaign: Campaign) -> str:
    """Quiet hours as people say them: the hours nothing is sent (issue 26 #4)."""
    start, end = campaign.quiet_hours_start, campaign.quiet_hours_end
    if start is not None and end is not None:
        return (
            f"Nothing is sent between {end:%H:%M} and {start:%H:%M} in each recipient's local "
            f"time; messages that fall inside wait until {start:%H:%M}."
        )
    if not settings.HERALD_COUNTRY_QUIET_HOURS:
        return "None: messages go at any hour."
    return f"The countries' rules: {country_rules_words()}"


def country_rules_words() -> str:
    """What the country defaults do (campaigns.quiet), for a campaign without its own hours."""
    if not settings.HERALD_COUNTRY_QUIET_HOURS:
        return "messages go at any hour."
    us = COUNTRY_DEFAULTS["US"]
    states = ", ".join(sorted(US_STATE_DEFAULTS))
    others = sorted(set(COUNTRY_DEFAULTS) - {"US"})
    also = f" {', '.join(others)} numbers follow their own country's rule;" if others else ""
    return (
        f"US numbers get nothing between {us.end:%H:%M} and {us.start:%H:%M} local time "
        f"({us.source}; stricter in {states});{also} other numbers at any hour."
    )


def _sender_words(campaign: Campaign, senders: Sequence[SenderUse] = ()) -> str:
    steps = campaign_steps(campaign)
    first = steps[0]
    if plan := _per_country(first.kind.name, senders):
        line = f"{first.kind.medium_label} per country: {plan}."
    else:
        where = "" if campaign.sender else " (the default sender)"
        line = f"{first.kind.medium_label} from “{step_sender(campaign, first)}”{where}."
    for step in steps[1:]:
        if plan := _per_country(step.kind.name, senders):
            line += f" The {step.kind.label} fallback comes, per country, from {plan}."
        else:
            line += f" The {step.kind.label} fallback comes from “{step_sender(campaign, step)}”."
    return line


def _per_country(channel: str, senders: Sequence[SenderUse]) -> str:
    """ "United Kingdom “Shop”, United States “+15550001”" when a step's countries get different
    senders (senders per country, or one a country does not deliver swapped); '' otherwise."""
    uses = [u for u in senders if u.channel == channel]
    if len({u.sender for u in uses}) < 2 and not any(u.swapped_from for u in uses):
        return ""
    said = []
    for use in sorted(uses, key=lambda u: (-u.recipients, u.country)):
        where = country_name(use.country) if use.country else "no country"
        said.append(f"{where} “{use.sender or 'Infobip’s default'}”")
    return ", ".join(said)


def _links_words(campaign: Campaign) -> str:
    text = campaign.text + " " + campaign.failover_text
    if campaign.track_links:
        domain = settings.INFOBIP_SHORT_DOMAIN
        on = f" on your own domain {domain}" if domain else ""
        return f"Links are shortened{on} and each click is counted."
    if not campaign_kind(campaign).uses_template and not has_link(text):
        return "No links in the text: nothing to track."
    return "Links are sent as written; clicks are not counted."


def _message(kind: ChannelType) -> str:
    """ "SMS", else "WhatsApp message": how people name one message of a medium."""
    return kind.medium_label if kind.medium_label == "SMS" else f"{kind.medium_label} message"


def _validity_words(campaign: Campaign) -> str:
    steps = campaign_steps(campaign)
    kind, minutes = steps[0].kind, steps[0].validity_minutes
    if kind.validity == PROVIDER:
        if minutes is None:
            line = (
                f"Infobip keeps trying to deliver each {_message(kind)} for up to 48 hours (its "
                "maximum)."
            )
        else:
            line = (
                f"Infobip keeps trying to deliver each {_message(kind)} for "
                f"{duration_words(minutes)}; a message whose quiet-hours wait is longer than that "
                "is not sent."
            )
    elif minutes is None:
        line = f"A {_message(kind)} waits for its report as long as Infobip reports."
    else:
        line = (
            f"A {_message(kind)} with no final report after {duration_words(minutes)} "
            "is counted as expired" + (" and gets its fallback." if len(steps) > 1 else ".")
        )
    for step in steps[1:]:
        if step.validity_minutes:
            line += (
                f" The {step.kind.label} fallback is tried for "
                f"{duration_words(step.validity_minutes)}."
            )
    return line


def _speed_words(campaign: Campaign) -> str:
    from campaigns.sending import default_sender

    rate = sender_rate(default_sender(campaign))
    shared = f" (the sender allows {rate * 60:,.0f} a minute across campaigns)" if rate else ""
    if not campaign.speed_limit:
        return f"As fast as Infobip accepts them{shared}."
    unit = "second" if campaign.speed_unit == SpeedUnit.SECOND else "minute"
    return f"At most {campaign.speed_limit:,} messages a {unit}{shared}."


def _caps_words(campaign: Campaign) -> str:
    medium = ledger_channel(campaign)
    caps = [cap for cap in caps_configured() if cap.applies_to(medium)]
    if not caps:
        return "No frequency cap is set for this workspace."
    rules = "; ".join(
        f"{cap.messages:,}{'' if cap.mediums is None else ' ' + cap.medium.upper()} "
        f"message{_s(cap.messages)} in {cap.days:,} day{_s(cap.days)}"
        for cap in caps
    )
    if campaign.frequency_cap_override:
        return f"Lifted for this campaign: people who reached the cap ({rules}) get it anyway."
    return f"People who already had {rules} are not sent this one."


def footer_words(campaign: Campaign) -> str:
    """The opt-out footer option in words (issue 26 #8)."""
    from campaigns.opt_out_law import Footers, opt_out_countries, says_how_to_opt_out

    countries = sorted(opt_out_countries())
    if not countries:
        # The setting's name is for the operator (campaigns/checks.py warns them), not here.
        return "No opt-out wording is added: this workspace applies no country's opt-out rule."
    where = (
        ", ".join(countries[:-1]) + f" and {countries[-1]}" if len(countries) > 1 else countries[0]
    )
    if says_how_to_opt_out(campaign.text):
        return "The text says how to opt out: nothing is added."
    if not campaign.opt_out_footer:
        return (
            f"Off: recipients in {where} would get no opt-out wording, which the law there asks "
            "of every marketing SMS, so the launch is refused while any are in the audience."
        )
    how = (
        "“Reply STOP to opt out”"
        if Footers(campaign).reply
        else "their personal opt-out link (nobody can reply to a sender name)"
    )
    return f"Recipients in {where} get {how} added, in their language, as the law there asks."


def campaign_option_lines(
    campaign: Campaign, *, senders: Sequence[SenderUse] = ()
) -> list[OptionLine]:
    """Every option of the campaign, in words, in the wizard's order; with the preview's sender
    plan (`senders`), the sender line names each country's sender when they differ."""
    if campaign.send_at and campaign.send_at > timezone.now():
        when = f"At {timezone.localtime(campaign.send_at):%Y-%m-%d %H:%M %Z}."
    else:
        when = "As soon as it is launched."
    lines = [
        OptionLine("when", "When", when),
        OptionLine("quiet_hours", "Quiet hours", quiet_hours_words(campaign)),
        OptionLine("sender", "Sender", _sender_words(campaign, senders)),
        OptionLine("links", "Links", _links_words(campaign)),
        OptionLine("validity", "Validity", _validity_words(campaign)),
        OptionLine("speed", "Speed", _speed_words(campaign)),
        OptionLine("frequency_cap", "Frequency cap", _caps_words(campaign)),
        OptionLine("budget", "Budget cap", _budget_text(campaign)),
    ]
    kind = campaign_kind(campaign)
    if kind.ledger == "sms":
        lines.insert(4, OptionLine("opt_out", "Opt-out wording", footer_words(campaign)))
    steps = campaign_steps(campaign)
    if len(steps) > 1:
        chain = " then ".join(step.kind.label for step in steps[1:])
        how = campaign.get_failover_mode_display()
        lines.append(OptionLine("failover", "Fallback", f"{chain}: {how}."))
    elif campaign.failover_mode == FailoverMode.NONE and kind.ledger != "sms":
        text = f"None: people {kind.medium_label} cannot reach get nothing."
        lines.append(OptionLine("failover", "Fallback", text))
    return lines


def _budget_text(campaign: Campaign) -> str:
    from campaigns.pricing import price_table

    if campaign.max_spend is None:
        return "No budget cap."
    currency = campaign.cost_currency or price_table().currency
    return (
        f"Sending stops once {campaign.max_spend:,.2f} {currency} is spent; the launch is "
        "refused when the estimate is higher."
    )


def forecast_lines(forecast: Forecast) -> list[str]:
    """The launch forecast in plain sentences, soonest first."""
    lines = []
    scheduled = forecast.at > timezone.now()
    lines.append(f"{forecast.send_now:,} go {'at the scheduled time' if scheduled else 'at once'}.")
    for w in forecast.waiting:
        span = f"{w.first_at:%H:%M}"
        if w.last_at != w.first_at:
            span += f"–{w.last_at:%H:%M}"
        day = "" if w.first_at.date() == forecast.at.date() else f" on {w.first_at:%Y-%m-%d}"
        people = (
            f"{w.recipients:,} {w.where} recipient{'s wait' if w.recipients != 1 else ' waits'}"
        )
        lines.append(f"{people} for {w.local_time} local, {span} UTC{day}.")
    if forecast.held_frequency_cap:
        lines.append(f"{forecast.held_frequency_cap:,} are held by a frequency cap (not sent).")
    if forecast.held_no_consent:
        lines.append(f"{forecast.held_no_consent:,} have no opt-in for the channel (not sent).")
    if forecast.expire:
        lines.append(
            f"{forecast.expire:,} would expire before their window opens (validity "
            f"{duration_words(forecast.expire_validity_minutes or 0)}): they are not sent."
        )
    if forecast.never:
        lines.append(
            f"{forecast.never:,} have quiet hours that never hold in all their number's time "
            "zones at once: they are not sent (set their time zone)."
        )
    if (budget := forecast.budget) and budget["held"]:
        lines.append(
            f"The budget cap ({budget['cap']} {budget['currency']}) is below the estimate "
            f"({budget['estimate']} {budget['currency']}): {budget['held']:,} recipients are past "
            "it, and the launch is refused until the cap is raised or the audience narrowed."
        )
    if forecast.finish_at is not None:
        speed = ""
        if forecast.rate_per_second:
            per_minute = forecast.rate_per_second * 60
            speed = f" at {per_minute:,.0f} message{'s' if per_minute != 1 else ''} a minute"
        lines.append(
            f"The last message should be handed over by {forecast.finish_at:%Y-%m-%d %H:%M} UTC"
            f"{speed}."
        )
    elif forecast.rate_per_second and forecast.send_now + forecast.waiting_total:
        lines.append("At this speed the campaign would not finish within two weeks.")
    return lines
