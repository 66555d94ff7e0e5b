"""Request and response shapes (they also make the OpenAPI document)."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.choices import CallableChoiceIterator
from django.utils.dateparse import parse_duration
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.models import DeliveryAttempt, EventDelivery, EventSubscription, EventType
from campaigns.models import Campaign, Message, Segment, SplitTest, WinnerBy
from campaigns.split import SplitSpec, VariantSpec, iso_duration
from campaigns.steps import fallback_steps
from channels.countries import country_valid
from channels.registry import channel_choices, medium_choices
from channels.senders import sender_is_auto
from contacts.attributes import attributes_clean
from contacts.models import ConsentSource, Contact, ContactList
from contacts.services import attribute_types
from infobip.models import InboundMessage
from whatsapp.models import WhatsAppTemplate


class ErrorDetailSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # `fields` is the Serializer's own attribute: the field is declared by its JSON name here.
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField())
        )
        return fields


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorDetailSerializer()


# --- transactional messages --------------------------------------------------------------


class ButtonValueSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(min_value=0, max_value=9)
    parameter = serializers.CharField(max_length=2000)


class PlaceholdersSerializer(serializers.Serializer[Any]):
    body = serializers.ListField(child=serializers.CharField(max_length=1024), required=False)
    header = serializers.CharField(max_length=2000, required=False)
    buttons = ButtonValueSerializer(many=True, required=False)


class ButtonSerializer(serializers.Serializer[Any]):
    """A button under a Viber or RCS message: opens `url`, or (RCS) replies with `postback`."""

    text = serializers.CharField(max_length=30)
    url = serializers.URLField(max_length=2048, required=False, allow_blank=True)
    postback = serializers.CharField(max_length=200, required=False, allow_blank=True)


# The registered channel types, read each time a serializer is built (and the schema drawn):
# a type registered later is accepted and listed with no change here.
# (DRF's stubs ask for a Sequence; DRF itself iterates the choices, which is all this needs.)
CHANNELS: Any = CallableChoiceIterator(channel_choices)
MEDIUMS: Any = CallableChoiceIterator(medium_choices)


class MessageSendSerializer(serializers.Serializer[Any]):
    """Any registered channel: `sender` (or `from`), `to` (one number or a list), `text` or a
    template; Viber and RCS may add an `image` and `buttons`."""

    channel = serializers.ChoiceField(choices=CHANNELS)
    sender = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="A number or name; absent or `auto`: each recipient's country's sender",
    )
    to = serializers.JSONField(help_text="A number, or a list of up to 1,000")
    text = serializers.CharField(required=False, allow_blank=False, trim_whitespace=False)
    image = serializers.URLField(
        max_length=2048, required=False, help_text="An image (https) where the channel has them"
    )
    buttons = serializers.ListField(child=ButtonSerializer(), required=False, max_length=4)
    template = serializers.CharField(max_length=512, required=False)
    language = serializers.CharField(max_length=16, required=False)
    placeholders = PlaceholdersSerializer(required=False)
    respect_opt_out = serializers.BooleanField(default=True)
    all_or_nothing = serializers.BooleanField(
        default=False,
        help_text="true: one bad number refuses the whole call (400); false: each bad number "
        "comes back as `rejected` with its reason and the others are sent",
    )
    dlt_template_id = serializers.RegexField(
        r"^[A-Za-z0-9-]{1,64}$",
        required=False,
        help_text="India: the DLT content template id registered for this text",
    )
    iys_recipient_type = serializers.ChoiceField(
        choices=["BIREYSEL", "TACIR"],
        required=False,
        help_text="Turkey: the recipients' IYS type (transactional sends need none)",
    )
    kr_title = serializers.CharField(
        max_length=66, required=False, help_text="South Korea: the message's title"
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # `from` is a Python keyword: the field is declared under its JSON name here.
        fields["from"] = serializers.CharField(max_length=64, required=False, allow_blank=True)
        return fields


class SentMessageSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(help_text="The number's position in `to`")
    to = serializers.CharField(help_text="E.164 when accepted; as given when rejected")
    messageId = serializers.CharField(allow_null=True, help_text="null when rejected")
    state = serializers.CharField(
        help_text="queued or skipped (in the ledger), rejected (a bad number: not sent)"
    )
    reason = serializers.CharField(required=False)


class MessageSendResponseSerializer(serializers.Serializer[Any]):
    campaign = serializers.IntegerField()
    messages = SentMessageSerializer(many=True)


class MessageSerializer(serializers.ModelSerializer[Any]):
    messageId = serializers.UUIDField(source="message_id", read_only=True)
    status = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    price = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "messageId",
            "campaign",
            "contact",
            "phone",
            "channel",
            "attempt",
            "state",
            "reason",
            "status",
            "error",
            "price",
            "parts",
            "text",
            "created_at",
            "accepted_at",
            "done_at",
        ]

    def get_status(self, obj: Message) -> dict[str, Any]:
        return {"groupName": obj.status_group, "id": obj.status_id, "name": obj.status_name}

    def get_error(self, obj: Message) -> dict[str, Any] | None:
        if not obj.error_name:
            return None
        return {
            "groupName": obj.error_group,
            "id": obj.error_id,
            "name": obj.error_name,
            "permanent": obj.error_permanent,
        }

    def get_price(self, obj: Message) -> dict[str, Any] | None:
        if obj.price is None:
            return None
        return {"amount": str(obj.price), "currency": obj.currency}


# --- contacts and lists ------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer[Any]):
    lists: serializers.SlugRelatedField[ContactList] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="name"
    )
    # Declared: a read-only model field loses `blank`, and the document then forbade the ""
    # that every subscribed contact has.
    opted_out_source = serializers.ChoiceField(
        choices=ConsentSource.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "phone",
            "first_name",
            "last_name",
            "language",
            "timezone",
            "country",
            "attributes",
            "lists",
            "opted_out",
            "opted_out_at",
            "opted_out_source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "phone",
            "country",
            "lists",
            "opted_out",
            "opted_out_at",
            "opted_out_source",
            "created_at",
            "updated_at",
        ]

    def validate_attributes(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        try:  # declared keys: checked and normalised as an upsert does
            return attributes_clean(value, attribute_types())
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class ContactUpsertRowSerializer(serializers.Serializer[Any]):
    phone = serializers.CharField()
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    language = serializers.CharField(required=False)
    timezone = serializers.CharField(required=False)
    attributes = serializers.DictField(required=False)
    lists = serializers.ListField(child=serializers.CharField(), required=False)
    opted_out = serializers.BooleanField(required=False)


class ContactUpsertSerializer(serializers.Serializer[Any]):
    contacts = ContactUpsertRowSerializer(many=True)
    default_region = serializers.CharField(required=False, max_length=2)


class RejectedRowSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    reason = serializers.CharField()


class ContactUpsertResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = RejectedRowSerializer(many=True)


class ContactListSerializer(serializers.ModelSerializer[Any]):
    class Meta:
        model = ContactList
        fields = ["id", "name", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class MembershipSerializer(serializers.Serializer[Any]):
    contact_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=10_000
    )


class CountSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()


# --- templates, campaigns, inbound ------------------------------------------------------


class TemplateSerializer(serializers.ModelSerializer[Any]):
    class Meta:
        model = WhatsAppTemplate
        fields = [
            "id",
            "sender",
            "name",
            "language",
            "status",
            "category",
            "body_text",
            "header_format",
            "placeholders",
            "supported",
            "unsupported_reason",
            "last_synced_at",
        ]


class TemplatesSyncResultSerializer(serializers.Serializer[Any]):
    """What `POST /templates/sync` did for the sender: counts, unreadable templates, a summary."""

    sender = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    removed = serializers.IntegerField()
    unsupported = serializers.IntegerField()
    failure = serializers.CharField(allow_blank=True)
    summary = serializers.CharField()

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # `errors` is a Serializer attribute: the field is declared under its JSON name here.
        fields["errors"] = serializers.ListField(child=serializers.CharField())
        return fields


class ListNameField(serializers.SlugRelatedField[Any]):
    """A list by its name; a name holding NUL is refused before the lookup (PostgreSQL cannot
    compare it: psycopg raises ValueError, which would be a 500)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class FallbackStepField(serializers.Field[Any, Any, Any, Any]):
    """A fallback step: a channel name (`"sms"`), or `{"channel", "text", "sender",
    "validity_minutes"}`; always answered as the object."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            (step,) = fallback_steps([data])
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return step

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "a channel type"},
            {
                "type": "object",
                "properties": {
                    "channel": {"type": "string"},
                    "text": {"type": "string"},
                    "sender": {"type": "string"},
                    "validity_minutes": {"type": "integer", "nullable": True},
                },
                "required": ["channel"],
            },
        ]
    }
)
class FallbackStepSchemaField(FallbackStepField):
    pass


class VariantSerializer(serializers.Serializer[Any]):
    """One of a split test's 2–4 variants: a text, or a template and its placeholders."""

    name = serializers.CharField(max_length=20)
    text = serializers.CharField(required=False, allow_blank=True, default="")
    template = serializers.PrimaryKeyRelatedField(
        queryset=WhatsAppTemplate.objects.all(), required=False, allow_null=True, default=None
    )
    template_mapping = serializers.JSONField(required=False, default=dict)
    coupon = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class SplitTestSerializer(serializers.Serializer[Any]):
    """The test: shares of the whole audience, the winner rule and when it decides."""

    share = serializers.IntegerField(min_value=1, max_value=100, default=100)
    holdout = serializers.IntegerField(min_value=0, max_value=50, default=0)
    winner_by = serializers.ChoiceField(choices=WinnerBy.choices, default=WinnerBy.CLICKS)
    decide_after = serializers.CharField(default="PT4H", help_text="ISO 8601, from launch")
    if_undecided = serializers.CharField(
        default="leader", max_length=20, help_text="leader, none, or a variant's name"
    )

    def validate_decide_after(self, value: str) -> timedelta:
        parsed = parse_duration(value) if "\x00" not in value else None
        if parsed is None:
            raise serializers.ValidationError("an ISO 8601 duration such as PT4H")
        return parsed


def split_specs(data: dict[str, Any]) -> tuple[list[VariantSpec], SplitSpec | None]:
    """The `variants` and `test` of a campaign body as the split service takes them."""
    variants = [VariantSpec(**v) for v in data.pop("variants", None) or []]
    test = data.pop("test", None)
    spec = None
    if test is not None:
        spec = SplitSpec(
            share=test["share"],
            holdout=test["holdout"],
            winner_by=test["winner_by"],
            decide_after=test["decide_after"],
            if_undecided=test["if_undecided"],
        )
    return variants, spec


class SendWindowSerializer(serializers.Serializer[Any]):
    """The local hours in which sending is allowed (the command line's --send-window)."""

    start = serializers.TimeField(format="%H:%M")
    end = serializers.TimeField(format="%H:%M")


@extend_schema_field(SendWindowSerializer)
class SendWindowField(serializers.Field[Any, Any, Any, Any]):
    """A campaign's quiet hours as the window in which messages may go, in each recipient's
    local time (08:00–21:00: nothing between 21:00 and 08:00); null: the countries' rules."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", allow_null=True, **kwargs)

    def to_representation(self, value: Campaign) -> dict[str, Any] | None:
        start, end = value.quiet_hours_start, value.quiet_hours_end
        return {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"} if start and end else None

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        # null is a value here (no window of the campaign's own), not "absent".
        if data is None:
            return True, {"quiet_hours": None}
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        window = SendWindowSerializer(data=data)
        window.is_valid(raise_exception=True)
        return {"quiet_hours": (window.validated_data["start"], window.validated_data["end"])}


class CampaignSerializer(serializers.ModelSerializer[Any]):
    lists = ListNameField(
        many=True, slug_field="name", queryset=ContactList.objects.all(), required=False
    )
    send_window = SendWindowField(required=False)
    max_spend = serializers.DecimalField(
        max_digits=14,
        decimal_places=4,
        required=False,
        allow_null=True,
        min_value=Decimal("0.0001"),
    )
    exclude_lists = ListNameField(
        many=True, slug_field="name", queryset=ContactList.objects.all(), required=False
    )
    # Saved segments by name: the audience (with or without lists) and an exclusion.
    segment = ListNameField(
        slug_field="name", queryset=Segment.objects.all(), required=False, allow_null=True
    )
    exclude_segment = ListNameField(
        slug_field="name", queryset=Segment.objects.all(), required=False, allow_null=True
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=WhatsAppTemplate.objects.all(), required=False, allow_null=True
    )
    buttons = serializers.ListField(child=ButtonSerializer(), required=False, max_length=4)
    # The fallback chain, in order: ["rcs", "sms"] or objects with a text of their own.
    fallback = serializers.ListField(child=FallbackStepSchemaField(), required=False, max_length=3)
    # The SMS failover's old names: the chain's SMS step (`--sms-failover-text`).
    failover_text = serializers.CharField(required=False, allow_blank=True)
    failover_sender = serializers.CharField(required=False, allow_blank=True, max_length=64)
    failover_validity_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=1
    )
    variants = VariantSerializer(many=True, required=False)
    test = SplitTestSerializer(required=False, allow_null=True)
    exclude_countries = serializers.ListField(
        child=serializers.CharField(min_length=2, max_length=2),
        required=False,
        max_length=250,
        help_text="Destination countries left out of the audience (ISO codes)",
    )
    iys_recipient_type = serializers.ChoiceField(
        choices=["BIREYSEL", "TACIR"], required=False, allow_blank=True
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel",
            "sender",
            "text",
            "template",
            "template_mapping",
            "media_url",
            "buttons",
            "lists",
            "exclude_lists",
            "segment",
            "exclude_segment",
            "audience_match",
            "fallback",
            "failover_mode",
            "failover_text",
            "failover_sender",
            "send_at",
            "speed_limit",
            "speed_unit",
            "track_links",
            "sms_validity_minutes",
            "whatsapp_validity_minutes",
            "failover_validity_minutes",
            "state",
            "state_reason",
            "recipients",
            "created_at",
            "launched_at",
            "finished_at",
            "variants",
            "test",
            "send_window",
            "max_spend",
            "frequency_cap_override",
            "opt_out_footer",
            "dlt_template_id",
            "iys_recipient_type",
            "kr_title",
            "exclude_countries",
        ]
        read_only_fields = [
            "id",
            "state",
            "state_reason",
            "recipients",
            "created_at",
            "launched_at",
            "finished_at",
        ]
        extra_kwargs = {
            "channel": {"required": True},
            "sender": {
                "help_text": "A number or name; blank or `auto`: each recipient's "
                "country's sender (GET /senders), else the default"
            },
        }

    def validate_sender(self, value: str) -> str:
        return "" if sender_is_auto(value) else value.strip()

    def validate_exclude_countries(self, value: list[str]) -> list[str]:
        countries = sorted({c.strip().upper() for c in value})
        if unknown := [c for c in countries if not country_valid(c)]:
            raise serializers.ValidationError(f"not countries: {', '.join(unknown)}")
        return countries

    def to_representation(self, instance: Campaign) -> dict[str, Any]:
        data = super().to_representation(instance)
        variants = list(instance.variants.all()) if instance.pk else []
        data["variants"] = [
            {
                "name": v.name,
                "text": v.text,
                "template": v.template_id,
                "template_mapping": v.template_mapping,
                "coupon": v.coupon,
            }
            for v in variants
        ]
        split = SplitTest.objects.filter(campaign_id=instance.pk).first() if instance.pk else None
        data["test"] = None
        if split is not None:
            data["test"] = {
                "share": split.test_share,
                "holdout": split.holdout,
                "winner_by": split.winner_by,
                "decide_after": iso_duration(split.decide_after),
                "if_undecided": split.if_undecided,
            }
        return data


class CampaignStatusSerializer(serializers.Serializer[Any]):
    """The document of `campaign status ID --json` (INTERFACE.md)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    state = serializers.CharField()
    state_reason = serializers.CharField()
    channel = serializers.CharField()
    recipients = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    failover = serializers.DictField(child=serializers.IntegerField())
    fallback = serializers.ListField(child=serializers.CharField(), required=False)
    people = serializers.DictField(child=serializers.IntegerField())
    cost = serializers.DictField()
    launched_at = serializers.CharField(allow_null=True)
    finished_at = serializers.CharField(allow_null=True)
    track_links = serializers.BooleanField()
    validity_minutes = serializers.DictField(allow_null=True)
    clicks = serializers.DictField(required=False)
    # Split tests and conversions (INTERFACE "Split tests, holdouts and attribution").
    variants = serializers.ListField(child=serializers.DictField(), required=False)
    winner = serializers.CharField(required=False, allow_null=True)
    holdout = serializers.DictField(required=False)
    split = serializers.DictField(required=False)
    conversions = serializers.DictField(required=False)
    lift = serializers.DictField(required=False, allow_null=True)
    # Where the ledger went once archived (campaigns/history.py); null while it is live.
    history = serializers.DictField(allow_null=True, required=False)


class InboundSerializer(serializers.ModelSerializer[Any]):
    # The medium it came on (the registry's; the model, in infobip/, knows no choices).
    channel = serializers.ChoiceField(choices=MEDIUMS, read_only=True)

    class Meta:
        model = InboundMessage
        fields = [
            "id",
            "channel",
            "contact",
            "infobip_message_id",
            "from_number",
            "to_number",
            "message_type",
            "text",
            "keyword",
            "media_url",
            "received_at",
            "keyword_action",
        ]


# --- outbound events --------------------------------------------------------------------


class SubscriptionFiltersSerializer(serializers.Serializer[Any]):
    number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    keyword = serializers.CharField(max_length=64, required=False, allow_blank=True)


class EventSubscriptionSerializer(serializers.ModelSerializer[Any]):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), min_length=1
    )
    filters = SubscriptionFiltersSerializer(required=False)

    class Meta:
        model = EventSubscription
        fields = [
            "id",
            "url",
            "events",
            "filters",
            "enabled",
            "failing_since",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = ["id", "failing_since", "disabled_reason", "created_at"]

    def to_representation(self, instance: EventSubscription) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["filters"] = {"number": instance.filter_number, "keyword": instance.filter_keyword}
        return data


class EventSubscriptionCreatedSerializer(EventSubscriptionSerializer):
    """The answer to a create: the secret is shown this once."""

    secret = serializers.CharField(read_only=True)

    class Meta(EventSubscriptionSerializer.Meta):
        fields = [*EventSubscriptionSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer[Any]):
    class Meta:
        model = DeliveryAttempt
        fields = ["at", "status_code", "latency_ms", "response_excerpt", "error"]


class EventDeliverySerializer(serializers.ModelSerializer[Any]):
    # message.final rows store no body or webhook-id: the view fills them in from the ledger
    # (`api.delivery.deliveries_fill`), so the fields are read from the instance as sent.
    tries = DeliveryAttemptSerializer(many=True, read_only=True)
    webhook_id = serializers.CharField(read_only=True)
    payload = serializers.JSONField(read_only=True)

    class Meta:
        model = EventDelivery
        fields = [
            "id",
            "event_type",
            "webhook_id",
            "payload",
            "state",
            "attempts",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "tries",
        ]


# --- the custom call ----------------------------------------------------------------------


class InfobipRequestSerializer(serializers.Serializer[Any]):
    """`POST /infobip/request`: any Infobip endpoint that sends no message."""

    method = serializers.ChoiceField(choices=["GET", "POST", "PUT", "PATCH", "DELETE"])
    path = serializers.CharField(max_length=500, help_text="e.g. /sms/3/logs (no query)")
    query = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    body = serializers.JSONField(required=False, allow_null=True, default=None)


class InfobipAnswerSerializer(serializers.Serializer[Any]):
    """Infobip's answer as given: its HTTP status and its JSON body (text if not JSON)."""

    status = serializers.IntegerField()
    body = serializers.JSONField(allow_null=True)
