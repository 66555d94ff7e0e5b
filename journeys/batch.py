"""One engine batch's context: the claimed entries, their definitions, contacts and campaigns.

Everything a step handler reads is loaded once per batch (one query per kind), never per
entry: the versions' parsed definitions (immutable, cached per process), the contacts' fields,
the send steps' campaigns, the journey's seed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from campaigns.models import Campaign
from contacts.models import Contact
from journeys.models import JourneyVersion, SendStep
from journeys.plan import Due, Plan
from journeys.spec import Definition, definition_parse


class ContactRow(NamedTuple):
    """The contact fields the steps read (rendering, rules, zones), one query per batch."""

    id: int
    phone: str
    first_name: str
    last_name: str
    language: str
    timezone: str
    country: str
    attributes: dict[str, Any]
    opted_out: bool
    whatsapp_last_inbound_at: dt.datetime | None


CONTACT_COLUMNS = ContactRow._fields

# Versions never change once activated: their parsed definitions are kept per process.
_DEFINITIONS: dict[int, Definition] = {}


def definition_of(version_id: int) -> Definition:
    """The parsed definition of a version (cached: a version is immutable)."""
    found = _DEFINITIONS.get(version_id)
    if found is None:
        raw = JourneyVersion.objects.values_list("definition", flat=True).get(pk=version_id)
        found = _DEFINITIONS[version_id] = definition_parse(raw)
    return found


@dataclass
class Batch:
    """A claimed batch of due entries of one journey, and what the handlers decide for it."""

    journey_id: int
    seed: str
    goal_event: str
    dues: list[Due]
    plan: Plan
    dry: bool = False  # a replay: update steps are recorded, not applied
    _contacts: dict[int, Any] | None = None
    _campaigns: dict[tuple[int, str], Campaign] = field(default_factory=dict)

    @property
    def now(self) -> dt.datetime:
        return self.plan.now

    def definition(self, version_id: int) -> Definition:
        return definition_of(version_id)

    def contacts(self) -> dict[int, Any]:
        """The batch's contacts (the fields rendering, rules and zones read), in one query."""
        if self._contacts is None:
            ids = sorted({due.contact_id for due in self.dues})
            rows = Contact.objects.filter(id__in=ids).values_list(*CONTACT_COLUMNS)
            self._contacts = {row[0]: ContactRow._make(row) for row in rows}
        return self._contacts

    def campaign(self, version_id: int, step_id: str) -> Campaign:
        """The hidden campaign of a version's send step."""
        key = (version_id, step_id)
        if key not in self._campaigns:
            for send in SendStep.objects.filter(version_id=version_id).select_related(
                "campaign", "campaign__template"
            ):
                self._campaigns[(version_id, send.step_id)] = send.campaign
        return self._campaigns[key]
