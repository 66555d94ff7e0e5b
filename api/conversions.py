"""`/conversions`: orders in (one, or thousands in one call), and why each was credited so.

Thin over conversions.services: the API checks the body's shape, the scope and the user's
permission; the service checks each item, stores it once per order_id and attributes it.
"""

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.errors import ApiError
from api.models import Scope
from api.parsers import FastJSONParser
from api.policy import require_perm
from conversions.models import Conversion
from conversions.services import BATCH_MAX, conversion_explain, conversions_record

ERRORS = {code: s.ErrorSerializer for code in (400, 401, 403, 404, 429)}


class ConversionContactSerializer(serializers.Serializer[Any]):
    phone = serializers.CharField(required=False, help_text="E.164, Infobip's digits or 00…")
    id = serializers.IntegerField(required=False)


class ConversionInSerializer(serializers.Serializer[Any]):
    """One conversion as a shop posts it."""

    order_id = serializers.CharField(max_length=200, help_text="Unique: a repeat changes nothing")
    contact = ConversionContactSerializer(required=False)
    value = serializers.DecimalField(max_digits=14, decimal_places=4, required=False)
    currency = serializers.CharField(min_length=3, max_length=3, required=False)
    occurred_at = serializers.DateTimeField(required=False, help_text="Default: now")
    token = serializers.CharField(required=False, help_text="A tracked link's `hrd` value")
    coupon = serializers.CharField(required=False, help_text="A variant's coupon code")


class ConversionBatchInSerializer(serializers.Serializer[Any]):
    conversions = ConversionInSerializer(many=True)


class AttributedToSerializer(serializers.Serializer[Any]):
    message_id = serializers.CharField(allow_null=True)
    campaign = serializers.IntegerField(allow_null=True)
    journey = serializers.IntegerField(allow_null=True)
    variant = serializers.CharField(allow_null=True)
    touch = serializers.ChoiceField(choices=["token", "coupon", "click", "reply", "delivered"])
    touch_at = serializers.CharField(allow_null=True)
    rule = serializers.CharField()


class ConversionSerializer(serializers.Serializer[Any]):
    """A conversion and its credit (`attributed_to` null with the reason when there is none)."""

    order_id = serializers.CharField()
    contact = serializers.DictField(allow_null=True)
    value = serializers.CharField()
    currency = serializers.CharField()
    occurred_at = serializers.CharField()
    received_at = serializers.CharField()
    attributed_to = AttributedToSerializer(allow_null=True)
    reason = serializers.CharField()
    holdout = serializers.DictField(allow_null=True)
    rule = serializers.DictField(allow_null=True)
    forwarded_at = serializers.CharField(
        allow_null=True,
        help_text="When Infobip's conversion tracking took it (HERALD_INFOBIP_CONVERSIONS, SMS)",
    )
    forward_error = serializers.CharField(
        allow_blank=True, help_text="Why forwarding failed; `will retry: …` while it is retried"
    )


class ConversionRecordedSerializer(ConversionSerializer):
    created = serializers.BooleanField(help_text="False: this order_id was recorded before")


class ConversionBatchResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    results = ConversionRecordedSerializer(many=True)
    rejected = inline_serializer(
        "ConversionRejected",
        {
            "index": serializers.IntegerField(),
            "reason": serializers.CharField(),
            "field": serializers.CharField(),
        },
        many=True,
    )


class ConversionsView(APIView):
    """`POST /conversions`: one conversion, or `{"conversions": [...]}` (up to 5,000)."""

    required_scopes = {"write": Scope.CONVERSIONS_WRITE}
    parser_classes = [FastJSONParser]

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="ConversionOneOrBatch",
            serializers=[ConversionInSerializer, ConversionBatchInSerializer],
            resource_type_field_name=None,
        ),
        responses={
            201: ConversionRecordedSerializer,
            200: PolymorphicProxySerializer(
                component_name="ConversionRepeatedOrBatch",
                serializers=[ConversionRecordedSerializer, ConversionBatchResultSerializer],
                resource_type_field_name=None,
            ),
            **ERRORS,
        },
        operation_id="conversions_record",
        description=(
            "One conversion answers 201 with its credit (200 when the order_id was recorded "
            "before: nothing changes). A batch answers 200 with each item's result and the "
            "rejected items by index; the good ones are recorded either way."
        ),
    )
    def post(self, request: Request) -> Response:
        require_perm(request, "conversions.add_conversion")
        body = request.data
        if isinstance(body, dict) and "conversions" in body:
            items = body["conversions"]
            if not isinstance(items, list):
                raise ApiError(
                    "conversions: a list is required", fields={"conversions": ["a list"]}
                )
            if len(items) > BATCH_MAX:
                limit = f"at most {BATCH_MAX:,} items"
                raise ApiError(f"conversions: {limit} per call", fields={"conversions": [limit]})
            result = conversions_record(items=items, source=Conversion.Source.API)
            return Response(
                {
                    "created": result.created,
                    "duplicates": result.duplicates,
                    "results": result.results,
                    "rejected": result.rejected,
                }
            )
        result = conversions_record(items=[body], source=Conversion.Source.API)
        if result.rejected:
            problem = result.rejected[0]
            field = problem["field"] or "body"
            raise ApiError(problem["reason"], fields={field: [problem["reason"]]})
        answer = result.results[0]
        return Response(answer, status=201 if answer["created"] else 200)


class ConversionDetailView(APIView):
    """`GET /conversions/{order_id}`: the conversion and why it was credited (or not)."""

    read_permission = "conversions.view_conversion"

    @extend_schema(responses={200: ConversionSerializer, **ERRORS})
    def get(self, request: Request, order_id: str) -> Response:
        # A NUL cannot be stored (nor compared by PostgreSQL): no order has one.
        document = None if "\x00" in order_id else conversion_explain(order_id=order_id)
        if document is None:
            raise ApiError(
                f"no conversion with order_id {order_id[:200]!r}", code="not_found", status_code=404
            )
        return Response(document)
