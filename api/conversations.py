"""A contact's conversation replies (issue 26 #12): the inbox's reply service on the API.

`POST /conversations/{contactId}/replies` sends a free-form reply on a reply medium (SMS,
WhatsApp inside its 24-hour window, Viber, RCS) through the ledger, with the inbox's rules: the
opt-out rule (`"transactional": true` is the audited confirmation), the session window, the
destination country's rules. `Idempotency-Key` makes a retry return the first reply. `GET`
lists the contact's replies with each one's delivery state from its ledger row. Writes need the
scope `messages:send` and the permission `ui.reply_inbound`; reads `infobip.view_inboundmessage`.
"""

import hashlib
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import request_token, request_user
from api.errors import ApiError
from api.models import Scope
from api.serializers import ErrorSerializer
from api.services import IdempotencyConflict, IdempotencyKeyInvalid, idempotent
from campaigns.models import Message
from contacts.models import Contact
from inbox.conversations import ReplyError, conversation_reply
from inbox.models import ConversationReply

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 422, 429)}
LISTED = 50


class ReplyRequestSerializer(serializers.Serializer[Any]):
    channel = serializers.CharField(
        max_length=16, help_text="the medium: sms, whatsapp, viber or rcs (those with replies)"
    )
    text = serializers.CharField(max_length=5000, trim_whitespace=False)
    transactional = serializers.BooleanField(
        default=False,
        help_text="to an opted-out contact: confirms an answer to something they asked "
        "(an order, an appointment); audited. Without it such a reply is refused",
    )


class ReplySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    contact = serializers.IntegerField(source="contact_id")
    channel = serializers.CharField()
    text = serializers.CharField()
    sender = serializers.CharField()
    messageId = serializers.CharField(source="message_id")
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True)
    state = serializers.CharField(
        help_text="the ledger's: queued, sending, accepted, delivered, failed, rejected, "
        "undeliverable, expired, skipped"
    )
    status = serializers.CharField(help_text="Infobip's status name (DELIVERED_TO_HANDSET…)")
    error = serializers.CharField(help_text="Infobip's error name, if any")
    reason = serializers.CharField(help_text="why it failed or was skipped, in words")
    sentAt = serializers.DateTimeField(source="sent_at")
    sentBy = serializers.CharField(allow_null=True)


class RepliesSerializer(serializers.Serializer[Any]):
    replies = ReplySerializer(many=True)


def _answers(replies: list[ConversationReply]) -> list[dict[str, Any]]:
    """The replies with their ledger rows' state (one query)."""
    rows: dict[str, dict[str, Any]] = {
        str(row["message_id"]): dict(row)
        for row in Message.objects.filter(
            campaign_id__in=[r.campaign_id for r in replies if r.campaign_id]
        ).values("message_id", "state", "status_name", "error_name", "reason")
    }
    answers: list[dict[str, Any]] = []
    for reply in replies:
        row: dict[str, Any] = rows.get(reply.message_id, {})
        answers.append(
            dict(
                ReplySerializer(
                    {
                        "id": reply.pk,
                        "contact_id": reply.contact_id,
                        "channel": reply.channel,
                        "text": reply.text,
                        "sender": reply.sender,
                        "message_id": reply.message_id,
                        "campaign_id": reply.campaign_id,
                        "state": row.get("state", ""),
                        "status": row.get("status_name") or reply.status_name,
                        "error": row.get("error_name", ""),
                        "reason": row.get("reason", ""),
                        "sent_at": reply.sent_at,
                        "sentBy": reply.sent_by.get_username() if reply.sent_by else None,
                    }
                ).data
            )
        )
    return answers


def _service_key(token_id: int | None, key: str) -> str:
    """The reply service's key for an Idempotency-Key (hashed: any length fits)."""
    if not key:
        return ""
    return f"api:{token_id or 'session'}:{hashlib.sha256(key.encode()).hexdigest()}"


class ConversationRepliesView(APIView):
    """`GET /conversations/{id}/replies`: the contact's replies; `POST` sends one."""

    required_scopes = {"write": Scope.MESSAGES_SEND}
    read_permission = "infobip.view_inboundmessage"

    @extend_schema(
        responses={200: RepliesSerializer, **ERRORS}, operation_id="conversation_replies"
    )
    def get(self, request: Request, pk: int) -> Response:
        contact = get_object_or_404(Contact, pk=pk)
        replies = list(
            ConversationReply.objects.filter(contact=contact).select_related("sent_by")[:LISTED]
        )
        return Response({"replies": _answers(replies)})

    @extend_schema(
        request=ReplyRequestSerializer,
        responses={202: ReplySerializer, **ERRORS},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="At most 255 characters: the same key and body answer the first "
                "reply and send nothing again; the same key with another body is a 422",
            )
        ],
        operation_id="conversation_reply",
    )
    def post(self, request: Request, pk: int) -> Response:
        contact = get_object_or_404(Contact, pk=pk)
        body = ReplyRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, token = request_user(request), request_token(request)
        key = request.headers.get("Idempotency-Key") or ""

        def work() -> tuple[int, dict[str, Any]]:
            try:
                reply = conversation_reply(
                    contact=contact,
                    actor=user,
                    channel=body.validated_data["channel"],
                    text=body.validated_data["text"],
                    transactional=body.validated_data["transactional"],
                    # The service's own key too: a browser session (no token) is kept to one
                    # reply per key, and two tokens' keys never meet.
                    key=_service_key(token.pk if token else None, key),
                )
            except ReplyError as exc:
                raise ApiError(str(exc), fields={exc.field: [str(exc)]}) from None
            return 202, _answers([reply])[0]

        try:
            code, answer, replayed = idempotent(token=token, key=key, body=request.data, work=work)
        except IdempotencyConflict as exc:
            raise ApiError(str(exc), code="idempotency_conflict", status_code=422) from None
        except IdempotencyKeyInvalid as exc:
            raise ApiError(
                f"Idempotency-Key: {exc}", fields={"Idempotency-Key": [str(exc)]}
            ) from None
        response = Response(answer, status=code)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response
