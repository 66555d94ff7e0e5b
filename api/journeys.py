"""`/api/v1/journeys` and `/api/v1/events`: journeys' definitions and lifecycle, and events in.

Thin over journeys/services.py and journeys/events.py: the same rules as the builder, the
admin and `manage.py journey` (editing needs the journeys permissions, switching on or off the
send permission; the token's scope first). A definition the services refuse answers 400 with
every problem by its path (`fields["steps[2].timeout"]`).
"""

from collections.abc import Callable
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.auth import request_token, request_user
from api.errors import ApiError
from api.gcpause import cyclic_gc_paused
from api.models import Scope
from api.parsers import FastJSONParser
from api.services import IdempotencyConflict, idempotent
from contacts.models import Contact
from journeys.events import MAX_EVENTS, events_record
from journeys.inspect import entries_inspect
from journeys.models import Journey
from journeys.services import (
    JourneyError,
    journey_activate,
    journey_archive,
    journey_create,
    journey_entries_move,
    journey_pause,
    journey_resume,
    journey_status,
    journey_update,
)

ERRORS = {code: s.ErrorSerializer for code in (400, 401, 403, 404, 409, 429)}
_FIELD = "__all__"


def _refused(exc: JourneyError, status_code: int = 400) -> ApiError:
    fields: dict[str, list[str]] = {}
    for problem in exc.problems:
        path, sep, message = problem.partition(": ")
        key = path if sep and " " not in path else _FIELD
        fields.setdefault(key, []).append(message if key != _FIELD else problem)
    return ApiError(exc.problems[0], code="invalid", status_code=status_code, fields=fields)


JourneySummaries = inline_serializer(
    "JourneySummary",
    many=True,
    fields={
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "state": serializers.CharField(),
        "version": serializers.IntegerField(allow_null=True),
        "trigger": serializers.CharField(),
    },
)


class JourneysView(APIView):
    """`GET /journeys` (the list) and `POST /journeys` (a draft from a definition)."""

    required_scopes = {"write": Scope.JOURNEYS_WRITE}
    read_permission = "journeys.view_journey"

    @extend_schema(responses={200: JourneySummaries, **ERRORS})
    def get(self, request: Request) -> Response:
        rows = Journey.objects.select_related("version").order_by("-id")[:1000]
        return Response(
            [
                {
                    "id": j.pk,
                    "name": j.name,
                    "state": j.state,
                    "version": j.version.number if j.version else None,
                    "trigger": j.trigger_type,
                }
                for j in rows
            ]
        )

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT, **ERRORS},
        description="A journey definition (docs/INTERFACE.md, Journeys); answers its status.",
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ApiError("the body is a journey definition (a JSON object)")
        try:
            journey = journey_create(definition=request.data, actor=request_user(request))
        except JourneyError as exc:
            raise _refused(exc) from None
        return Response(journey_status(journey=journey), status=status.HTTP_201_CREATED)


class JourneyDetailView(APIView):
    """`GET /journeys/{id}` (definition, version, per-step counts); `PATCH` edits the draft."""

    required_scopes = {"write": Scope.JOURNEYS_WRITE}
    read_permission = "journeys.view_journey"

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        journey = get_object_or_404(Journey.objects.select_related("version"), pk=pk)
        return Response(journey_status(journey=journey))

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def patch(self, request: Request, pk: int) -> Response:
        journey = get_object_or_404(Journey, pk=pk)
        if not isinstance(request.data, dict):
            raise ApiError("the body is a journey definition (a JSON object)")
        try:
            journey = journey_update(
                journey=journey, definition=request.data, actor=request_user(request)
            )
        except JourneyError as exc:
            raise _refused(exc) from None
        return Response(journey_status(journey=journey))


class JourneyActionView(APIView):
    """`POST /journeys/{id}/activate|pause|resume|archive|move` (archive: `{"mode": "stop"}`)."""

    required_scopes = {"write": Scope.JOURNEYS_WRITE}
    action_name = ""

    @extend_schema(
        request=inline_serializer(
            "JourneyArchive", {"mode": serializers.ChoiceField(choices=["finish", "stop"])}
        ),
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        journey = get_object_or_404(Journey, pk=pk)
        user = request_user(request)
        body: Any = request.data if isinstance(request.data, dict) else {}
        try:
            if self.action_name == "activate":
                journey_activate(journey=journey, actor=user)
            elif self.action_name == "pause":
                journey_pause(journey=journey, actor=user, reason=str(body.get("reason", "")))
            elif self.action_name == "resume":
                journey_resume(journey=journey, actor=user)
            elif self.action_name == "move":
                journey_entries_move(journey=journey, actor=user)
            else:
                journey_archive(journey=journey, actor=user, mode=str(body.get("mode", "finish")))
        except JourneyError as exc:
            raise _refused(exc, status.HTTP_409_CONFLICT) from None
        journey.refresh_from_db()
        return Response(journey_status(journey=journey))


class JourneyEntriesView(APIView):
    """`GET /journeys/{id}/entries?phone=` — the per-contact inspector (latest 50 entries)."""

    read_permission = "journeys.view_journey"

    @extend_schema(
        parameters=[OpenApiParameter("phone", str), OpenApiParameter("contact", int)],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        journey = get_object_or_404(Journey, pk=pk)
        contact = None
        phone, contact_id = request.query_params.get("phone"), request.query_params.get("contact")
        if contact_id is not None:
            if not contact_id.isascii() or not contact_id.isdigit():
                raise ApiError("contact: a contact id", fields={"contact": ["a whole number"]})
            contact = get_object_or_404(Contact, pk=int(contact_id))
        elif phone:
            from contacts.phones import PhoneChecker, PhoneError

            try:
                e164 = PhoneChecker().check(phone).e164
            except PhoneError as exc:
                raise ApiError(f"phone: {exc}", fields={"phone": [str(exc)]}) from None
            contact = get_object_or_404(Contact, phone=e164)
        return Response({"entries": entries_inspect(journey=journey, contact=contact)})


EventBody = inline_serializer(
    "EventIn",
    {
        "name": serializers.CharField(),
        "contact": serializers.DictField(help_text='{"phone": "+41793026727"} or {"id": 42}'),
        "key": serializers.CharField(required=False),
        "properties": serializers.DictField(required=False),
        "occurred_at": serializers.DateTimeField(required=False),
        "id": serializers.CharField(required=False, help_text="your id: a resend is a no-op"),
    },
)
EventAnswer = inline_serializer(
    "EventRecorded",
    {
        "id": serializers.CharField(),
        "journeys": serializers.ListField(child=serializers.DictField()),
    },
)
_IDEMPOTENCY = [OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER)]


def _idempotent(request: Request, work: Callable[[], tuple[int, dict[str, Any]]]) -> Response:
    try:
        code, answer, replayed = idempotent(
            token=request_token(request),
            key=request.headers.get("Idempotency-Key"),
            body=request.data,
            work=work,
        )
    except IdempotencyConflict as exc:
        raise ApiError(str(exc), code="idempotency_conflict", status_code=422) from None
    response = Response(answer, status=code)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class EventsView(APIView):
    """`POST /events`: one event, stored before the answer; the journeys it let the contact in."""

    required_scopes = {"write": Scope.EVENTS_WRITE}

    @extend_schema(
        request=EventBody,
        responses={202: EventAnswer, **ERRORS},
        parameters=_IDEMPOTENCY,
        operation_id="events_record",
    )
    def post(self, request: Request) -> Response:
        body = request.data

        def work() -> tuple[int, dict[str, Any]]:
            result = events_record(events=[body])
            if result.rejected:
                raise ApiError(
                    result.rejected[0]["reason"], fields={"event": [result.rejected[0]["reason"]]}
                )
            event = result.events[0]
            answer = {"id": event["id"], "journeys": event["journeys"]}
            if event.get("duplicate"):
                answer["duplicate"] = True
            return 202, answer

        return _idempotent(request, work)


class EventsBatchView(APIView):
    """`POST /events/batch`: up to 1,000 events in one call, each kept or refused by index."""

    required_scopes = {"write": Scope.EVENTS_WRITE}
    parser_classes = [FastJSONParser]

    @extend_schema(
        request=inline_serializer(
            "EventsBatch", {"events": serializers.ListField(child=EventBody)}
        ),
        responses={
            202: inline_serializer(
                "EventsRecorded",
                {
                    "accepted": serializers.IntegerField(),
                    "events": serializers.ListField(child=serializers.DictField()),
                    "rejected": serializers.ListField(child=serializers.DictField()),
                },
            ),
            **ERRORS,
        },
        parameters=_IDEMPOTENCY,
        operation_id="events_record_batch",
    )
    def post(self, request: Request) -> Response:
        with cyclic_gc_paused():  # a batch's 1,000 events live for the whole call
            return self._record(request)

    def _record(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        events = body.get("events")
        if not isinstance(events, list) or not events:
            raise ApiError("events: a list of events", fields={"events": ["required"]})
        if len(events) > MAX_EVENTS:
            raise ApiError(
                f"events: at most {MAX_EVENTS:,} per call",
                fields={"events": [f"at most {MAX_EVENTS:,}"]},
            )

        def work() -> tuple[int, dict[str, Any]]:
            result = events_record(events=events)
            return 202, {
                "accepted": len(result.events),
                "events": result.events,
                "rejected": result.rejected,
            }

        return _idempotent(request, work)
