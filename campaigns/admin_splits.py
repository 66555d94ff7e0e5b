"""Admin for split tests: a campaign's variants and test inline, and "decide now"."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns.models import Campaign, SplitTest, Variant
from campaigns.split import split_decide_by_name
from core.rules import Refused


class VariantInline(admin.TabularInline[Variant, Campaign]):
    model = Variant
    extra = 0
    max_num = 4
    fields = ["position", "name", "text", "template", "template_mapping", "coupon"]
    raw_id_fields = ["template"]


class SplitTestInline(admin.StackedInline[SplitTest, Campaign]):
    model = SplitTest
    extra = 0
    max_num = 1
    can_delete = True
    fields = [
        "test_share",
        "holdout",
        "winner_by",
        "decide_after",
        "if_undecided",
        "state",
        "plan",
        "winner",
        "decided_at",
        "decided_by",
        "decision",
        "released_at",
        "seed",
    ]
    readonly_fields = [
        "state",
        "plan",
        "winner",
        "decided_at",
        "decided_by",
        "decision",
        "released_at",
        "seed",
    ]


@admin.action(description="Decide split tests now: send the leader", permissions=["send"])
def decide_split(
    modeladmin: admin.ModelAdmin[Campaign], request: HttpRequest, queryset: QuerySet[Campaign]
) -> None:
    """The leader of the last evaluation goes to the rest now (split_decide_by_name)."""
    for campaign in queryset:
        split = SplitTest.objects.filter(campaign=campaign).first()
        leader = (split.evaluation or {}).get("leader") if split else None
        try:
            if leader is None:
                raise ValidationError("no evaluation yet: nothing to decide on")
            split_decide_by_name(campaign=campaign, name=leader, actor=request.user)
        except (ValidationError, Refused) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            modeladmin.message_user(request, f"{campaign}: {text}", messages.ERROR)
            continue
        modeladmin.message_user(request, f"{campaign}: {leader} goes to the rest", messages.SUCCESS)
