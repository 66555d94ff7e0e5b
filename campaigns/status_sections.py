"""What apps above campaigns/ add to a campaign's status document (`campaign status --json`).

A registry, as infobip.receivers is for pushes: the app that owns a figure (conversions, its
credits and lift) registers a function from its `AppConfig.ready()`, and campaigns/ — which
builds the document for the command, the API and the pages — calls them without importing
upward. Each function gets the campaign and the document so far and adds its keys.
"""

from collections.abc import Callable
from typing import Any

from campaigns.models import Campaign

Section = Callable[[Campaign, dict[str, Any]], None]
_SECTIONS: list[Section] = []


def status_section_register(section: Section) -> None:
    """Add a section to every status document (once per function)."""
    if section not in _SECTIONS:
        _SECTIONS.append(section)


def status_sections_apply(campaign: Campaign, status: dict[str, Any]) -> None:
    """Let every registered section add its keys to `status`."""
    for section in _SECTIONS:
        section(campaign, status)
