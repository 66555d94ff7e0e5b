"""REST API for audiences: segments (rules, live count, sample, members), attribute types, and
CSV imports with a column mapping.

Thin over `campaigns.segments` and `contacts.services`, which check the rules, the permissions
and write the audit trail, as for the builder, the admin and the commands.
"""

import base64
import binascii
import io
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import request_user
from api.errors import ApiError
from api.models import Scope
from api.policy import require_perm
from api.serializers import CountSerializer, ErrorSerializer
from campaigns.models import Segment
from campaigns.segments import (
    SegmentError,
    segment_condition,
    segment_count,
    segment_delete,
    segment_preview,
    segment_rules_normalize,
    segment_rules_summary,
    segment_save,
)
from contacts.attributes import AttributeType
from contacts.csvfile import ImportFileError
from contacts.mapping import Column, mapping_apply_options, mapping_from_json, mapping_json
from contacts.models import AttributeDefinition, Contact
from contacts.services import (
    AttributeUsage,
    ImportPreview,
    attribute_define,
    attribute_undefine,
    attribute_usage,
    contacts_import,
    contacts_import_preview,
)

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 429)}


class SegmentSerializer(serializers.ModelSerializer[Any]):
    rules = serializers.JSONField(help_text='{"match": "all|any", "rules": [...]} (README)')
    in_words = serializers.SerializerMethodField()

    class Meta:
        model = Segment
        fields = ["id", "name", "description", "rules", "in_words", "created_at", "updated_at"]
        read_only_fields = ["id", "in_words", "created_at", "updated_at"]
        # Uniqueness is the service's to say (in the one error shape, with the name).
        extra_kwargs = {"name": {"validators": []}, "description": {"required": False}}

    def get_in_words(self, obj: Segment) -> str:
        return segment_rules_summary(obj.rules)


class RulesSerializer(serializers.Serializer[Any]):
    rules = serializers.JSONField()
    limit = serializers.IntegerField(required=False, min_value=0, max_value=100, default=10)


class SampleContactSerializer(serializers.ModelSerializer[Any]):
    class Meta:
        model = Contact
        fields = [
            "id",
            "phone",
            "first_name",
            "last_name",
            "country",
            "language",
            "attributes",
            "opted_out",
        ]


class PreviewSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    sample = SampleContactSerializer(many=True)


def _refused(exc: SegmentError) -> ApiError:
    return ApiError(str(exc), fields={exc.field: [p.strip() for p in str(exc).split(";")]})


def _save(request: Request, segment: Segment | None, data: dict[str, Any]) -> Segment:
    try:
        return segment_save(
            name=data.get("name", segment.name if segment else ""),
            rules=data.get("rules", segment.rules if segment else None),
            description=data.get("description", segment.description if segment else ""),
            segment=segment,
            actor=request_user(request),
        )
    except SegmentError as exc:
        raise _refused(exc) from None


class SegmentsView(generics.ListCreateAPIView[Any]):
    """`GET/POST /segments`: saved rules; a save checks them and pins attribute types."""

    serializer_class = SegmentSerializer
    queryset = Segment.objects.all()
    read_permission = "campaigns.view_segment"
    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}

    @extend_schema(request=SegmentSerializer, responses={201: SegmentSerializer, **ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = SegmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        segment = _save(request, None, serializer.validated_data)
        return Response(SegmentSerializer(segment).data, status=201)


class SegmentDetailView(APIView):
    """`GET/PATCH/DELETE /segments/{id}`."""

    read_permission = "campaigns.view_segment"
    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}

    @extend_schema(responses={200: SegmentSerializer, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(SegmentSerializer(get_object_or_404(Segment, pk=pk)).data)

    @extend_schema(request=SegmentSerializer, responses={200: SegmentSerializer, **ERRORS})
    def patch(self, request: Request, pk: int) -> Response:
        segment = get_object_or_404(Segment, pk=pk)
        serializer = SegmentSerializer(segment, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(SegmentSerializer(_save(request, segment, serializer.validated_data)).data)

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request: Request, pk: int) -> Response:
        segment = get_object_or_404(Segment, pk=pk)
        try:
            segment_delete(segment=segment, actor=request_user(request))
        except SegmentError as exc:
            raise ApiError(str(exc), code="conflict", status_code=409) from None
        return Response(status=204)


class SegmentCountView(APIView):
    """`GET /segments/{id}/count`: how many contacts the segment selects now."""

    read_permission = "campaigns.view_segment"

    @extend_schema(responses={200: CountSerializer, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        segment = get_object_or_404(Segment, pk=pk)
        try:
            return Response({"count": segment_count(segment=segment)})
        except SegmentError as exc:
            raise ApiError(str(exc), code="conflict", status_code=409) from None


class SegmentContactsView(generics.ListAPIView[Any]):
    """`GET /segments/{id}/contacts`: the segment's contacts now, by cursor."""

    serializer_class = SampleContactSerializer
    read_permission = "contacts.view_contact"

    def get_queryset(self) -> QuerySet[Contact]:
        segment = get_object_or_404(Segment, pk=self.kwargs["pk"])
        try:
            return Contact.objects.filter(segment_condition(rules=segment.rules))
        except SegmentError as exc:
            raise ApiError(str(exc), code="conflict", status_code=409) from None


class SegmentPreviewView(APIView):
    """`POST /segments/preview`: count and sample unsaved rules (a builder's live count)."""

    required_scopes = {"write": Scope.READ}  # it reads; POST only to carry the rules

    @extend_schema(request=RulesSerializer, responses={200: PreviewSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        require_perm(request, "campaigns.view_segment", "contacts.view_contact")
        serializer = RulesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            preview = segment_preview(
                rules=segment_rules_normalize(data["rules"]), limit=data["limit"]
            )
        except SegmentError as exc:
            raise _refused(exc) from None
        sample = SampleContactSerializer(preview.sample, many=True).data
        return Response({"count": preview.count, "sample": sample})


# --- attribute types ------------------------------------------------------------------------


class AttributeSerializer(serializers.ModelSerializer[Any]):
    key = serializers.CharField(max_length=64)  # an upsert: no uniqueness check here
    type = serializers.ChoiceField(choices=AttributeType.choices)
    with_value = serializers.SerializerMethodField()
    not_of_type = serializers.SerializerMethodField()

    class Meta:
        model = AttributeDefinition
        fields = ["key", "type", "label", "with_value", "not_of_type", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {"label": {"required": False, "default": ""}}

    def _usage(self, obj: AttributeDefinition) -> AttributeUsage:
        # One scan per key, shared by its two figures.
        cache: dict[str, AttributeUsage] = self.__dict__.setdefault("_usage_cache", {})
        if obj.key not in cache:
            cache[obj.key] = attribute_usage(key=obj.key, kind=obj.type)
        return cache[obj.key]

    def get_with_value(self, obj: AttributeDefinition) -> int:
        return self._usage(obj).with_value

    def get_not_of_type(self, obj: AttributeDefinition) -> int:
        return self._usage(obj).not_of_type


class AttributesView(generics.ListCreateAPIView[Any]):
    """`GET /attributes`: declared attribute types; `POST` declares (or re-declares) one."""

    serializer_class = AttributeSerializer
    queryset = AttributeDefinition.objects.all()
    read_permission = "contacts.view_attributedefinition"
    required_scopes = {"write": Scope.CONTACTS_WRITE}

    @extend_schema(request=AttributeSerializer, responses={200: AttributeSerializer, **ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = AttributeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            definition = attribute_define(
                key=data["key"], kind=data["type"], label=data["label"], actor=request_user(request)
            )
        except ValidationError as exc:
            raise ApiError("; ".join(exc.messages), fields=exc.message_dict) from None
        return Response(AttributeSerializer(definition).data)


class AttributeDetailView(APIView):
    """`DELETE /attributes/{key}`: forget a key's type (it is text again)."""

    required_scopes = {"write": Scope.CONTACTS_WRITE}

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request: Request, key: str) -> Response:
        if not attribute_undefine(key=key, actor=request_user(request)):
            raise ApiError(f"no declared attribute {key!r}", code="not_found", status_code=404)
        return Response(status=204)


# --- CSV import with a column mapping ---------------------------------------------------------

IMPORT_MAX_BYTES = 5 * 1024 * 1024  # larger files: the browser's import or the command


class ImportSerializer(serializers.Serializer[Any]):
    filename = serializers.CharField(max_length=255, required=False, default="api.csv")
    content = serializers.CharField(
        required=False, trim_whitespace=False, help_text="The CSV as text"
    )
    content_base64 = serializers.CharField(
        required=False, help_text="The file's bytes, base64 (UTF-8, UTF-16 or Windows-1252)"
    )
    columns = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="A target per column, as /contacts/import/preview answers (changed or not)",
    )
    map = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        default=list,
        help_text='As import_contacts --map: ["Mobile=phone", "Spend=number:last_order_value"]',
    )
    date_order = serializers.ChoiceField(["", "ymd", "dmy", "mdy"], required=False, default="")
    list = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    default_region = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default=""
    )
    dry_run = serializers.BooleanField(required=False, default=False)
    allow_sequential = serializers.BooleanField(required=False, default=False)


class ImportPreviewSerializer(serializers.Serializer[Any]):
    encoding = serializers.CharField()
    delimiter = serializers.CharField()
    header = serializers.ListField(child=serializers.CharField())
    sample = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    columns = serializers.ListField(child=serializers.DictField())


class ImportResultSerializer(serializers.Serializer[Any]):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    blank = serializers.IntegerField()
    warnings = serializers.IntegerField()
    opted_out = serializers.IntegerField()
    consented = serializers.IntegerField()
    listed = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    encoding = serializers.CharField()
    mapping = serializers.DictField()
    declared = serializers.ListField(child=serializers.CharField())
    rejected_sample = serializers.ListField(child=serializers.DictField())
    warnings_sample = serializers.ListField(child=serializers.DictField())


def _file(data: dict[str, Any]) -> io.BytesIO:
    """The uploaded file's bytes from `content` or `content_base64` (one of them, capped)."""
    if ("content" in data) == ("content_base64" in data):
        raise ApiError(
            "give the file as content (text) or content_base64 (bytes), one of them",
            fields={"content": ["required"]},
        )
    if "content" in data:
        raw = data["content"].encode("utf-8")
    else:
        try:
            raw = base64.b64decode(data["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                "content_base64 is not base64", fields={"content_base64": ["not base64"]}
            ) from None
    if len(raw) > IMPORT_MAX_BYTES:
        raise ApiError(
            f"at most {IMPORT_MAX_BYTES // 1024 // 1024} MB per call: import larger "
            "files in the browser or with import_contacts",
            status_code=413,
        )
    return io.BytesIO(raw)


def _columns(data: dict[str, Any], preview: ImportPreview) -> list[Column]:
    columns = preview.columns
    if data.get("columns") is not None:
        given = mapping_from_json({"columns": data["columns"]}, len(preview.header))
        if given is None:
            raise ApiError(
                f"columns: one object per column of the file ({len(preview.header)})",
                fields={"columns": ["one per column"]},
            )
        columns = given
    return mapping_apply_options(
        preview.header, columns, data["map"], date_order=data["date_order"]
    )


class ContactImportPreviewView(APIView):
    """`POST /contacts/import/preview`: how a file reads, its first rows, a suggested mapping."""

    required_scopes = {"write": Scope.CONTACTS_WRITE}

    @extend_schema(request=ImportSerializer, responses={200: ImportPreviewSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        require_perm(request, "contacts.add_contact")
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            preview = contacts_import_preview(
                source=_file(data), default_region=data["default_region"] or None
            )
            columns = _columns(data, preview)
        except (ImportFileError, ValueError) as exc:
            raise ApiError(str(exc)) from None
        return Response({**preview.as_dict(), **mapping_json(columns)})


class ContactImportView(APIView):
    """`POST /contacts/import`: a CSV file imported with a column mapping, as the browser and
    `import_contacts` do (consent honoured with evidence, typed attributes checked)."""

    required_scopes = {"write": Scope.CONTACTS_WRITE}

    @extend_schema(request=ImportSerializer, responses={200: ImportResultSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        source = _file(data)
        try:
            preview = contacts_import_preview(
                source=source, default_region=data["default_region"] or None
            )
            result = contacts_import(
                source=source,
                list_name=data["list"] or None,
                default_region=data["default_region"] or None,
                dry_run=data["dry_run"],
                allow_sequential=data["allow_sequential"],
                source_name=data["filename"],
                actor=request_user(request),
                columns=_columns(data, preview),
            )
        except (ImportFileError, ValueError) as exc:
            raise ApiError(str(exc)) from None
        answer = result.as_dict()
        answer.pop("errors_path", None)
        return Response(answer)
