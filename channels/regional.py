"""Countries' rules on messages, checked before launch, and the regional fields a message carries.

Some countries refuse a message unless it carries registration ids (India's DLT), a recipient
type (Turkey's IYS), or they cap a field (South Korea's title); Meta does not deliver WhatsApp
marketing templates to US numbers. A channel type lists the rules that apply to its messages
(`ChannelType.regional_rules`); `campaigns/compliance.py` asks them, per destination country,
what would be refused (the preview's `compliance`, the launch's refusal, the send-time skip),
and the sending path asks them for the fields to put in `options.regional` (Infobip's SMS v3
`RegionalOptions`, vendored in infobip/openapi/). docs/COUNTRIES.md has the sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings

from channels.base import Content, Regional
from channels.countries import country_name

IYS_RECIPIENT_TYPES = ("BIREYSEL", "TACIR")  # Infobip's IysRecipientType enum
# Registration ids (DLT entity, template, telemarketer): letters, digits, dashes, up to 64.
DLT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
KR_TITLE_MAX = 66  # SouthKoreaOptions.title maxLength


@dataclass(frozen=True)
class SenderRow:
    """A row of the sender table as the routing reads it (channels.models.Sender)."""

    id: int
    medium: str
    country: str
    sender: str
    dlt_entity_id: str = ""
    dlt_telemarketer_id: str = ""
    iys_brand_code: int | None = None
    kr_reseller_code: int | None = None


@dataclass(frozen=True)
class Route:
    """How one type's messages go to one country: the sender, and the table row it came from.

    `row` is the table's row whose sender this is (its regional ids apply), or None for the
    campaign's own sender or the type's default without a row; `swapped_from` is the
    campaign's own sender when the country refuses it and the country's row took its place.
    """

    country: str
    sender: str
    row: SenderRow | None = None
    swapped_from: str = ""


class RegionalRule:
    """One country's requirement on a type's messages."""

    countries: ClassVar[frozenset[str]]
    # The setting naming the contact attribute a per-recipient value is read from, if any.
    attribute_setting: ClassVar[str | None] = None
    # The sender table's fields this rule reads (channels.models.Sender): a medium whose types
    # have no rule reading a field refuses a value for it.
    sender_fields: ClassVar[tuple[str, ...]] = ()
    # The per-recipient values the attribute may hold (compared in upper case).
    values: ClassVar[tuple[str, ...]] = ()
    # Messages to its countries are refused without its fields (India's DLT, Turkey's IYS):
    # a path that cannot carry them (Infobip's native SMS failover) cannot go there.
    mandatory: ClassVar[bool] = False

    def applies(self, country: str, regional: Regional) -> bool:
        return country in self.countries

    def attribute(self) -> str | None:
        """The contact attribute holding each recipient's value, or None."""
        if self.attribute_setting is None:
            return None
        return str(getattr(settings, self.attribute_setting))

    def problems(self, *, route: Route, content: Content) -> list[str]:
        """Why every message on this route would be refused (sentences; [] when none)."""
        return []

    def recipient_value(self, raw: Any, regional: Regional) -> str:
        """A recipient's value from its attribute (or the campaign's default); '' when none."""
        return ""

    def recipient_problem(self, route: Route) -> str:
        """Why a recipient without a value cannot be sent to ('' when a value is not needed)."""
        return ""

    def options(self, *, route: Route, regional: Regional, value: str = "") -> dict[str, Any]:
        """This rule's part of Infobip's `options.regional` for a message on `route`."""
        return {}


class IndiaDlt(RegionalRule):
    """India: SMS carry the DLT principal entity (the sender's) and content template (the text's).

    Operators block commercial SMS without them (TRAI TCCCPR 2018; Infobip `indiaDlt`).
    """

    countries = frozenset({"IN"})
    sender_fields = ("dlt_entity_id", "dlt_telemarketer_id")
    mandatory = True

    def problems(self, *, route: Route, content: Content) -> list[str]:
        found = []
        if route.row is None or not route.row.dlt_entity_id:
            found.append(
                f"India requires the DLT principal entity registered for the sender "
                f"{route.sender or '(Infobip default)'!r}: add India's SMS sender with its DLT "
                "principal entity id"
            )
        if not content.regional.dlt_template_id:
            found.append(
                "India requires the DLT content template id registered for this text: set the "
                "campaign's DLT template id"
            )
        return found

    def options(self, *, route: Route, regional: Regional, value: str = "") -> dict[str, Any]:
        if route.row is None or not route.row.dlt_entity_id:
            return {}
        dlt = {"principalEntityId": route.row.dlt_entity_id}
        if regional.dlt_template_id:
            dlt["contentTemplateId"] = regional.dlt_template_id
        if route.row.dlt_telemarketer_id:
            dlt["telemarketerId"] = route.row.dlt_telemarketer_id
        return {"indiaDlt": dlt}


class TurkeyIys(RegionalRule):
    """Turkey: promotional SMS carry the IYS recipient type of each recipient (Infobip `turkeyIys`).

    From the contact attribute HERALD_IYS_ATTRIBUTE, else the campaign's default; transactional
    sends are outside IYS.
    """

    countries = frozenset({"TR"})
    attribute_setting = "HERALD_IYS_ATTRIBUTE"
    sender_fields = ("iys_brand_code",)
    values = IYS_RECIPIENT_TYPES
    mandatory = True

    def applies(self, country: str, regional: Regional) -> bool:
        return country in self.countries and regional.promotional

    def recipient_value(self, raw: Any, regional: Regional) -> str:
        value = str(raw or "").strip().upper()
        if value in IYS_RECIPIENT_TYPES:
            return value
        return regional.iys_recipient_type

    def recipient_problem(self, route: Route) -> str:
        return (
            f"Turkey requires each recipient's IYS type ({' or '.join(IYS_RECIPIENT_TYPES)}): "
            f"set the contact attribute {self.attribute()} or the campaign's default IYS "
            "recipient type"
        )

    def options(self, *, route: Route, regional: Regional, value: str = "") -> dict[str, Any]:
        if not value:
            return {}
        iys: dict[str, Any] = {"recipientType": value}
        if route.row is not None and route.row.iys_brand_code is not None:
            iys["brandCode"] = route.row.iys_brand_code
        return {"turkeyIys": iys}


class SouthKoreaTitle(RegionalRule):
    """South Korea: an SMS may carry a title (at most 66 characters) and a reseller code."""

    countries = frozenset({"KR"})
    sender_fields = ("kr_reseller_code",)

    def problems(self, *, route: Route, content: Content) -> list[str]:
        title = content.regional.kr_title
        if len(title) > KR_TITLE_MAX:
            return [f"the South Korean title is {len(title)} characters; at most {KR_TITLE_MAX}"]
        return []

    def options(self, *, route: Route, regional: Regional, value: str = "") -> dict[str, Any]:
        korea: dict[str, Any] = {}
        if regional.kr_title:
            korea["title"] = regional.kr_title[:KR_TITLE_MAX]
        if route.row is not None and route.row.kr_reseller_code is not None:
            korea["resellerCode"] = route.row.kr_reseller_code
        return {"southKorea": korea} if korea else {}


class MetaUsMarketingBlock(RegionalRule):
    """WhatsApp: Meta has not delivered marketing templates to US numbers since 1 April 2025.

    "US phone numbers (a +1 dialing code and a US area code)": Canadian and Caribbean +1
    numbers are not covered, so the rule goes by the number's region, not its prefix.
    """

    countries = frozenset({"US"})

    def problems(self, *, route: Route, content: Content) -> list[str]:
        template = content.template
        if template is None or str(getattr(template, "category", "")).upper() != "MARKETING":
            return []
        return [
            f"Meta does not deliver WhatsApp marketing templates to {country_name('US')} "
            f"numbers: use a utility template, send them SMS, or leave these recipients out"
        ]


def regional_options(
    rules: tuple[RegionalRule, ...], *, route: Route, regional: Regional, values: dict[int, str]
) -> dict[str, Any]:
    """Infobip's `options.regional` for one message (`values`: per-recipient rule values)."""
    merged: dict[str, Any] = {}
    for index, rule in enumerate(rules):
        if rule.applies(route.country, regional):
            merged.update(rule.options(route=route, regional=regional, value=values.get(index, "")))
    return merged
