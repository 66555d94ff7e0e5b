"""Opt-out without a reply: a short personal link to a page that opts out after one click.

`{{opt_out_url}}` renders `PUBLIC_BASE_URL/o/<token>`: the contact's id in base 62 and a
60-bit HMAC of it under SECRET_KEY (so a link cannot be guessed or edited into someone else's),
about 35 characters in all, which the preview counts like any text. The page shows a form on
GET and changes consent only on POST: link scanners and previews that fetch the URL do not
opt anyone out. This is how recipients of an alphanumeric sender, who cannot reply, can leave.
"""

import base64
import hmac

from django.conf import settings
from django.db import transaction
from django.utils.crypto import salted_hmac

from contacts.models import (
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    ConsentSource,
    Contact,
    ContactList,
)
from contacts.services import contact_list_remove, contact_opt_out

_SALT = "herald.contacts.opt_out_link"
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_MAC_CHARS = 10  # 60 bits of url-safe base 64


def _base62(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 62)
        out = _DIGITS[r] + out
        if not n:
            return out


def _mac(contact_id: int) -> str:
    digest = salted_hmac(_SALT, str(contact_id), algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).decode()[:_MAC_CHARS]


def opt_out_token(contact_id: int) -> str:
    """The contact's opt-out token: base-62 id, '-', HMAC."""
    return f"{_base62(contact_id)}-{_mac(contact_id)}"


def opt_out_url(contact_id: int) -> str:
    """The contact's personal opt-out link."""
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/o/{opt_out_token(contact_id)}"


def opt_out_contact(token: str) -> Contact | None:
    """The contact a token belongs to, None for a wrong, edited or unknown token."""
    head, _, mac = token.partition("-")
    if not head or len(head) > 12 or any(c not in _DIGITS for c in head):
        return None
    contact_id = 0
    for c in head:
        contact_id = contact_id * 62 + _DIGITS.index(c)
    if not hmac.compare_digest(mac.encode(), _mac(contact_id).encode()):
        return None
    return Contact.objects.filter(pk=contact_id).first()


@transaction.atomic
def contact_opt_out_by_link(*, contact: Contact, list_id: int | None = None) -> str:
    """Apply the opt-out page's choice: every message, or one list; returns what was done."""
    if list_id is None:
        contact_opt_out(
            contact=contact,
            source=ConsentSource.LINK,
            channel=ConsentChannel.ALL,
            note="opt-out link: confirmed on the page",
        )
        return "all"
    contact_list = ContactList.objects.filter(pk=list_id, memberships__contact=contact).first()
    if contact_list is None:
        return ""
    contact_list_remove(contact_list=contact_list, contact_ids=[contact.pk])
    ConsentEvent.objects.create(
        contact=contact,
        action=ConsentAction.LEFT_LIST,
        source=ConsentSource.LINK,
        note=f"left list {contact_list.name!r} on the opt-out page"[:500],
    )
    return contact_list.name
