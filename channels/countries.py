"""What a destination country requires of a sender: facts with their sources (docs/COUNTRIES.md).

Operators replace or drop an alphanumeric sender (a name such as "Shop") in some countries: the
message then arrives from a number nobody recognises, or not at all. Herald knows those
countries from the table below, each with the page it was read from; a deployment that learns
of another adds it with HERALD_NUMERIC_SENDER_COUNTRIES (ISO codes) without a code change.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from django.conf import settings

from channels.country_names import NAMES

# Countries where an alphanumeric SMS sender is not supported (numeric senders only), and the
# page that says so (read 2026-12; operators change their rules, so the setting can add more).
NUMERIC_SENDER_ONLY: dict[str, str] = {
    "US": "https://www.twilio.com/en-us/guidelines/us/sms",  # Alphanumeric: Not Supported
    "CA": "https://www.twilio.com/en-us/guidelines/ca/sms",  # Alphanumeric: Not Supported
    "KR": "https://www.twilio.com/en-us/guidelines/kr/sms",  # "Only numeric senderId"
    "MX": "https://www.openmarket.com/docs/Content/globalcoverage/country/mexico.htm",
    # "Alphanumeric not supported"; also help.clicksend.com/article/rh9t2pjdja-mexico
    "AR": "https://help.pushtech.com/hc/en-us/articles/15407493751954",  # replaced by a short code
}


def numeric_sender_only(country: str) -> bool:
    """Whether `country` (ISO code) takes numeric SMS senders only (table + setting)."""
    extra = getattr(settings, "HERALD_NUMERIC_SENDER_COUNTRIES", ()) or ()
    return country in NUMERIC_SENDER_ONLY or country in {str(c).upper() for c in extra}


def is_alphanumeric(sender: str) -> bool:
    """A sender with any letter in it (a name), as opposed to a number or short code."""
    return any(ch.isalpha() for ch in sender or "")


@lru_cache(maxsize=4096)
def country_of(phone: str) -> str:
    """The ISO region of an international number ('' when it has none, or is no number)."""
    try:
        number = phonenumbers.parse(phone if phone.startswith("+") else f"+{phone}")
    except phonenumbers.NumberParseException:
        return ""
    region = phonenumbers.region_code_for_number(number) or ""
    return "" if region == "001" else region  # 001: non-geographic (satellite, global services)


@lru_cache(maxsize=512)
def country_name(country: str) -> str:
    """How people call a country ("India"); the code itself when unknown, "any country" for *."""
    if country == "*":
        return "any country"
    if not country:
        return "no country"
    return NAMES.get(country) or country


def country_valid(country: str) -> bool:
    """An ISO 3166-1 alpha-2 code phonenumbers knows (the countries a number can be from)."""
    return country in phonenumbers.SUPPORTED_REGIONS
