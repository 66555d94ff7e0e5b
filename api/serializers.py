"""Request and response shapes (they also make the OpenAPI document)."""

from typing import Any

from django.utils.choices import CallableChoiceIterator
from rest_framework import serializers

from api.models import DeliveryAttempt, EventDelivery, EventSubscription, EventType
from campaigns.models import Campaign, Message
from channels.registry import channel_choices, medium_choices
from contacts.models import ConsentSource, Contact, ContactList
from infobip.models import InboundMessage
from whatsapp.models import WhatsAppTemplate


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        # `fields` is the Serializer's own attribute: the field is declared by its JSON name here.
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField())
        )
        return fields


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --- transactional messages --------------------------------------------------------------


class ButtonValueSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0, max_value=9)
    parameter = serializers.CharField(max_length=2000)


class PlaceholdersSerializer(serializers.Serializer):
    body = serializers.ListField(child=serializers.CharField(max_length=1024), required=False)
    header = serializers.CharField(max_length=2000, required=False)
    buttons = ButtonValueSerializer(many=True, required=False)


class ButtonSerializer(serializers.Serializer):
    """A button under a Viber or RCS message: opens `url`, or (RCS) replies with `postback`."""

    text = serializers.CharField(max_length=30)
    url = serializers.URLField(max_length=2048, required=False, allow_blank=True)
    postback = serializers.CharField(max_length=200, required=False, allow_blank=True)


# The registered channel types, read each time a serializer is built (and the schema drawn):
# a type registered later is accepted and listed with no change here.
# (DRF's stubs ask for a Sequence; DRF itself iterates the choices, which is all this needs.)
CHANNELS: Any = CallableChoiceIterator(channel_choices)
MEDIUMS: Any = CallableChoiceIterator(medium_choices)


class MessageSendSerializer(serializers.Serializer):
    """Any registered channel: `sender` (or `from`), `to` (one number or a list), `text` or a
    template; Viber and RCS may add an `image` and `buttons`."""

    channel = serializers.ChoiceField(choices=CHANNELS)
    sender = serializers.CharField(max_length=64, required=False, allow_blank=True)
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

    def get_fields(self):
        fields = super().get_fields()
        # `from` is a Python keyword: the field is declared under its JSON name here.
        fields["from"] = serializers.CharField(max_length=64, required=False, allow_blank=True)
        return fields


class SentMessageSerializer(serializers.Serializer):
    to = serializers.CharField()
    messageId = serializers.CharField()
    state = serializers.CharField()
    reason = serializers.CharField(required=False)


class MessageSendResponseSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    messages = SentMessageSerializer(many=True)


class MessageSerializer(serializers.ModelSerializer):
    messageId = serializers.UUIDField(source="message_id", read_only=True)
    status = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    price = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id", "messageId", "campaign", "contact", "phone", "channel", "attempt", "state",
            "reason", "status", "error", "price", "parts", "text", "created_at", "accepted_at",
            "done_at",
        ]  # fmt: skip

    def get_status(self, obj: Message) -> dict:
        return {"groupName": obj.status_group, "id": obj.status_id, "name": obj.status_name}

    def get_error(self, obj: Message) -> dict | None:
        if not obj.error_name:
            return None
        return {
            "groupName": obj.error_group,
            "id": obj.error_id,
            "name": obj.error_name,
            "permanent": obj.error_permanent,
        }

    def get_price(self, obj: Message) -> dict | None:
        if obj.price is None:
            return None
        return {"amount": str(obj.price), "currency": obj.currency}


# --- contacts and lists ------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
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
            "id", "phone", "first_name", "last_name", "language", "timezone", "country",
            "attributes", "lists", "opted_out", "opted_out_at", "opted_out_source",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "phone", "country", "lists", "opted_out", "opted_out_at",
                            "opted_out_source", "created_at", "updated_at"]  # fmt: skip

    def validate_attributes(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be an object")
        return value


class ContactUpsertRowSerializer(serializers.Serializer):
    phone = serializers.CharField()
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    language = serializers.CharField(required=False)
    timezone = serializers.CharField(required=False)
    attributes = serializers.DictField(required=False)
    lists = serializers.ListField(child=serializers.CharField(), required=False)
    opted_out = serializers.BooleanField(required=False)


class ContactUpsertSerializer(serializers.Serializer):
    contacts = ContactUpsertRowSerializer(many=True)
    default_region = serializers.CharField(required=False, max_length=2)


class RejectedRowSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    reason = serializers.CharField()


class ContactUpsertResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = RejectedRowSerializer(many=True)


class ContactListSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactList
        fields = ["id", "name", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class MembershipSerializer(serializers.Serializer):
    contact_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=10_000
    )


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField()


# --- templates, campaigns, inbound ------------------------------------------------------


class TemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = WhatsAppTemplate
        fields = [
            "id", "sender", "name", "language", "status", "category", "body_text",
            "header_format", "placeholders", "supported", "unsupported_reason", "last_synced_at",
        ]  # fmt: skip


class TemplatesSyncResultSerializer(serializers.Serializer):
    """What `POST /templates/sync` did for the sender: counts, unreadable templates, a summary."""

    sender = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    removed = serializers.IntegerField()
    unsupported = serializers.IntegerField()
    failure = serializers.CharField(allow_blank=True)
    summary = serializers.CharField()

    def get_fields(self):
        fields = super().get_fields()
        # `errors` is a Serializer attribute: the field is declared under its JSON name here.
        fields["errors"] = serializers.ListField(child=serializers.CharField())
        return fields


class ListNameField(serializers.SlugRelatedField):
    """A list by its name; a name holding NUL is refused before the lookup (PostgreSQL cannot
    compare it: psycopg raises ValueError, which would be a 500)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class CampaignSerializer(serializers.ModelSerializer):
    lists = ListNameField(many=True, slug_field="name", queryset=ContactList.objects.all())
    exclude_lists = ListNameField(
        many=True, slug_field="name", queryset=ContactList.objects.all(), required=False
    )
    template = serializers.PrimaryKeyRelatedField(
        queryset=WhatsAppTemplate.objects.all(), required=False, allow_null=True
    )
    buttons = serializers.ListField(child=ButtonSerializer(), required=False, max_length=4)

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "channel", "sender", "text", "template", "template_mapping", "media_url",
            "buttons", "lists", "exclude_lists", "failover_mode", "failover_text",
            "failover_sender", "send_at", "speed_limit", "speed_unit", "track_links",
            "sms_validity_minutes",
            "whatsapp_validity_minutes", "failover_validity_minutes", "state", "state_reason",
            "recipients", "created_at", "launched_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = ["id", "state", "state_reason", "recipients", "created_at",
                            "launched_at", "finished_at"]  # fmt: skip
        extra_kwargs = {"channel": {"required": True}}


class CampaignStatusSerializer(serializers.Serializer):
    """The document of `campaign status ID --json` (INTERFACE.md)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    state = serializers.CharField()
    state_reason = serializers.CharField()
    channel = serializers.CharField()
    recipients = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    failover = serializers.DictField(child=serializers.IntegerField())
    people = serializers.DictField(child=serializers.IntegerField())
    cost = serializers.DictField()
    launched_at = serializers.CharField(allow_null=True)
    finished_at = serializers.CharField(allow_null=True)
    track_links = serializers.BooleanField()
    validity_minutes = serializers.DictField(allow_null=True)
    clicks = serializers.DictField(required=False)
    # Where the ledger went once archived (campaigns/history.py); null while it is live.
    history = serializers.DictField(allow_null=True, required=False)


class InboundSerializer(serializers.ModelSerializer):
    # The medium it came on (the registry's; the model, in infobip/, knows no choices).
    channel = serializers.ChoiceField(choices=MEDIUMS, read_only=True)

    class Meta:
        model = InboundMessage
        fields = [
            "id", "channel", "contact", "infobip_message_id", "from_number", "to_number",
            "message_type", "text", "keyword", "media_url", "received_at", "keyword_action",
        ]  # fmt: skip


# --- outbound events --------------------------------------------------------------------


class SubscriptionFiltersSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    keyword = serializers.CharField(max_length=64, required=False, allow_blank=True)


class EventSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), min_length=1
    )
    filters = SubscriptionFiltersSerializer(required=False)

    class Meta:
        model = EventSubscription
        fields = ["id", "url", "events", "filters", "enabled", "failing_since",
                  "disabled_reason", "created_at"]  # fmt: skip
        read_only_fields = ["id", "failing_since", "disabled_reason", "created_at"]

    def to_representation(self, instance: EventSubscription) -> dict:
        data = super().to_representation(instance)
        data["filters"] = {"number": instance.filter_number, "keyword": instance.filter_keyword}
        return data


class EventSubscriptionCreatedSerializer(EventSubscriptionSerializer):
    """The answer to a create: the secret is shown this once."""

    secret = serializers.CharField(read_only=True)

    class Meta(EventSubscriptionSerializer.Meta):
        fields = [*EventSubscriptionSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["at", "status_code", "latency_ms", "response_excerpt", "error"]


class EventDeliverySerializer(serializers.ModelSerializer):
    # message.final rows store no body or webhook-id: the view fills them in from the ledger
    # (`api.delivery.deliveries_fill`), so the fields are read from the instance as sent.
    tries = DeliveryAttemptSerializer(many=True, read_only=True)
    webhook_id = serializers.CharField(read_only=True)
    payload = serializers.JSONField(read_only=True)

    class Meta:
        model = EventDelivery
        fields = ["id", "event_type", "webhook_id", "payload", "state", "attempts",
                  "next_attempt_at", "created_at", "delivered_at", "tries"]  # fmt: skip
