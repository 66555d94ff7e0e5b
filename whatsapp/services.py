"""WhatsApp template services: sync from Infobip, status pushes, the sendable check, preview."""

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from infobip.errors import InfobipError
from whatsapp.mapping import TemplateValues
from whatsapp.models import WhatsAppTemplate
from whatsapp.structure import PLACEHOLDER_RE, MalformedTemplate, ParsedTemplate, parse_template

logger = logging.getLogger(__name__)

_SENDER_RE = re.compile(r"^\d{7,24}$")
# Everything a sync may change on an existing row (not the key, not created_at).
_SYNCED_FIELDS = [
    "infobip_id",
    "status",
    "status_reason",
    "category",
    "quality",
    "structure",
    "body_text",
    "header_format",
    "placeholders",
    "placeholder_warning",
    "supported",
    "unsupported_reason",
    "removed_upstream_at",
    "raw",
]


class TemplateSyncError(Exception):
    """The template list of a whole sender could not be fetched (nothing was changed)."""


class InvalidSender(ValueError):
    """A WhatsApp sender that is not a number in international format."""


@dataclass
class SyncResult:
    """What one sync of one sender did; `errors` name the templates that could not be read."""

    sender: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    unsupported: int = 0
    errors: list[str] = field(default_factory=list)
    failure: str = ""

    def summary(self) -> str:
        return (
            f"created={self.created} updated={self.updated} unchanged={self.unchanged} "
            f"removed={self.removed} unsupported={self.unsupported}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalise_sender(sender: str) -> str:
    """The sender as Infobip's path wants it: digits only (a leading + and spaces dropped)."""
    cleaned = re.sub(r"[\s-]", "", sender or "").removeprefix("+")
    if not _SENDER_RE.match(cleaned):
        raise InvalidSender(
            f"invalid WhatsApp sender {sender!r}: use the number, e.g. 447860099299"
        )
    return cleaned


def templates_sync(*, sender: str | None = None) -> SyncResult:
    """Pull the sender's templates from Infobip into the database; missing ones are marked."""
    # Imported on use so that loading the app (admin, migrations) never depends on the client.
    from infobip.client import get_client

    sender = normalise_sender(sender or settings.INFOBIP_WHATSAPP_SENDER)
    try:
        raw_templates = list(get_client().list_whatsapp_templates(sender))
    except InfobipError as exc:
        raise TemplateSyncError(
            f"could not list the WhatsApp templates of sender {sender}: {exc}"
        ) from exc
    result = SyncResult(sender=sender)
    parsed = _parse_all(raw_templates, result)
    _store(sender, parsed, result)
    logger.info("whatsapp templates synced for sender %s: %s", sender, result.summary())
    return result


def templates_sync_all() -> list[SyncResult]:
    """Sync the default sender and every sender already known; one failing sender skips only it."""
    senders = {normalise_sender(settings.INFOBIP_WHATSAPP_SENDER)}
    senders |= set(WhatsAppTemplate.objects.values_list("sender", flat=True).distinct())
    results = []
    for sender in sorted(senders):
        try:
            results.append(templates_sync(sender=sender))
        except (TemplateSyncError, InvalidSender) as exc:
            logger.error("whatsapp template sync failed: %s", exc)
            results.append(SyncResult(sender=sender, failure=str(exc)))
    return results


# (name, language) → the parsed template and Infobip's JSON of it.
_Parsed = dict[tuple[str, str], tuple[ParsedTemplate, object]]


def _parse_all(raw_templates: Sequence[object], result: SyncResult) -> _Parsed:
    parsed: _Parsed = {}
    for position, raw in enumerate(raw_templates, start=1):
        try:
            item = parse_template(raw)
        except MalformedTemplate as exc:
            result.errors.append(f"template #{position}: {exc}")
            logger.warning("whatsapp template #%s skipped: %s", position, exc)
            continue
        except Exception as exc:  # one unreadable template must not stop the others
            name, language = _key_of(raw)
            if not name:
                result.errors.append(f"template #{position}: could not be read ({exc!r})")
                logger.exception("whatsapp template #%s could not be read", position)
                continue
            item = ParsedTemplate(
                name=name,
                language=language,
                supported=False,
                unsupported_reason=f"could not be read ({exc!r})",
            )
            result.errors.append(f"template '{name}' ({language}): could not be read ({exc!r})")
            logger.exception("whatsapp template %s (%s) could not be read", name, language)
        parsed[(item.name, item.language)] = (item, raw)
    return parsed


def _key_of(raw: object) -> tuple[str, str]:
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        language = raw.get("language")
        if isinstance(language, str) and language.strip():
            return raw["name"].strip(), language.strip()
    return "", ""


def _store(sender: str, parsed: _Parsed, result: SyncResult) -> None:
    now = timezone.now()
    with transaction.atomic():
        existing = {(t.name, t.language): t for t in WhatsAppTemplate.objects.filter(sender=sender)}
        to_create, changed, unchanged_ids = [], [], []
        for key, (item, raw) in parsed.items():
            values = {**item.as_fields(), "raw": raw, "removed_upstream_at": None}
            if not item.supported:
                result.unsupported += 1
                logger.warning(
                    "whatsapp template %s (%s) of %s is unsupported: %s",
                    item.name,
                    item.language,
                    sender,
                    item.unsupported_reason,
                )
            current = existing.get(key)
            if current is None:
                to_create.append(WhatsAppTemplate(sender=sender, last_synced_at=now, **values))
                continue
            # A push's reason (e.g. REJECTED: SCAM) holds as long as the status does.
            values["status_reason"] = current.status_reason if current.status == item.status else ""
            if all(getattr(current, f) == values[f] for f in _SYNCED_FIELDS):
                unchanged_ids.append(current.pk)
                continue
            for name in _SYNCED_FIELDS:
                setattr(current, name, values[name])
            current.last_synced_at = current.updated_at = now
            changed.append(current)
        # update_conflicts: a sync running at the same time must not fail on the unique key.
        WhatsAppTemplate.objects.bulk_create(
            to_create,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["sender", "name", "language"],
            update_fields=[*_SYNCED_FIELDS, "last_synced_at"],
        )
        WhatsAppTemplate.objects.bulk_update(
            changed, [*_SYNCED_FIELDS, "last_synced_at", "updated_at"], batch_size=500
        )
        WhatsAppTemplate.objects.filter(pk__in=unchanged_ids).update(last_synced_at=now)
        gone = [
            t.pk
            for key, t in existing.items()
            if key not in parsed and t.removed_upstream_at is None
        ]
        WhatsAppTemplate.objects.filter(pk__in=gone).update(removed_upstream_at=now, updated_at=now)
    result.created, result.updated = len(to_create), len(changed)
    result.unchanged, result.removed = len(unchanged_ids), len(gone)


def template_apply_status_update(
    *,
    sender: str | None,
    name: str,
    language: str,
    status: str,
    reason: str = "",
    infobip_id: str = "",
) -> int:
    """Record a status change pushed by Infobip; returns how many templates it updated.

    The push names no sender, so `sender=None` updates that template on every sender (matched
    by Infobip's template id when given, else by name and language).
    """
    templates = WhatsAppTemplate.objects.filter(name=name, language=language)
    if sender:
        templates = templates.filter(sender=normalise_sender(sender))
    if infobip_id:
        templates = templates.filter(infobip_id=str(infobip_id))
    reason = "" if (reason or "").upper() in {"", "NONE"} else reason.upper()
    return templates.update(status=status.upper(), status_reason=reason, updated_at=timezone.now())


def template_apply_update_event(*, event: dict[str, Any]) -> int:
    """Apply one TEMPLATE_UPDATE push (status, category or quality change) to stored templates."""
    change = event.get("change") or {}
    name, language = event.get("messageTemplateName"), event.get("messageTemplateLanguage")
    if not isinstance(name, str) or not isinstance(language, str):
        return 0
    infobip_id = str(event.get("messageTemplateId") or "")
    kind = change.get("type")
    if kind == "TEMPLATE_STATUS_UPDATE" and change.get("newStatus"):
        return template_apply_status_update(
            sender=None,
            name=name,
            language=language,
            status=change["newStatus"],
            reason=change.get("reason") or "",
            infobip_id=infobip_id,
        )
    updates = {}
    if kind == "TEMPLATE_CATEGORY_UPDATE" and change.get("newCategory"):
        updates["category"] = change["newCategory"]
    elif kind == "TEMPLATE_QUALITY_UPDATE" and change.get("newQualityScore"):
        updates["quality"] = change["newQualityScore"]
    if not updates:
        return 0
    templates = WhatsAppTemplate.objects.filter(name=name, language=language)
    if infobip_id:
        templates = templates.filter(infobip_id=infobip_id)
    return templates.update(**updates, updated_at=timezone.now())


def template_check_sendable(*, template: WhatsAppTemplate) -> str | None:
    """None when the template can be sent now, else why not (re-read from the database)."""
    if template.pk:
        try:
            template.refresh_from_db(
                fields=[
                    "status",
                    "status_reason",
                    "supported",
                    "unsupported_reason",
                    "removed_upstream_at",
                ]
            )
        except WhatsAppTemplate.DoesNotExist:
            return f"{template.label} no longer exists in Herald"
    return template.unsendable_reason


def template_render(*, template: WhatsAppTemplate, values: TemplateValues | None) -> str:
    """The message as the recipient reads it; without values the placeholders stay visible."""
    structure = template.structure or {}
    sections: list[str] = []
    header = structure.get("header") if isinstance(structure.get("header"), dict) else None
    if header:
        fmt = str(header.get("format") or "").upper()
        if fmt == "TEXT":
            sections.append(
                _fill(
                    str(header.get("text") or ""),
                    template.tokens("header"),
                    [values.header] if values and values.header else [],
                )
            )
        elif fmt:
            url = values.header if values and values.header else ""
            sections.append(f"[{fmt.lower()}{': ' + url if url else ''}]")
    sections.append(
        _fill(template.body_text, template.tokens("body"), values.body if values else [])
    )
    footer = structure.get("footer")
    if isinstance(footer, dict) and footer.get("text"):
        sections.append(str(footer["text"]))
    lines = _render_buttons(structure.get("buttons"), values)
    if lines:
        sections.append("\n".join(lines))
    return "\n\n".join(s for s in sections if s)


def _fill(text: str, tokens: list[str], values: list[str]) -> str:
    by_token = dict(zip(tokens, values, strict=False))
    return PLACEHOLDER_RE.sub(lambda m: by_token.get(m.group(1), m.group(0)), text)


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    """A replacement for re.sub that inserts `value` as is (a string's backslashes would not)."""
    return lambda _match: value


def _render_buttons(buttons: object, values: TemplateValues | None) -> list[str]:
    if not isinstance(buttons, list):
        return []
    parameters = {b.get("index"): b.get("parameter") for b in (values.buttons if values else [])}
    lines = []
    for index, button in enumerate(buttons):
        if not isinstance(button, dict):
            continue
        kind, text = str(button.get("type") or "").upper(), str(button.get("text") or "")
        parameter = parameters.get(index)
        if kind == "URL":
            url = str(button.get("url") or "")
            if parameter:
                url = PLACEHOLDER_RE.sub(_literal(str(parameter)), url)
            lines.append(f"[{text}] {url}")
        elif kind == "PHONE_NUMBER":
            lines.append(f"[{text}] tel:{button.get('phoneNumber') or ''}")
        elif kind == "COPY_CODE":
            lines.append(f"[{text or 'Copy code'}] {parameter or '(code)'}")
        else:
            lines.append(f"[{text or kind.replace('_', ' ').title()}]")
    return lines
