"""`POST /api/v1/messages`: transactional sends on any registered channel type, onto the ledger.

SMS to many (`sender`, `to[]`, `text`), WhatsApp text (`from`, `to`, `text`), WhatsApp
template (`from`, `to`, `template`, `language`, `placeholders` checked against the synced
template), Viber and RCS (`sender`, `to`, `text`, optional `image` and `buttons`). `sender`
and `from` are the same field under two names; `to` is one number or a list of up to 1,000.
Each call is written by `campaigns.transactional` as a launched campaign of its own; the
answer carries one Herald messageId per recipient, assigned before anything is sent.
"""

from typing import Any

from django.contrib.auth.models import User

from api.errors import ApiError, flatten
from api.models import ApiToken, TransactionalSend
from api.serializers import MessageSendSerializer
from campaigns.permissions import SEND
from campaigns.transactional import TransactionalError, messages_send_transactional
from channels.base import Button, ChannelType, Content, Regional
from channels.registry import channel_type
from channels.senders import sender_is_auto
from contacts.phones import PhoneChecker, PhoneError
from core.rules import actor_require
from core.services import audit_record
from whatsapp.mapping import TemplateValues

MAX_RECIPIENTS = 1000


def parse_number(raw: Any, checker: PhoneChecker) -> str:
    """E.164 from `+41…`, `0041…` or Infobip's own `41…` (international digits, no plus)."""
    if not isinstance(raw, str) or not raw.strip():
        raise PhoneError("MISSING_PHONE: a phone number is required")
    return checker.check(international(raw)).e164


def international(raw: str) -> str:
    """`+…` for Infobip's international digits (`41…`) and `00…`; anything else unchanged."""
    text = raw.strip()
    compact = text.replace(" ", "").replace("-", "")
    if compact.startswith("00") and compact[2:].isdigit():
        return "+" + compact[2:]
    if compact.isdigit() and not compact.startswith("0"):
        return "+" + compact
    return text


def _recipients(to: Any, *, all_or_nothing: bool) -> tuple[list[str], list[dict]]:
    """The E.164 numbers to send to, and the refused ones (`rejected` with the reason).

    Like Infobip's per-destination statuses, a bad number in a list refuses that number only,
    unless the caller asks for all or nothing; with nothing left to send the call is a 400.
    """
    many = isinstance(to, list)
    items = to if many else [to]
    if not items:
        raise ApiError("to: at least one number", fields={"to": ["at least one number"]})
    if len(items) > MAX_RECIPIENTS:
        raise ApiError(
            f"to: at most {MAX_RECIPIENTS} numbers per call",
            fields={"to": [f"at most {MAX_RECIPIENTS}"]},
        )
    checker = PhoneChecker()
    phones: list[str] = []
    errors: dict[str, list[str]] = {}
    rejected: list[dict] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        path = f"to.{index}" if many else "to"
        try:
            phone = parse_number(raw, checker)
        except PhoneError as exc:
            reason = str(exc)
        else:
            if phone not in seen:
                seen[phone] = index
                phones.append(phone)
                continue
            reason = f"DUPLICATE: the same number as to.{seen[phone]}"
        errors[path] = [reason]
        rejected.append(
            {
                "index": index,
                "to": str(raw)[:64],
                "messageId": None,
                "state": "rejected",
                "reason": reason,
            }
        )
    if errors and (all_or_nothing or not phones):
        first = next(iter(errors.items()))
        raise ApiError(f"{first[0]}: {first[1][0]}", fields=errors)
    return phones, rejected


def _template_mapping(placeholders: dict) -> dict:
    def literal(value: str) -> dict:
        return {"source": "literal", "value": value}

    mapping: dict[str, Any] = {"body": [literal(v) for v in placeholders.get("body") or []]}
    if placeholders.get("header") is not None:
        mapping["header"] = [literal(placeholders["header"])]
    mapping["buttons"] = [
        {"index": b["index"], "slots": [literal(b["parameter"])]}
        for b in placeholders.get("buttons") or []
    ]
    return mapping


def _template(kind: ChannelType, sender: str, data: dict) -> tuple[Any, Any]:
    """The synced template a send names and its values, checked against the template."""
    name, language = data.get("template"), data.get("language")
    if not name or not language:
        raise ApiError(
            "template and language are required",
            fields={k: ["required"] for k in ("template", "language") if not data.get(k)},
        )
    template = kind.template_lookup(sender=sender, name=name, language=language)
    if template is None:
        raise ApiError(
            f"template: no synced template {name!r} ({language}) for {sender}",
            fields={"template": ["unknown template"]},
        )
    mapping = _template_mapping(data.get("placeholders") or {})
    content = Content(template=template, mapping=mapping)
    if problems := kind.template_problems(content):
        raise ApiError(f"placeholders: {problems[0]}", fields={"placeholders": problems})
    _text, values, missing = kind.render_template(content, None)
    if missing:
        raise ApiError(f"placeholders: {missing}", fields={"placeholders": [missing]})
    return template, TemplateValues.from_dict(values or {})


def message_send_request(*, body: Any, user: User, token: ApiToken | None) -> tuple[int, dict]:
    """Validate a send request, write its ledger and start sending; → (202, answer)."""
    # Sending real messages needs the same permission as launching a campaign, on every surface.
    actor_require(user, SEND, doing="send messages")
    serializer = MessageSendSerializer(data=body if isinstance(body, dict) else {})
    if not isinstance(body, dict):
        raise ApiError("the body must be a JSON object")
    if not serializer.is_valid():
        fields = flatten(serializer.errors)
        first = next(iter(fields.items()))
        raise ApiError(f"{first[0]}: {first[1][0]}", fields=fields)
    data = serializer.validated_data
    channel = data["channel"]
    kind = channel_type(channel)
    phones, rejected = _recipients(data["to"], all_or_nothing=data["all_or_nothing"])
    template = values = None
    text = data.get("text", "")
    given = data.get("sender") or data.get("from")
    field = "sender" if data.get("sender") else "from"
    # No sender, or `auto`: each recipient's country's sender (channels/senders.py).
    auto = sender_is_auto(given)
    try:
        sender = "" if auto else kind.normalise_sender(given)
    except ValueError as exc:
        raise ApiError(f"{field}: {exc}", fields={field: [str(exc)]}) from None
    buttons = [Button.from_dict(b) for b in data.get("buttons") or []]
    if kind.uses_template:
        # Templates are synced per sender: an automatic sender looks them up on the default.
        template, values = _template(kind, sender or kind.default_sender(), data)
    elif not text and not data.get("image"):
        raise ApiError(f"text: required for {kind.label}", fields={"text": ["required"]})
    elif problems := kind.content_field_problems(
        Content(text=text, media_url=data.get("image", ""), buttons=tuple(buttons))
    ):
        first = next(iter(problems.items()))
        raise ApiError(f"{first[0]}: {first[1][0]}", fields=problems)
    try:
        campaign, rows = messages_send_transactional(
            channel=channel,
            sender=sender,
            phones=phones,
            text=text,
            template=template,
            values=values,
            media_url=data.get("image", ""),
            buttons=buttons,
            respect_opt_out=data["respect_opt_out"],
            regional=Regional(
                dlt_template_id=data.get("dlt_template_id", ""),
                iys_recipient_type=data.get("iys_recipient_type", ""),
                kr_title=data.get("kr_title", ""),
                promotional=False,
            ),
            created_by=user,
            name=f"API {channel} by {user.get_username()}",
        )
    except TransactionalError as exc:
        raise ApiError(str(exc)) from None
    TransactionalSend.objects.create(campaign=campaign, token=token if token else None)
    # Issue 26 #6: ignoring opt-outs is the API's "transactional answer" confirmation, audited.
    override = "" if data["respect_opt_out"] else "; respect_opt_out=false (transactional)"
    refused_note = f", {len(rejected)} rejected" if rejected else ""
    detail = f"{len(rows)} recipient(s){refused_note}{override}"
    audit_record(actor=user, action="api_message_send", campaign=campaign, detail=detail)
    # In the caller's order: the ledger rows (in the order of `phones`) between the rejected.
    sent = iter(rows)
    refused = {entry["index"]: entry for entry in rejected}
    messages = []
    for index in range(len(rows) + len(rejected)):
        if index in refused:
            messages.append(refused[index])
            continue
        r = next(sent)
        entry = {"index": index, "to": r.phone, "messageId": r.message_id, "state": r.state}
        messages.append({**entry, "reason": r.reason} if r.reason else entry)
    return 202, {"campaign": campaign.pk, "messages": messages}
