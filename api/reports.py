"""What the marketer reads and reuses (issue 26): `GET /reports/campaigns` and
`GET /reports/trends` (campaigns.analytics, as the reports page and `manage.py report` show
it; scope `read`), and `GET/POST /snippets` (saved message text; writing needs
`campaigns:write`)."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import ApiError
from api.models import Scope
from api.serializers import ErrorSerializer
from campaigns.analytics import MAX_COMPARED, MAX_TREND_DAYS, campaigns_figures, campaigns_trends
from campaigns.models import Snippet
from campaigns.services import snippet_save
from core.params import param_int

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 429)}


class FiguresSerializer(serializers.Serializer):
    """People at each step, rates in percent (null when the base is 0), amounts as strings."""

    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True)
    clicked = serializers.IntegerField()
    click_rate = serializers.FloatField(allow_null=True)
    replied = serializers.IntegerField()
    reply_rate = serializers.FloatField(allow_null=True)
    opted_out = serializers.IntegerField()
    opt_out_rate = serializers.FloatField(allow_null=True)
    cost = serializers.CharField()
    cost_per_delivered = serializers.CharField(allow_null=True)
    conversions = serializers.IntegerField(help_text="Credited to the campaigns' messages")
    revenue = serializers.CharField()
    revenue_per_cost = serializers.CharField(allow_null=True)
    currency = serializers.CharField(allow_blank=True)


class CampaignFiguresSerializer(FiguresSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    channel = serializers.CharField()
    state = serializers.CharField()
    launched_at = serializers.CharField(allow_null=True)


class ComparisonSerializer(serializers.Serializer):
    campaigns = CampaignFiguresSerializer(many=True)


class TrendPointSerializer(FiguresSerializer):
    start = serializers.DateField()
    campaigns = serializers.IntegerField()


class TrendsSerializer(serializers.Serializer):
    points = TrendPointSerializer(many=True)


class CampaignComparisonView(APIView):
    """`GET /reports/campaigns?ids=1,2`: campaigns side by side, counted per person."""

    read_permission = "campaigns.view_campaign"

    @extend_schema(
        parameters=[OpenApiParameter("ids", str, description="campaign ids, comma separated")],
        responses={200: ComparisonSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        raw = [part for part in request.query_params.get("ids", "").split(",") if part.strip()]
        ids = [param_int(part.strip()) for part in raw]
        if not raw or None in ids or len(ids) > MAX_COMPARED:
            raise ApiError(
                f"ids: give 1 to {MAX_COMPARED} campaign ids, comma separated",
                fields={"ids": ["1 to 20 whole numbers, comma separated"]},
            )
        figures = campaigns_figures(campaign_ids=[i for i in ids if i is not None])
        return Response({"campaigns": [f.as_dict() for f in figures]})


class TrendsView(APIView):
    """`GET /reports/trends?days=30&bucket=day|week`: campaigns launched per period, added up."""

    read_permission = "campaigns.view_campaign"

    @extend_schema(
        parameters=[
            OpenApiParameter("days", int),
            OpenApiParameter("bucket", str, enum=["day", "week"]),
        ],
        responses={200: TrendsSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        days = param_int(request.query_params.get("days", "30"))
        bucket = request.query_params.get("bucket", "day")
        if days is None or not 1 <= days <= MAX_TREND_DAYS:
            raise ApiError(
                f"days: a whole number from 1 to {MAX_TREND_DAYS}",
                fields={"days": ["out of range"]},
            )
        if bucket not in ("day", "week"):
            raise ApiError("bucket: day or week", fields={"bucket": ["day or week"]})
        points = campaigns_trends(days=days, bucket=bucket)
        return Response({"points": [p.as_dict() for p in points]})


class SnippetSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    text = serializers.CharField(max_length=5000)
    updated_at = serializers.DateTimeField(read_only=True)


class SnippetsView(APIView):
    """`GET/POST /snippets`: saved message snippets (campaigns.services.snippet_save)."""

    read_permission = "campaigns.view_campaign"
    required_scopes = {"write": Scope.CAMPAIGNS_WRITE}

    @extend_schema(responses={200: SnippetSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(SnippetSerializer(Snippet.objects.all()[:500], many=True).data)

    @extend_schema(
        request=SnippetSerializer,
        responses={200: SnippetSerializer, 201: SnippetSerializer, **ERRORS},  # changed, created
    )
    def post(self, request: Request) -> Response:
        body = SnippetSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        existing = Snippet.objects.filter(name__iexact=body.validated_data["name"].strip()).first()
        try:
            snippet = snippet_save(actor=request.user, snippet=existing, **body.validated_data)
        except ValidationError as exc:
            fields = exc.message_dict if hasattr(exc, "error_dict") else {}
            raise ApiError("; ".join(exc.messages), fields=fields) from None
        return Response(SnippetSerializer(snippet).data, status=200 if existing else 201)
