"""Test sends and the token owner's test numbers (issue 26 #7), as the preview page has them.

`GET/POST /test-numbers`, `DELETE /test-numbers/{id}`: the owner's own numbers (national
format in the team's region accepted); `POST /campaigns/{id}/test` sends the campaign's message
to one number (rendered for the audience's first contact, never to a customer) and answers the
test; `GET /campaigns/{id}/tests` lists the owner's tests of it with what Infobip reported.
Writes need the scope `campaigns:write` and the change-campaign permission.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import request_user
from api.errors import ApiError
from api.models import Scope
from api.policy import require_perm
from api.serializers import ErrorSerializer
from campaigns.audience import audience_contacts
from campaigns.models import Campaign, CampaignTestSend, SavedTestNumber
from campaigns.services import CampaignError, campaign_test_send
from campaigns.testsend import saved_number_add, saved_number_remove, saved_numbers_for
from contacts.models import Contact
from core.services import audit_record

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 429)}
CHANGE = "campaigns.change_campaign"
TESTS_LISTED = 20


class TestNumberSerializer(serializers.ModelSerializer[Any]):
    phone = serializers.CharField(max_length=40, help_text="national format in the team's region")

    class Meta:
        model = SavedTestNumber
        fields = ["id", "phone", "label", "created_at"]
        read_only_fields = ["id", "created_at"]


class TestNumbersSerializer(serializers.Serializer[Any]):
    numbers = TestNumberSerializer(many=True)


class TestSendRequestSerializer(serializers.Serializer[Any]):
    to = serializers.CharField(max_length=40, help_text="E.164, or national in the team's region")


class TestSendSerializer(serializers.ModelSerializer[Any]):
    class Meta:
        model = CampaignTestSend
        fields = [
            "id",
            "to",
            "channel",
            "text",
            "message_id",
            "state",
            "status_name",
            "error_name",
            "sent_at",
            "done_at",
        ]


class TestSendsSerializer(serializers.Serializer[Any]):
    tests = TestSendSerializer(many=True)


def _refused(exc: ValidationError) -> ApiError:
    return ApiError("; ".join(exc.messages))


class TestNumbersView(APIView):
    """`GET /test-numbers`: the token owner's numbers; `POST` saves one."""

    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}

    @extend_schema(responses={200: TestNumbersSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        numbers = saved_numbers_for(request_user(request))
        return Response({"numbers": TestNumberSerializer(numbers, many=True).data})

    @extend_schema(request=TestNumberSerializer, responses={201: TestNumberSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        require_perm(request, CHANGE)
        body = TestNumberSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            saved = saved_number_add(
                user=request_user(request),
                raw=body.validated_data["phone"],
                label=body.validated_data.get("label", ""),
            )
        except ValidationError as exc:
            raise _refused(exc) from None
        return Response(TestNumberSerializer(saved).data, status=201)


class TestNumberDetailView(APIView):
    """`DELETE /test-numbers/{id}`: remove one of the token owner's numbers."""

    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request: Request, pk: int) -> Response:
        try:
            saved_number_remove(user=request_user(request), number_id=pk)
        except ValidationError:
            raise ApiError(
                "no such test number of yours", code="not_found", status_code=404
            ) from None
        return Response(status=204)


class CampaignTestsView(APIView):
    """`GET /campaigns/{id}/tests`: the token owner's tests of the campaign, newest first."""

    read_permission = "campaigns.view_campaign"

    @extend_schema(responses={200: TestSendsSerializer, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        tests = campaign.test_sends.filter(sent_by_id=request_user(request).pk)[:TESTS_LISTED]
        return Response({"tests": TestSendSerializer(tests, many=True).data})


class CampaignTestView(APIView):
    """`POST /campaigns/{id}/test`: send the campaign's message to one number, as a test."""

    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}

    @extend_schema(request=TestSendRequestSerializer, responses={201: TestSendSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        require_perm(request, CHANGE)
        campaign = get_object_or_404(Campaign, pk=pk)
        body = TestSendRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = request_user(request)
        sample = audience_contacts(campaign).filter(opted_out=False).order_by("id").first()
        try:
            campaign_test_send(
                campaign=campaign,
                contact=sample or Contact(),
                to=body.validated_data["to"],
                sent_by=user,
            )
        except CampaignError as exc:
            raise ApiError(str(exc)) from None
        test = campaign.test_sends.filter(sent_by_id=user.pk).order_by("-id").first()
        audit_record(
            actor=user,
            action="test",
            campaign=campaign,
            detail=f"api: to {test.to if test else '?'}",
        )
        return Response(TestSendSerializer(test).data, status=201)
