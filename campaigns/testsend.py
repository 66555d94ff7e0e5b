"""Test sends: each person's saved test numbers, and what became of each test (issue 26 #7).

A test goes to a number the person chose — one of their saved test numbers, or one typed for
the occasion — never to a customer's by default. Numbers may be typed as people write them at
home: national format in the team's region (`HERALD_DEFAULT_REGION`, else the country most of
the contacts are in), E.164, Infobip's digits without `+`, or `00…`. Every test is recorded
with our own messageId, so its delivery report (pushed by Infobip like a campaign message's)
lands on the test's row and the preview page can show "delivered" rather than "sent".
"""

import uuid
from collections.abc import Sequence

import phonenumbers
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from phonenumbers import NumberParseException, PhoneNumberFormat

from campaigns.ledger import Outcome
from campaigns.models import CampaignTestSend, SavedTestNumber
from contacts.models import Contact
from contacts.phones import PhoneError, international_number

SAVED_MAX = 20  # test numbers per person: a short list to pick from, not an address book
LABEL_MAX = 60
# Reported states that end a test's story (the others: it is still on its way). Functions here
# are not called test_*: pytest would collect them from any test module that imports them.
FINAL = ("delivered", "undeliverable", "expired", "rejected", "failed")


def team_region() -> str:
    """The region national numbers are read in: the setting, else most contacts' country."""
    region = (getattr(settings, "HERALD_DEFAULT_REGION", "") or "").upper()
    if region:
        return region
    top = (
        Contact.objects.exclude(country="")
        .values("country")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("country", flat=True)
        .first()
    )
    return top or ""


def destination_parse(raw: str, *, region: str | None = None) -> str:
    """A test's destination in E.164; national format is read in the team's region.

    Raises ValidationError with what to type instead.
    """
    compact = "".join(c for c in raw.strip() if c.isdigit() or c == "+")
    if not compact:
        raise ValidationError(
            f"{raw.strip()[:40]!r} is not a phone number: give one such as +44 7700 900123"
        )
    region = team_region() if region is None else region
    national = compact.isdigit() and not compact.startswith("00")
    if national and region:
        try:
            number = phonenumbers.parse(compact, region)
        except NumberParseException:
            number = None
        # A number valid at home wins, and so does one with the home trunk prefix (0…) that is
        # merely possible: test ranges such as the UK's 07700 900xxx are not "valid". Otherwise
        # the digits may be Infobip's international form (41793026727).
        if number is not None and (
            phonenumbers.is_valid_number(number)
            or (compact.startswith("0") and phonenumbers.is_possible_number(number))
        ):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    try:
        return international_number(raw)
    except PhoneError as exc:
        where = f" or in {region} national format" if region else ""
        raise ValidationError(
            f"{raw.strip()[:40]!r} is not a phone number we can send to: give it in "
            f"international format (+44 7700 900123){where} ({exc})"
        ) from None


def saved_numbers_for(user: AbstractBaseUser) -> QuerySet[SavedTestNumber]:
    """A person's own saved test numbers, labelled first."""
    return SavedTestNumber.objects.filter(user_id=user.pk).order_by("label", "phone")


@transaction.atomic
def saved_number_add(*, user: AbstractBaseUser, raw: str, label: str = "") -> SavedTestNumber:
    """Save a test number for the person (the same number again only changes its label)."""
    if not getattr(user, "is_authenticated", False):
        raise ValidationError("test numbers belong to a logged-in person")
    phone = destination_parse(raw)
    label = label.strip()
    if len(label) > LABEL_MAX:
        raise ValidationError(f"a label is at most {LABEL_MAX} characters ({len(label)} given)")
    existing = SavedTestNumber.objects.select_for_update().filter(user_id=user.pk, phone=phone)
    if (saved := existing.first()) is not None:
        if label and label != saved.label:
            saved.label = label
            saved.save(update_fields=["label"])
        return saved
    if SavedTestNumber.objects.filter(user_id=user.pk).count() >= SAVED_MAX:
        raise ValidationError(f"you have {SAVED_MAX} test numbers already: remove one first")
    return SavedTestNumber.objects.create(user_id=user.pk, phone=phone, label=label)


def saved_number_remove(*, user: AbstractBaseUser, number_id: int) -> str:
    """Remove one of the person's own test numbers; returns it (ValidationError if not theirs)."""
    saved = SavedTestNumber.objects.filter(user_id=user.pk, pk=number_id).first()
    if saved is None:
        raise ValidationError("no such test number of yours")
    saved.delete()
    return saved.phone


def campaign_test_record(
    *,
    campaign_id: int,
    sent_by: AbstractBaseUser | None,
    to: str,
    channel: str,
    text: str,
    message_id: uuid.UUID,
    state: str,
    status_name: str = "",
    error_name: str = "",
) -> CampaignTestSend:
    """Keep one test message: the answer Infobip gave now, its report later."""
    return CampaignTestSend.objects.create(
        campaign_id=campaign_id,
        sent_by_id=sent_by.pk if sent_by is not None and sent_by.is_authenticated else None,
        to=to,
        channel=channel,
        text=text,
        message_id=message_id,
        state=state,
        status_name=status_name[:64],
        error_name=error_name[:64],
        done_at=timezone.now() if state in FINAL else None,
    )


def campaign_tests_apply_reports(*, outcomes: Sequence[Outcome]) -> set[str]:
    """Apply delivery reports to test sends; returns the messageIds that were tests.

    Called with the reports the ledger did not know (campaigns.outcomes), so a test's report
    is neither kept as pending nor retried. Forward-only like the ledger: a final state stays.
    """
    by_id = {o.message_id: o for o in outcomes}
    if not by_id:
        return set()
    tests = CampaignTestSend.objects.filter(message_id__in=list(by_id)).exclude(state__in=FINAL)
    applied = set()
    for test in tests:
        outcome = by_id[str(test.message_id)]
        test.state = outcome.state
        test.status_name = (outcome.status_name or "")[:64]
        test.error_name = (outcome.error_name or "")[:64]
        test.done_at = (outcome.at or timezone.now()) if outcome.state in FINAL else None
        test.save(update_fields=["state", "status_name", "error_name", "done_at"])
        applied.add(str(test.message_id))
    # Reports for tests already final are theirs too: known, nothing to do.
    applied |= {
        str(mid)
        for mid in CampaignTestSend.objects.filter(
            message_id__in=list(by_id), state__in=FINAL
        ).values_list("message_id", flat=True)
    }
    return applied
