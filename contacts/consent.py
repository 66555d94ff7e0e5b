"""Consent capture: opt-in keywords per number, the terms they confirm, double opt-in with YES.

Someone texts JOIN (an `OptInKeyword`, per number or for any) to one of our numbers: they
become a contact if they were not one, are added to the keyword's list and opted (back) in on
its channel, and get the confirmation text (brand, frequency, "Msg & data rates may apply",
STOP/HELP). With double opt-in, JOIN only gets the prompt ("…Reply YES to confirm") and the
opt-in happens on YES within 48 hours. Every opt-in is a `ConsentEvent` that stores the source,
the wording the person was shown (the prompt for double opt-in, the confirmation otherwise)
with its version, and the time. Editing a keyword's texts bumps its version
(`opt_in_keyword_save`), so older events keep the exact wording they were given.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contacts import signals
from contacts.models import (
    ConsentAction,
    ConsentEvent,
    ConsentSource,
    Contact,
    ContactList,
    ListMembership,
    OptInKeyword,
    PendingOptIn,
)
from contacts.phrases import fold_text

YES_WORDS = frozenset({"yes", "y", "oui", "si", "sim", "ja", "evet", "confirm"})
DOUBLE_OPT_IN_WINDOW = dt.timedelta(hours=48)


def opt_in_keyword_save(*, keyword: OptInKeyword) -> OptInKeyword:
    """Save a keyword, folding the word and bumping the wording version when texts change."""
    keyword.keyword = fold_text(keyword.keyword).split(" ")[0] if keyword.keyword else ""
    keyword.number = "".join(ch for ch in keyword.number if ch.isdigit())
    if keyword.pk is not None:
        before = (
            OptInKeyword.objects.filter(pk=keyword.pk)
            .values("confirmation_text", "confirm_prompt", "wording_version")
            .first()
        )
        if before and (
            before["confirmation_text"] != keyword.confirmation_text
            or before["confirm_prompt"] != keyword.confirm_prompt
        ):
            keyword.wording_version = before["wording_version"] + 1
    keyword.save()
    return keyword


def _keyword_for(word: str, to_number: str) -> OptInKeyword | None:
    digits = "".join(ch for ch in to_number if ch.isdigit())
    candidates = OptInKeyword.objects.filter(keyword=word, active=True, number__in=[digits, ""])
    # A keyword set on this number wins over one for any number.
    return candidates.order_by("-number").first()


@transaction.atomic
def inbound_consent_capture(
    *, contact_id: int | None, phone: str, to_number: str, text: str
) -> tuple[str, str, int | None]:
    """(action, reply, contact_id) for an inbound text: "opt_in" when it completes an opt-in,
    the reply to send ('' for none), and the contact (created for a new joiner)."""
    words = fold_text(text).split(" ")
    word = words[0] if words else ""
    if not word:
        return "", "", contact_id
    if word in YES_WORDS and contact_id is not None:
        pending = (
            PendingOptIn.objects.select_related("keyword__contact_list")
            .filter(
                contact_id=contact_id,
                confirmed_at__isnull=True,
                created_at__gte=timezone.now() - DOUBLE_OPT_IN_WINDOW,
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if pending is not None:
            PendingOptIn.objects.filter(pk=pending.pk).update(confirmed_at=timezone.now())
            _opt_in(contact_id, pending.keyword, pending.wording, pending.wording_version, "YES")
            return "opt_in", pending.keyword.confirmation_text, contact_id
        return "", "", contact_id
    keyword = _keyword_for(word, to_number)
    if keyword is None:
        return "", "", contact_id
    if contact_id is None:
        if not phone:
            return "", "", None
        contact, _ = Contact.objects.get_or_create(phone=phone)
        contact_id = contact.pk
    if keyword.double_opt_in:
        PendingOptIn.objects.create(
            contact_id=contact_id,
            keyword=keyword,
            wording=keyword.confirm_prompt,
            wording_version=keyword.wording_version,
        )
        return "", keyword.confirm_prompt, contact_id
    _opt_in(contact_id, keyword, keyword.confirmation_text, keyword.wording_version, word.upper())
    return "opt_in", keyword.confirmation_text, contact_id


def _opt_in(contact_id: int, keyword: OptInKeyword, wording: str, version: int, how: str) -> None:
    """Join the list, clear an opt-out, and record the consent with the wording shown."""
    _, joined = ListMembership.objects.get_or_create(
        contact_id=contact_id, contact_list=keyword.contact_list
    )
    if joined:
        signals.list_joined.send(
            ContactList, list_id=keyword.contact_list_id, contact_ids=[contact_id]
        )
    Contact.objects.filter(pk=contact_id, opted_out=True).update(
        opted_out=False,
        opted_out_at=None,
        opted_out_source="",
        opted_out_channel="",
        updated_at=timezone.now(),
    )
    ConsentEvent.objects.create(
        contact_id=contact_id,
        action=ConsentAction.OPT_IN,
        source=ConsentSource.KEYWORD,
        channel=keyword.channel,
        note=f"{how} to {keyword.keyword.upper()} (list {keyword.contact_list.name!r})"[:500],
        wording=wording,
        wording_version=version,
    )
