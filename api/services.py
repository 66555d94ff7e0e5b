"""API services: contact upsert, transactional sends with idempotency, event subscriptions.

Thin over the owning apps' services; what is the API's own (idempotency, subscriptions) lives
here. Every write is audited with the token's owner (ui.AuditEntry, like the UI's writes).
"""

import hashlib
import json
import secrets
from base64 import b64encode
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from api.delivery import receiver_url_check
from api.models import ApiToken, EventSubscription, EventType, IdempotentRequest
from contacts.attributes import attributes_clean
from contacts.bulk import FIELDS, add_memberships, fetch_existing, upsert_contacts
from contacts.models import ConsentSource, ContactList
from contacts.phones import PhoneChecker, PhoneError, PhoneInfo
from contacts.services import attribute_types, list_name_problem
from core.services import audit_record

UPSERT_MAX = 10_000
NAME_MAX = 150


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used with a different request body."""


class IdempotencyKeyInvalid(ValueError):
    """An Idempotency-Key that cannot be stored as given (too long): refused, never cut."""


IDEMPOTENCY_KEY_MAX = 255


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


def _phone(raw: str, checker: PhoneChecker, seen: dict[str, PhoneInfo | str]) -> PhoneInfo:
    """The checked number of `raw`, each distinct text parsed once per call; ValueError if bad."""
    found = seen.get(raw)
    if found is None:
        try:
            # `+…` is what international() would return anyway (check() strips it).
            found = checker.check(raw if raw[:1] == "+" else _international(raw))
        except PhoneError as exc:
            found = f"phone: {exc}"
        seen[raw] = found
    if isinstance(found, str):
        raise ValueError(found)
    return found


def _international(raw: str) -> str:
    from api.messages import international

    return international(raw)


_TEXT_FIELDS = (
    ("first_name", NAME_MAX),
    ("last_name", NAME_MAX),
    ("language", 20),
    ("timezone", 64),
)


def _row(
    raw: Any, checker: PhoneChecker, seen: dict[str, PhoneInfo | str], types: dict[str, str]
) -> tuple[str, dict, dict, list[str], bool]:
    """(e164, fields, attributes, lists, opted_out) of one input row; ValueError with why."""
    # Runs 10,000 times a call: plain loops, no helper call or try per field.
    if not isinstance(raw, dict):
        raise ValueError("each contact must be an object")
    get = raw.get
    phone = get("phone")
    if not isinstance(phone, str) or not phone.strip():
        raise ValueError("phone: required")
    info = _phone(phone, checker, seen)
    values: dict[str, str] = {"country": info.country}
    if info.timezone:
        values["timezone"] = info.timezone
    for name, limit in _TEXT_FIELDS:
        value = get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"{name}: must be text")
        value = value.strip()
        if len(value) > limit:
            raise ValueError(f"{name}: longer than {limit} characters")
        values[name] = value
    attributes = get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(k, str) for k in attributes):
        raise ValueError("attributes: must be an object")
    if types:  # declared keys: their values checked and normalised (contacts/attributes.py)
        attributes = attributes_clean(attributes, types)
    lists = get("lists") or []
    if not isinstance(lists, list):
        raise ValueError("lists: must be a list of list names")
    names = []
    for item in lists:
        if not isinstance(item, str) or not (item := item.strip()):
            raise ValueError("lists: must be a list of list names")
        if problem := list_name_problem(item):
            raise ValueError(f"lists: {problem}")
        names.append(item)
    opted_out = get("opted_out", False)
    if not isinstance(opted_out, bool):
        raise ValueError("opted_out: must be true or false")
    return info.e164, values, attributes, names, opted_out


_BLANK = dict.fromkeys(FIELDS, "")


def contacts_upsert(
    *, rows: Sequence[Any], actor: User, default_region: str | None = None
) -> UpsertResult:
    """Create or update up to 10,000 contacts by E.164 number; bad rows are reported, not fatal."""
    from contacts.services import contacts_opt_out

    result = UpsertResult()
    checker = PhoneChecker(default_region)
    seen: dict[str, PhoneInfo | str] = {}
    entries: dict[str, tuple[dict, dict, list[str], bool]] = {}
    types = attribute_types()
    for index, raw in enumerate(rows):
        try:
            phone, values, attributes, lists, opted_out = _row(raw, checker, seen, types)
        except ValueError as exc:
            result.rejected.append({"index": index, "reason": str(exc)})
            continue
        old = entries.get(phone)
        if old is not None:  # the later row wins, merged over the earlier one
            values = {**old[0], **values}
            attributes = {**old[1], **attributes}
            lists = [*old[2], *lists]
            opted_out = opted_out or old[3]
        entries[phone] = (values, attributes, lists, opted_out)
    if not entries:
        return result
    with transaction.atomic():
        existing = fetch_existing(list(entries))
        writes = []
        for phone, (values, attributes, _, _) in entries.items():
            current = existing.get(phone)
            if current is None:
                result.created += 1
                writes.append({"phone": phone, **_BLANK, **values, "attributes": attributes})
                continue
            stored = current["attributes"]
            merged = {**(stored or {}), **attributes}
            # Changed if a given field differs from the stored one, or the merged attributes do.
            if merged != stored or any(current[name] != value for name, value in values.items()):
                result.updated += 1
                write = {name: current[name] for name in FIELDS}
                write.update(values, phone=phone, attributes=merged)
                writes.append(write)
            else:
                result.unchanged += 1
        ids = {phone: row["id"] for phone, row in existing.items()}
        ids.update(upsert_contacts(writes))
        by_list: dict[str, list[str]] = {}
        for phone, (_, _, lists, _) in entries.items():
            for name in lists:
                by_list.setdefault(name, []).append(phone)
        for name, phones in by_list.items():
            contact_list, _ = ContactList.objects.get_or_create(name=name)
            add_memberships(
                contact_list,
                new_ids=[ids[p] for p in phones if p not in existing],
                existing_ids=[ids[p] for p in phones if p in existing],
            )
        opt_outs = [ids[p] for p, entry in entries.items() if entry[3]]
        if opt_outs:
            contacts_opt_out(
                contact_ids=opt_outs, source=ConsentSource.API, note="API upsert", actor=actor
            )
        audit_record(
            actor=actor,
            action="api_contacts_upsert",
            detail=f"created={result.created} updated={result.updated} "
            f"rejected={len(result.rejected)}",
        )
    return result


def request_fingerprint(body: Any) -> str:
    """A stable hash of a JSON request body (key order does not matter)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(
    *, token: ApiToken | None, key: str | None, body: Any, work: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """Run `work` once per (token, Idempotency-Key); → (status, response, replayed).

    The key's row is inserted in the same transaction as the work's writes: a concurrent
    request with the same key waits on the unique index, then finds the stored answer.
    """
    if not key or token is None:
        status, response = work()
        return status, response, False
    if len(key) > IDEMPOTENCY_KEY_MAX:
        # Cutting it would make two keys that differ after character 255 one key.
        raise IdempotencyKeyInvalid(
            f"at most {IDEMPOTENCY_KEY_MAX} characters (this one has {len(key):,})"
        )
    fingerprint = request_fingerprint(body)
    try:
        with transaction.atomic():
            record = IdempotentRequest.objects.create(token=token, key=key, body_hash=fingerprint)
            status, response = work()
            if status >= 400:
                # Refusals are not remembered: the client may fix the request and reuse the key.
                transaction.set_rollback(True)
                return status, response, False
            record.status, record.response = status, response
            record.save(update_fields=["status", "response"])
            return status, response, False
    except IntegrityError:
        stored = IdempotentRequest.objects.filter(token=token, key=key).first()
        if stored is None:  # the conflict was in the work's own writes, not on the key
            raise
    if stored.body_hash != fingerprint:
        raise IdempotencyConflict(
            "this Idempotency-Key was used with a different request body; use a new key"
        )
    return stored.status, stored.response, True


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + b64encode(secrets.token_bytes(24)).decode()


def event_subscription_create(
    *,
    owner: User,
    url: str,
    events: list[str],
    filter_number: str = "",
    filter_keyword: str = "",
) -> EventSubscription:
    """Subscribe `url` to `events` (refusing unsafe receiver URLs); its secret is generated."""
    receiver_url_check(url)
    unknown = [e for e in events if e not in EventType.values]
    if unknown or not events:
        raise ValueError(
            f"unknown event(s) {unknown or '(none)'}; use {', '.join(EventType.values)}"
        )
    subscription = EventSubscription.objects.create(
        owner=owner if owner.is_authenticated else None,
        url=url,
        events=list(dict.fromkeys(events)),
        filter_number=filter_number.strip(),
        filter_keyword=filter_keyword.strip(),
        secret=new_secret(),
    )
    audit_record(actor=owner, action="event_subscription_create", detail=url[:200])
    return subscription


def event_subscription_update(
    *, subscription: EventSubscription, actor: User, **changes: Any
) -> EventSubscription:
    """Change a subscription (url, events, filters, enabled); re-enabling clears the notice."""
    if "url" in changes:
        receiver_url_check(changes["url"])
    if "events" in changes:
        unknown = [e for e in changes["events"] if e not in EventType.values]
        if unknown or not changes["events"]:
            raise ValueError(f"unknown event(s) {unknown or '(none)'}")
    for name, value in changes.items():
        setattr(subscription, name, value)
    if changes.get("enabled"):
        subscription.failing_since, subscription.disabled_reason = None, ""
    subscription.save()
    audit_record(actor=actor, action="event_subscription_update", detail=subscription.url[:200])
    return subscription
