"""REST API views: parse, check scope/permission (api.policy), call one service, answer."""

import uuid
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from api import serializers as s
from api.auth import request_token, request_user
from api.delivery import deliveries_fill
from api.errors import ApiError
from api.filters import bool_filter, choice_filter
from api.gcpause import cyclic_gc_paused
from api.messages import message_send_request
from api.models import EventDelivery, EventSubscription, Scope
from api.parsers import FastJSONParser
from api.policy import require_perm
from api.services import (
    UPSERT_MAX,
    IdempotencyConflict,
    IdempotencyKeyInvalid,
    contacts_upsert,
    event_subscription_create,
    event_subscription_update,
    idempotent,
)
from campaigns.analytics import marketing_campaigns
from campaigns.audience import audience_problem
from campaigns.models import Campaign, Message
from campaigns.preview import campaign_preview
from campaigns.services import (
    campaign_approval_request,
    campaign_cancel,
    campaign_create,
    campaign_frequency_cap_override,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_status,
    campaign_validate,
)
from campaigns.split import split_configure
from campaigns.states import CampaignState, MessageState
from channels.registry import channel_types
from contacts import signals as contact_signals
from contacts.models import ConsentSource, Contact, ContactList
from contacts.services import contact_list_add, contact_list_remove, contact_opt_in, contact_opt_out
from core.services import audit_record
from infobip.custom import CustomCallRefused, infobip_custom_call
from infobip.errors import InfobipError
from infobip.models import InboundMessage
from whatsapp.models import WhatsAppTemplate
from whatsapp.services import TemplateSyncError, templates_sync

ERRORS = {
    400: s.ErrorSerializer,
    401: s.ErrorSerializer,
    403: s.ErrorSerializer,
    404: s.ErrorSerializer,
    409: s.ErrorSerializer,
    429: s.ErrorSerializer,
}


def _errors(*codes: int) -> dict[int, Any]:
    return {code: s.ErrorSerializer for code in codes}


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([AllowAny])
def not_found(request: Request) -> Response:
    """The error document for paths the API does not have."""
    raise NotFound(f"no such API path: {request.path}")


class ApiRootView(APIView):
    """The API's entry points (with a browser session, this is the browsable API)."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        names = [
            "schema",
            "messages",
            "contacts",
            "contacts-upsert",
            "lists",
            "templates",
            "campaigns",
            "segments",
            "attributes",
            "inbound",
            "subscriptions",
            "journeys",
            "events",
            "senders",
        ]
        return Response({name: reverse(f"api:{name}", request=request) for name in names})


# --- transactional messages ---------------------------------------------------------------


class MessagesView(APIView):
    """`POST /messages`: send SMS to many, a WhatsApp text or a WhatsApp template."""

    required_scopes = {"write": Scope.MESSAGES_SEND}

    @extend_schema(
        request=s.MessageSendSerializer,
        responses={202: s.MessageSendResponseSerializer, 422: s.ErrorSerializer, **ERRORS},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="At most 255 characters: the same key and body get the same answer "
                "and send nothing again; the same key with another body is a 422",
            )
        ],
        operation_id="messages_send",
    )
    def post(self, request: Request) -> Response:
        body = request.data
        key = request.headers.get("Idempotency-Key")
        user, token = request_user(request), request_token(request)

        def work() -> tuple[int, dict[str, Any]]:
            return message_send_request(body=body, user=user, token=token)

        try:
            code, answer, replayed = idempotent(token=token, key=key, body=body, work=work)
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


class MessageDetailView(APIView):
    """`GET /messages/{messageId}`: state, status, error and price of one message."""

    read_permission = "campaigns.view_campaign"

    @extend_schema(responses={200: s.MessageSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, message_id: uuid.UUID) -> Response:
        message = get_object_or_404(Message, message_id=message_id)
        return Response(s.MessageSerializer(message).data)


# --- contacts -----------------------------------------------------------------------------


class ContactUpsertView(APIView):
    """`POST /contacts/upsert`: up to 10,000 contacts by number, with per-row errors."""

    required_scopes = {"write": Scope.CONTACTS_WRITE}
    parser_classes = [FastJSONParser]  # bodies up to ~1.5 MB: orjson, DRF's answers

    @extend_schema(
        request=s.ContactUpsertSerializer,
        responses={200: s.ContactUpsertResultSerializer, **ERRORS},
        operation_id="contacts_upsert",
    )
    def post(self, request: Request) -> Response:
        require_perm(request, "contacts.add_contact", "contacts.change_contact")
        with cyclic_gc_paused():
            return self._upsert(request)

    def _upsert(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        rows = body.get("contacts")
        if not isinstance(rows, list):
            raise ApiError("contacts: a list is required", fields={"contacts": ["required"]})
        if len(rows) > UPSERT_MAX:
            raise ApiError(
                f"contacts: at most {UPSERT_MAX:,} per call",
                fields={"contacts": [f"at most {UPSERT_MAX:,} items"]},
            )
        region = body.get("default_region")
        if region is not None and not isinstance(region, str):
            raise ApiError(
                "default_region: must be a region code such as GB",
                fields={"default_region": ["must be text"]},
            )
        try:
            result = contacts_upsert(
                rows=rows, actor=request_user(request), default_region=region or None
            )
        except ValueError as exc:  # an unknown default region
            raise ApiError(str(exc), fields={"default_region": [str(exc)]}) from None
        return Response(result.as_dict())


class ContactListView(generics.ListAPIView[Any]):
    """`GET /contacts`: by cursor; filters `phone`, `list`, `opted_out`."""

    serializer_class = s.ContactSerializer
    read_permission = "contacts.view_contact"

    @extend_schema(
        parameters=[
            OpenApiParameter("phone", str),
            OpenApiParameter("list", str),
            OpenApiParameter(
                "opted_out", bool, description="true or false; anything else is a 400"
            ),
        ],
        responses={200: s.ContactSerializer(many=True), **_errors(400, 401, 403, 429)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        qs = Contact.objects.prefetch_related("lists")
        params = self.request.query_params
        if phone := params.get("phone"):
            qs = qs.filter(phone=phone.strip())
        if name := params.get("list"):
            if not ContactList.objects.filter(name=name).exists():
                raise ApiError(
                    f"list: no list named {name[:100]!r}", fields={"list": ["no such list"]}
                )
            qs = qs.filter(memberships__contact_list__name=name)
        if (opted := bool_filter(self.request, "opted_out")) is not None:
            qs = qs.filter(opted_out=opted)
        return qs


class ContactDetailView(generics.RetrieveUpdateDestroyAPIView[Any]):
    """`GET/PATCH/DELETE /contacts/{id}`."""

    serializer_class = s.ContactSerializer
    queryset = Contact.objects.prefetch_related("lists")
    read_permission = "contacts.view_contact"
    required_scopes = {"write": Scope.CONTACTS_WRITE}
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def perform_update(self, serializer: Any) -> None:
        require_perm(self.request, "contacts.change_contact")
        contact = serializer.save()
        contact_signals.contacts_changed.send(Contact, contact_ids=[contact.pk])
        audit_record(actor=self.request.user, action="api_contact_update", contact=contact)

    def perform_destroy(self, instance: Contact) -> None:
        require_perm(self.request, "contacts.delete_contact")
        audit_record(actor=self.request.user, action="api_contact_delete", detail=instance.phone)
        instance.delete()


class ContactConsentView(APIView):
    """`POST /contacts/{id}/opt-out` and `/opt-in`."""

    required_scopes = {"write": Scope.CONTACTS_WRITE}
    opt_out = True

    @extend_schema(request=None, responses={200: s.ContactSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, "contacts.change_contact")
        contact = get_object_or_404(Contact, pk=pk)
        change = contact_opt_out if self.opt_out else contact_opt_in
        change(contact=contact, source=ConsentSource.API, note="API", actor=request_user(request))
        action = "api_opt_out" if self.opt_out else "api_opt_in"
        audit_record(actor=request.user, action=action, contact=contact)
        return Response(s.ContactSerializer(contact).data)


class ListsView(generics.ListCreateAPIView[Any]):
    """`GET/POST /lists`."""

    serializer_class = s.ContactListSerializer
    queryset = ContactList.objects.all()
    read_permission = "contacts.view_contactlist"
    required_scopes = {"write": Scope.CONTACTS_WRITE}

    def perform_create(self, serializer: Any) -> None:
        require_perm(self.request, "contacts.add_contactlist")
        contact_list = serializer.save()
        audit_record(actor=self.request.user, action="api_list_create", detail=contact_list.name)


class ListMembersView(APIView):
    """`POST /lists/{id}/members` adds, `DELETE` removes contacts by id."""

    required_scopes = {"write": Scope.CONTACTS_WRITE}

    def _ids(self, request: Request) -> list[int]:
        serializer = s.MembershipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids: list[int] = serializer.validated_data["contact_ids"]
        known = set(Contact.objects.filter(id__in=ids).values_list("id", flat=True))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ApiError(
                f"unknown contact id(s) {unknown[:10]}", fields={"contact_ids": ["unknown ids"]}
            )
        return ids

    @extend_schema(request=s.MembershipSerializer, responses={200: s.CountSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, "contacts.change_contactlist")
        contact_list = get_object_or_404(ContactList, pk=pk)
        added = contact_list_add(contact_list=contact_list, contact_ids=self._ids(request))
        audit_record(actor=request.user, action="api_list_add", detail=f"{contact_list} +{added}")
        return Response({"count": added})

    @extend_schema(request=s.MembershipSerializer, responses={200: s.CountSerializer, **ERRORS})
    def delete(self, request: Request, pk: int) -> Response:
        require_perm(request, "contacts.change_contactlist")
        contact_list = get_object_or_404(ContactList, pk=pk)
        removed = contact_list_remove(contact_list=contact_list, contact_ids=self._ids(request))
        audit_record(
            actor=request.user, action="api_list_remove", detail=f"{contact_list} -{removed}"
        )
        return Response({"count": removed})


# --- templates ----------------------------------------------------------------------------


class TemplatesView(generics.ListAPIView[Any]):
    """`GET /templates`: the synced WhatsApp templates."""

    serializer_class = s.TemplateSerializer
    queryset = WhatsAppTemplate.objects.all()
    read_permission = "whatsapp.view_whatsapptemplate"


class TemplatesSyncView(APIView):
    """`POST /templates/sync`: pull the templates from Infobip now."""

    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}

    @extend_schema(request=None, responses={200: s.TemplatesSyncResultSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        require_perm(request, "whatsapp.sync_whatsapptemplate")
        try:
            result = templates_sync()
        except TemplateSyncError as exc:
            raise ApiError(str(exc), code="sync_failed", status_code=409) from None
        audit_record(actor=request.user, action="api_templates_sync", detail=result.summary())
        # The document promised `summary` while the answer held the counts: it now has both.
        return Response({**result.as_dict(), "summary": result.summary()})


# --- campaigns ----------------------------------------------------------------------------


class CampaignsView(generics.ListCreateAPIView[Any]):
    """`GET/POST /campaigns`: create a draft through `campaign_create`."""

    serializer_class = s.CampaignSerializer
    queryset = marketing_campaigns().prefetch_related("lists", "exclude_lists")
    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}
    read_permission = "campaigns.view_campaign"

    def perform_create(self, serializer: Any) -> None:
        require_perm(self.request, "campaigns.add_campaign")
        data = dict(serializer.validated_data)
        variants, test = s.split_specs(data)
        campaign = campaign_create(
            created_by=request_user(self.request), variants=variants, test=test, **data
        )
        serializer.instance = campaign
        audit_record(actor=self.request.user, action="api_campaign_create", campaign=campaign)


class CampaignDetailView(APIView):
    """`GET /campaigns/{id}`: the status document; `PATCH` changes a draft."""

    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}
    read_permission = "campaigns.view_campaign"

    @extend_schema(responses={200: s.CampaignStatusSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        return Response(campaign_status(campaign=campaign, breakdown=True))

    @extend_schema(request=s.CampaignSerializer, responses={200: s.CampaignSerializer, **ERRORS})
    def patch(self, request: Request, pk: int) -> Response:
        require_perm(request, "campaigns.change_campaign")
        with transaction.atomic():
            campaign = get_object_or_404(Campaign.objects.select_for_update(), pk=pk)
            if campaign.state != CampaignState.DRAFT:
                raise ApiError(
                    f"campaign {pk} is {campaign.state}: only drafts can change",
                    code="conflict",
                    status_code=409,
                )
            serializer = s.CampaignSerializer(campaign, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            splitting = (
                "variants" in serializer.validated_data or "test" in serializer.validated_data
            )
            variants, test = s.split_specs(serializer.validated_data)
            data = dict(serializer.validated_data)
            if "quiet_hours" in data:
                window = data.pop("quiet_hours")
                campaign.quiet_hours_start, campaign.quiet_hours_end = window or (None, None)
            override = data.pop("frequency_cap_override", None)
            for name, value in data.items():
                if name not in ("lists", "exclude_lists"):
                    setattr(campaign, name, value)
            if splitting:  # replaces the split (a body without variants and test removes it)
                split_configure(campaign=campaign, variants=variants, test=test)
            lists = serializer.validated_data.get("lists", list(campaign.lists.all()))
            problem = audience_problem(
                lists=lists, segment=campaign.segment, match=campaign.audience_match
            )
            if errors := [problem] if problem else campaign_validate(campaign=campaign):
                raise ApiError("; ".join(errors))
            # Saved here, not by serializer.save(): it would write the override unchecked.
            campaign.save()
            for name in ("lists", "exclude_lists"):
                if name in data:
                    getattr(campaign, name).set(data[name])
            if override is not None and override != campaign.frequency_cap_override:
                # Lifting the caps needs the send permission, and is audited (the service).
                campaign_frequency_cap_override(
                    campaign=campaign, actor=request.user, override=override
                )
            audit_record(actor=request.user, action="api_campaign_update", campaign=campaign)
        return Response(s.CampaignSerializer(campaign).data)


class CampaignPreviewView(APIView):
    """`GET /campaigns/{id}/preview`: audience, parts, cost and samples; sends nothing."""

    read_permission = "campaigns.view_campaign"

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **_errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        return Response(campaign_preview(campaign=campaign))


class CampaignActionView(APIView):
    """`POST /campaigns/{id}/launch|pause|resume|cancel` under the token owner's permissions."""

    required_scopes = {"write": Scope.CAMPAIGNS_SEND}
    action_name = "launch"

    @extend_schema(request=None, responses={200: s.CampaignStatusSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        action = self.action_name
        # The services decide (send permission, approval) and write the audit, as for the UI,
        # the admin and the commands; a refusal (core.rules.Refused) answers 403.
        actor = request.user
        if action == "launch":
            campaign_launch(campaign=campaign, actor=actor)
        elif action == "pause":
            campaign_pause(campaign=campaign, actor=actor)
        elif action == "resume":
            campaign_resume(campaign=campaign, actor=actor)
        else:
            campaign_cancel(campaign=campaign, actor=actor)
        return Response(campaign_status(campaign=campaign))


class ApprovalRequestSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ApprovalRequestAnswerSerializer(serializers.Serializer[Any]):
    campaign = serializers.IntegerField()
    requested_by = serializers.CharField(allow_null=True)
    requested_at = serializers.DateTimeField()
    note = serializers.CharField(allow_blank=True)


class CampaignApprovalRequestView(APIView):
    """`POST /campaigns/{id}/request-approval`: ask the approvers (campaign_approval_request)."""

    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}

    @extend_schema(
        request=ApprovalRequestSerializer,
        responses={200: ApprovalRequestAnswerSerializer, **ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        body = ApprovalRequestSerializer(
            data=request.data if isinstance(request.data, dict) else {}
        )
        body.is_valid(raise_exception=True)
        asked = campaign_approval_request(
            campaign=campaign, actor=request.user, note=body.validated_data.get("note", "")
        )
        return Response(
            {
                "campaign": campaign.pk,
                "requested_by": asked.requested_by.get_username() if asked.requested_by else None,
                "requested_at": asked.requested_at,
                "note": asked.note,
            }
        )


class CampaignMessagesView(generics.ListAPIView[Any]):
    """`GET /campaigns/{id}/messages`: the ledger by cursor; filter `state`."""

    serializer_class = s.MessageSerializer
    read_permission = "campaigns.view_campaign"

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=MessageState.values)],
        responses={200: s.MessageSerializer(many=True), **_errors(409)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        campaign = get_object_or_404(Campaign, pk=self.kwargs["pk"])
        if campaign.history_archived_at is not None:  # not an empty ledger: moved to a file
            raise ApiError(
                f"campaign {campaign.pk}'s history is archived ({campaign.history_archive_messages}"
                f" messages); an operator restores it with `manage.py archive restore "
                f"{campaign.pk}`",
                code="history_archived",
                status_code=409,
            )
        qs = Message.objects.filter(campaign=campaign)
        if state := choice_filter(self.request, "state", MessageState.values):
            qs = qs.filter(state=state)
        return qs


# --- inbound ------------------------------------------------------------------------------


def _inbound_media() -> list[str]:
    """The media inbound messages arrive on (sms, whatsapp, …): the channel types' ledgers."""
    return sorted({kind.ledger for kind in channel_types()})


class InboundView(generics.ListAPIView[Any]):
    """`GET /inbound`: inbound messages by cursor; filters `channel`, `to`, `from`."""

    serializer_class = s.InboundSerializer
    read_permission = "infobip.view_inboundmessage"

    @extend_schema(
        parameters=[
            OpenApiParameter("channel", str, enum=_inbound_media()),
            OpenApiParameter("to", str),
            OpenApiParameter("from", str),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        qs = InboundMessage.objects.all()
        params = self.request.query_params
        if channel := choice_filter(self.request, "channel", _inbound_media()):
            qs = qs.filter(channel=channel)
        if to := params.get("to"):
            qs = qs.filter(to_number=to.lstrip("+"))
        if sender := params.get("from"):
            qs = qs.filter(from_number=sender.lstrip("+"))
        return qs


# --- event subscriptions ------------------------------------------------------------------


def _subscription_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in data.items() if k in ("url", "events", "enabled")}
    if "filters" in data:
        filters = data["filters"] or {}
        fields["filter_number"] = filters.get("number", "")
        fields["filter_keyword"] = filters.get("keyword", "")
    return fields


class SubscriptionsView(APIView):
    """`GET/POST /event-subscriptions`: the secret is in the create answer only."""

    required_scopes = {"read": Scope.EVENTS_MANAGE, "write": Scope.EVENTS_MANAGE}
    staff_only = True

    @extend_schema(responses={200: s.EventSubscriptionSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        rows = EventSubscription.objects.all()
        return Response(s.EventSubscriptionSerializer(rows, many=True).data)

    @extend_schema(
        request=s.EventSubscriptionSerializer,
        responses={201: s.EventSubscriptionCreatedSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        serializer = s.EventSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = _subscription_fields(serializer.validated_data)
        fields.pop("enabled", None)
        try:
            subscription = event_subscription_create(owner=request_user(request), **fields)
        except ValueError as exc:
            raise ApiError(str(exc), fields={"url": [str(exc)]}) from None
        return Response(
            s.EventSubscriptionCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


class SubscriptionDetailView(APIView):
    """`GET/PATCH/DELETE /event-subscriptions/{id}`."""

    required_scopes = {"read": Scope.EVENTS_MANAGE, "write": Scope.EVENTS_MANAGE}
    staff_only = True

    @extend_schema(responses={200: s.EventSubscriptionSerializer, **_errors(401, 403, 404)})
    def get(self, request: Request, pk: int) -> Response:
        subscription = get_object_or_404(EventSubscription, pk=pk)
        return Response(s.EventSubscriptionSerializer(subscription).data)

    @extend_schema(
        request=s.EventSubscriptionSerializer,
        responses={200: s.EventSubscriptionSerializer, **ERRORS},
    )
    def patch(self, request: Request, pk: int) -> Response:
        subscription = get_object_or_404(EventSubscription, pk=pk)
        serializer = s.EventSubscriptionSerializer(subscription, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            event_subscription_update(
                subscription=subscription,
                actor=request_user(request),
                **_subscription_fields(serializer.validated_data),
            )
        except ValueError as exc:
            raise ApiError(str(exc)) from None
        return Response(s.EventSubscriptionSerializer(subscription).data)

    @extend_schema(responses={204: None, **_errors(401, 403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        subscription = get_object_or_404(EventSubscription, pk=pk)
        audit_record(
            actor=request.user, action="event_subscription_delete", detail=subscription.url
        )
        subscription.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionDeliveriesView(generics.ListAPIView[Any]):
    """`GET /event-subscriptions/{id}/deliveries`: each event with its attempts."""

    serializer_class = s.EventDeliverySerializer
    required_scopes = {"read": Scope.EVENTS_MANAGE}
    staff_only = True

    def get_queryset(self) -> QuerySet[Any]:
        subscription = get_object_or_404(EventSubscription, pk=self.kwargs["pk"])
        return EventDelivery.objects.filter(subscription=subscription).prefetch_related("tries")

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        if page is not None:
            deliveries_fill(page)  # message.final bodies from the ledger, one query per page
        return page


# --- the custom call ----------------------------------------------------------------------


class InfobipRequestView(APIView):
    """`POST /infobip/request`: any Infobip endpoint with Herald's key; message sends refused."""

    required_scopes = {"write": Scope.INFOBIP_REQUEST}
    staff_only = True

    @extend_schema(
        request=s.InfobipRequestSerializer,
        responses={200: s.InfobipAnswerSerializer, 502: s.ErrorSerializer, **ERRORS},
        operation_id="infobip_request",
        description="Infobip's status and JSON come back as they are (an Infobip 4xx is a 200 "
        "here, with `status` 4xx); 502 when Infobip cannot be reached. Message sends "
        "(`/sms/…`, `/whatsapp/…/message/…`, `/messages-api/…/messages`, …) are refused (400): "
        "send through `POST /messages`. Audited.",
    )
    def post(self, request: Request) -> Response:
        serializer = s.InfobipRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            answer = infobip_custom_call(
                actor=request_user(request),
                method=data["method"],
                path=data["path"],
                query=data["query"],
                body=data["body"],
            )
        except CustomCallRefused as exc:
            raise ApiError(str(exc), code="refused", fields={"path": [str(exc)]}) from None
        except InfobipError as exc:
            raise ApiError(
                f"Infobip did not answer: {exc}", code="bad_gateway", status_code=502
            ) from None
        return Response({"status": answer.status, "body": answer.body})
