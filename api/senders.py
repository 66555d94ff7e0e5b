"""`GET/POST /senders` and `GET/DELETE /senders/{id}`: the senders per destination country.

Thin over channels.senders: `POST` adds the sender of a channel for a country (or `*`), or
changes it when the channel and country have one (200 rather than 201); reading needs the
`read` scope and the view permission, writing the `senders:write` scope and the add, change
or delete permission the service checks.
"""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import ApiError
from api.models import Scope
from api.serializers import ErrorSerializer
from channels.models import Sender
from channels.registry import UnknownChannel
from channels.senders import medium_of, sender_document, sender_remove, sender_save

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 429)}
MAX_LISTED = 1000


class SenderSerializer(serializers.Serializer):
    """A sender per country, as `manage.py sender list --json` shows it."""

    id = serializers.IntegerField(read_only=True)
    channel = serializers.CharField(
        max_length=32, help_text="sms, whatsapp, viber, rcs (a channel type names its medium)"
    )
    country = serializers.CharField(max_length=3, help_text="ISO code such as US, or *")
    country_name = serializers.CharField(read_only=True)
    sender = serializers.CharField(max_length=64, help_text="A number or an alphanumeric name")
    dlt_entity_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="India: DLT principal entity"
    )
    dlt_telemarketer_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="India: telemarketer id"
    )
    iys_brand_code = serializers.IntegerField(
        required=False, allow_null=True, help_text="Turkey: IYS brand code"
    )
    kr_reseller_code = serializers.IntegerField(
        required=False, allow_null=True, help_text="South Korea: 9-digit reseller code"
    )
    updated_at = serializers.CharField(read_only=True)


def _fields(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}


class SendersView(APIView):
    """`GET /senders` (optionally `?channel=sms`), `POST /senders` to add or change one."""

    read_permission = "channels.view_sender"
    required_scopes = {"write": Scope.SENDERS_WRITE}

    @extend_schema(
        parameters=[OpenApiParameter("channel", str, description="only this channel's")],
        responses={200: SenderSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        rows = Sender.objects.all()
        if channel := request.query_params.get("channel"):
            try:
                rows = rows.filter(medium=medium_of(channel))
            except UnknownChannel as exc:
                raise ApiError(str(exc), fields={"channel": [str(exc)]}) from None
        return Response([sender_document(row) for row in rows[:MAX_LISTED]])

    @extend_schema(
        request=SenderSerializer,
        responses={200: SenderSerializer, 201: SenderSerializer, **ERRORS},  # changed, added
    )
    def post(self, request: Request) -> Response:
        body = SenderSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        try:
            row, created = sender_save(actor=request.user, **body.validated_data)
        except ValidationError as exc:
            fields = _fields(exc)
            raise ApiError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()), fields=fields
            ) from None
        return Response(sender_document(row), status=201 if created else 200)


class SenderDetailView(APIView):
    """`GET /senders/{id}`, `DELETE /senders/{id}` (its country then uses `*` or the default)."""

    read_permission = "channels.view_sender"
    required_scopes = {"write": Scope.SENDERS_WRITE}

    @extend_schema(responses={200: SenderSerializer, 404: ErrorSerializer, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(sender_document(get_object_or_404(Sender, pk=pk)))

    @extend_schema(responses={204: None, 404: ErrorSerializer, **ERRORS})
    def delete(self, request: Request, pk: int) -> Response:
        sender_remove(sender=get_object_or_404(Sender, pk=pk), actor=request.user)
        return Response(status=204)
