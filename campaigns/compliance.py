"""Countries' rules for a campaign: who sends to each destination country, what would be refused.

One `Router` per campaign (a preview, a launch, a send batch) answers for each step and
destination country: the route (the sender, from the campaign or the sender table,
channels/senders.py), what the country would refuse (the type's `sender_problem` and
`regional_rules`, channels/regional.py), and the regional fields a message carries.

- `campaign_compliance` counts the audience per country in one GROUP BY and lists the
  countries whose recipients would be refused, and why: the preview shows it on every surface
  and `campaign_launch` refuses while it is not empty (fix the campaign or the senders, or
  exclude the countries).
- At send time the same router skips, with the reason, rows that cannot go (a sender removed
  after launch, a journey step's recipient in a country it does not meet, a Turkish contact
  without an IYS type) and gives each row its sender and `options.regional`: one request per
  batch still, Infobip's SMS v3 takes a sender and options per message entry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Upper

from campaigns.audience import audience_contacts
from campaigns.models import Campaign, FailoverMode
from campaigns.steps import Step, campaign_kind, campaign_steps
from channels.countries import country_name, country_of
from channels.regional import RegionalRule, Route, regional_options
from channels.senders import SenderBook, sender_is_auto
from contacts.models import Contact


@dataclass
class CountryCompliance:
    """One destination country whose recipients would be refused, and why."""

    country: str
    recipients: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "country_name": country_name(self.country),
            "recipients": self.recipients,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class SenderUse:
    """Who a step's messages to one country come from (the preview's sender plan)."""

    channel: str
    country: str
    sender: str
    recipients: int
    swapped_from: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "country": self.country,
            "sender": self.sender,
            "recipients": self.recipients,
            "swapped_from": self.swapped_from,
        }


@dataclass
class Compliance:
    """A campaign's countries: the refused ones (`countries`) and who sends where (`senders`)."""

    countries: list[CountryCompliance]
    senders: list[SenderUse]

    @property
    def refused(self) -> int:
        return sum(c.recipients for c in self.countries)

    def summary(self) -> str:
        """One sentence per refused country, for a refusal message."""
        return "; ".join(
            f"{country_name(c.country)} ({c.recipients:,} recipient"
            f"{'' if c.recipients == 1 else 's'}): {' '.join(c.problems)}"
            for c in self.countries
        )


def step_own_sender(campaign: Campaign, step: Step) -> str:
    """The sender a step was given ('' for auto): its own, or the campaign's for its kind."""
    if step.sender and not sender_is_auto(step.sender):
        return step.sender
    if step.position == 0:
        return "" if sender_is_auto(campaign.sender) else campaign.sender
    if (
        campaign.sender
        and not sender_is_auto(campaign.sender)
        and step.kind.sender_kind == campaign_kind(campaign).sender_kind
    ):
        return campaign.sender
    return ""


class Router:
    """Routes, refusals and regional fields of one campaign's steps, per destination country."""

    def __init__(self, campaign: Campaign, steps: list[Step] | None = None) -> None:
        self.campaign = campaign
        self.steps = steps if steps is not None else campaign_steps(campaign)
        self._books: dict[str, SenderBook] = {}
        self._routes: dict[tuple[int, str], Route] = {}
        self._problems: dict[tuple[int, str], list[str]] = {}
        # Per batch the same few countries come back row after row: every answer is cached.
        self._recipient_rules: dict[tuple[int, str], list[tuple[int, RegionalRule]]] = {}
        self._options: dict[tuple[object, ...], dict[str, Any]] = {}

    def _book(self, medium: str) -> SenderBook:
        if medium not in self._books:
            self._books[medium] = SenderBook.load(medium)
        return self._books[medium]

    def route(self, step: Step, country: str) -> Route:
        """Who the step's messages to `country` come from."""
        key = (step.position, country)
        if key not in self._routes:
            self._routes[key] = self._book(step.medium).route(
                kind=step.kind,
                country=country,
                chosen=step_own_sender(self.campaign, step),
                default=step.kind.default_sender(),
            )
        return self._routes[key]

    def native(self, step: Step) -> bool:
        """Whether Infobip itself sends this step (native failover: no regional fields)."""
        return step.position > 0 and self.campaign.failover_mode == FailoverMode.INFOBIP

    def problems(self, step: Step, country: str) -> list[str]:
        """Why every message of the step to `country` would be refused ([] when none)."""
        key = (step.position, country)
        if key in self._problems:
            return self._problems[key]
        route = self.route(step, country)
        found = []
        if why := step.kind.sender_problem(country=country, sender=route.sender):
            found.append(
                f"{why}: add {country_name(country)}'s {step.kind.medium_label} sender, or leave "
                "these recipients out"
            )
        for rule in self.rules(step, country):
            if self.native(step) and rule.mandatory:
                found.append(
                    f"Infobip's native SMS failover cannot carry {country_name(country)}'s "
                    "regional fields: use Herald's failover for this campaign"
                )
                continue
            found += rule.problems(route=route, content=step.content)
        if step.position > 0:
            found = [f"{step.kind.label} fallback: {p}" for p in found]
        self._problems[key] = found
        return found

    def rules(self, step: Step, country: str) -> list[RegionalRule]:
        regional = step.content.regional
        return [r for r in step.kind.regional_rules if r.applies(country, regional)]

    def recipient_rules(self, step: Step, country: str) -> list[tuple[int, RegionalRule]]:
        """(index, rule) of the rules that read a per-recipient value for `country`."""
        key = (step.position, country)
        if key not in self._recipient_rules:
            regional = step.content.regional
            self._recipient_rules[key] = [
                (index, rule)
                for index, rule in enumerate(step.kind.regional_rules)
                if rule.attribute() and rule.applies(country, regional)
            ]
        return self._recipient_rules[key]

    def options(self, step: Step, country: str, values: dict[int, str]) -> dict[str, Any]:
        """Infobip's per-message options for the step's message to `country` (shared: read-only)."""
        key = (step.position, country, *sorted(values.items()))
        if key not in self._options:
            regional = (
                {}
                if self.native(step)
                else regional_options(
                    step.kind.regional_rules,
                    route=self.route(step, country),
                    regional=step.content.regional,
                    values=values,
                )
            )
            self._options[key] = {"regional": regional} if regional else {}
        return self._options[key]


def row_country(country: str, phone: str) -> str:
    """A ledger row's destination country: the contact's, else read from the number."""
    return country or country_of(phone)


def recipient_values(
    router: Router, step: Step, rows: list[tuple[int | None, str]]
) -> dict[int | None, dict[int, str]]:
    """Per contact id: the per-recipient rule values (index → value), one query per rule.

    `rows` are (contact id, country). A value missing from the attribute falls back to the
    campaign's default; a contact left without one has no entry for that rule.
    """
    regional = step.content.regional
    wanted: dict[int, tuple[RegionalRule, set[int]]] = {}
    for contact_id, country in rows:
        for index, rule in router.recipient_rules(step, country):
            ids = wanted.setdefault(index, (rule, set()))[1]
            if contact_id is not None:
                ids.add(contact_id)
    raw: dict[int, dict[int, Any]] = {}
    for index, (rule, ids) in wanted.items():
        if ids:
            attribute = KT(f"attributes__{rule.attribute()}")
            raw[index] = dict(Contact.objects.filter(id__in=ids).values_list("id", attribute))
    found: dict[int | None, dict[int, str]] = {}
    for contact_id, country in rows:
        for index, rule in router.recipient_rules(step, country):
            own = raw.get(index, {}).get(contact_id) if contact_id is not None else None
            value = rule.recipient_value(own, regional)
            if value:
                found.setdefault(contact_id, {})[index] = value
    return found


def campaign_compliance(*, campaign: Campaign) -> Compliance:
    """Per destination country of the audience: who sends, and what would be refused (and why)."""
    router = Router(campaign)
    eligible = audience_contacts(campaign).filter(opted_out=False)
    counts = Counter(
        {
            row["country"]: row["n"]
            for row in eligible.order_by().values("country").annotate(n=Count("id"))
        }
    )
    refused: dict[str, CountryCompliance] = {}
    senders: list[SenderUse] = []

    def refuse(country: str, recipients: int, problems: list[str]) -> None:
        entry = refused.setdefault(country, CountryCompliance(country, 0))
        entry.recipients = max(entry.recipients, recipients)
        entry.problems += [p for p in problems if p not in entry.problems]

    for step in router.steps:
        for country, recipients in sorted(counts.items()):
            route = router.route(step, country)
            senders.append(
                SenderUse(step.kind.name, country, route.sender, recipients, route.swapped_from)
            )
            if problems := router.problems(step, country):
                refuse(country, recipients, problems)
                continue
            for missing, problem in _recipient_problems(router, step, country, eligible):
                refuse(country, missing, [problem])
    return Compliance(sorted(refused.values(), key=lambda c: c.country), senders)


def _recipient_problems(
    router: Router, step: Step, country: str, eligible: QuerySet[Contact]
) -> list[tuple[int, str]]:
    """Rules needing a per-recipient value: (how many have none, why), one COUNT per rule."""
    found = []
    regional = step.content.regional
    for _, rule in router.recipient_rules(step, country):
        if rule.recipient_value(None, regional):
            continue  # the campaign's default covers everyone without a value of their own
        value = Upper(KT(f"attributes__{rule.attribute()}"))
        missing = (
            eligible.filter(country=country)
            .annotate(_value=value)
            .filter(~Q(_value__in=rule.values) | Q(_value__isnull=True))
            .count()
        )
        if missing:
            label = f"{step.kind.label} fallback: " if step.position > 0 else ""
            why = rule.recipient_problem(router.route(step, country))
            found.append((missing, f"{label}{missing:,} of them have none. {why}"))
    return found
