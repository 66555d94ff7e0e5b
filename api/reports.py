"""`GET /reports/campaigns` and `GET /reports/trends`: campaigns.analytics, as the reports page
and `manage.py report` show it (issue 26 #11). Scope `read`, permission to view campaigns."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import ApiError
from api.serializers import ErrorSerializer
from campaigns.analytics import MAX_COMPARED, MAX_TREND_DAYS, campaigns_figures, campaigns_trends
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
            raise ApiError(f"days: a whole number from 1 to {MAX_TREND_DAYS}",
                           fields={"days": ["out of range"]})  # fmt: skip
        if bucket not in ("day", "week"):
            raise ApiError("bucket: day or week", fields={"bucket": ["day or week"]})
        points = campaigns_trends(days=days, bucket=bucket)
        return Response({"points": [p.as_dict() for p in points]})
