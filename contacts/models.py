"""Contacts: who a campaign goes to, the lists they are on, and their consent.

Opt-out is global: an opted-out contact gets no campaign message on any channel (INTERFACE.md,
"Inbound keywords"). `opted_out_channel` records the channel the opt-out arrived through
(`all` when it was not channel-specific, e.g. an admin action or an import).
"""

from django.conf import settings
from django.db import models

from contacts.attributes import AttributeType


class ConsentSource(models.TextChoices):
    KEYWORD = "keyword", "Keyword (STOP/START)"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Admin"
    PROVIDER_ERROR = "provider_error", "Provider error"
    API = "api", "API"
    LINK = "link", "Opt-out link"
    PHRASE = "phrase", "Reply phrase"
    JOURNEY = "journey", "Journey step"


class ConsentChannel(models.TextChoices):
    ALL = "all", "All channels"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"


class ConsentAction(models.TextChoices):
    OPT_OUT = "opt_out", "Opted out"
    OPT_IN = "opt_in", "Opted back in"
    LEFT_LIST = "left_list", "Left a list"


class ContactList(models.Model):
    """A named group of contacts a campaign can target."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """One reachable person, identified by a mobile number in E.164."""

    # E.164 is at most 15 digits plus the "+". Unique through Meta.constraints, not unique=True:
    # that would add a varchar_pattern_ops twin of the index that no query can use.
    phone = models.CharField(max_length=16)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    language = models.CharField(max_length=20, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    # ISO 3166-1 alpha-2 region of the number (phonenumbers); blank for non-geographic numbers.
    country = models.CharField(max_length=2, blank=True)
    # Free values usable as {{placeholders}} in messages; keys are snake_case.
    attributes = models.JSONField(default=dict, blank=True)
    lists = models.ManyToManyField(
        ContactList, through="ListMembership", related_name="contacts", blank=True
    )

    opted_out = models.BooleanField(default=False, db_index=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    opted_out_source = models.CharField(max_length=20, choices=ConsentSource.choices, blank=True)
    opted_out_channel = models.CharField(max_length=16, choices=ConsentChannel.choices, blank=True)

    # The last inbound WhatsApp message opens the 24-hour customer-service window.
    whatsapp_last_inbound_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        # Explicit indexes rather than unique=True / db_index=True, which on PostgreSQL also build
        # a varchar_pattern_ops `_like` twin for case-sensitive LIKE 'x%' - and nothing here runs
        # one: the searches are `contains` / `icontains` / `istartswith` (a leading % or UPPER(),
        # which no btree serves). Three fewer index writes per inserted or updated contact.
        # The constraint keeps the name PostgreSQL gave the unique=True one (migration 0003).
        constraints = [models.UniqueConstraint(fields=["phone"], name="contacts_contact_phone_key")]
        indexes = [
            models.Index(fields=["language"], name="contact_language_idx"),
            models.Index(fields=["country"], name="contact_country_idx"),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{self.phone} ({name})" if name else self.phone

    def placeholder_values(self) -> dict[str, str]:
        """Values a message template may use: attributes, overridden by the contact's fields."""
        values = {str(k): "" if v is None else str(v) for k, v in self.attributes.items()}
        values.update(
            phone=self.phone,
            first_name=self.first_name,
            last_name=self.last_name,
            language=self.language,
            country=self.country,
        )
        return values


class AttributeDefinition(models.Model):
    """A contact attribute's declared type, so numbers compare as numbers and dates as dates.

    Keys without a declaration are text, as every attribute was before types existed
    (contacts/attributes.py says what a declaration changes).
    """

    key = models.CharField(max_length=64, unique=True, help_text="As placeholders name it")
    label = models.CharField(max_length=100, blank=True, help_text="What people call it")
    type = models.CharField(max_length=10, choices=AttributeType.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_type_display().lower()})"


class ListMembership(models.Model):
    """A contact on a list; explicit so bulk inserts can use ignore_conflicts.

    No foreign-key constraint in the database: two deferred checks per row (one per key) were
    most of an import's database time. Statement-level triggers hold the same guarantee once
    per statement (migration contacts/0005, docs/DATABASE.md "Memberships"): an insert or
    update whose contact or list does not exist fails with foreign_key_violation, and
    deleting a contact or a list deletes its memberships, whoever deletes (the ORM cascades
    too).
    """

    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="memberships", db_constraint=False
    )
    # The unique constraint below leads with contact_list, so it serves list lookups.
    contact_list = models.ForeignKey(
        ContactList,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
        db_constraint=False,
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_list", "contact"], name="contacts_membership_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.contact_list_id}"


class ConsentEvent(models.Model):
    """One change of a contact's consent, kept forever as the audit trail."""

    # The history index below leads with contact, so the FK needs no index of its own.
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="consent_events", db_index=False
    )
    action = models.CharField(max_length=10, choices=ConsentAction.choices)
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    channel = models.CharField(max_length=16, choices=ConsentChannel.choices, default="all")
    note = models.CharField(max_length=500, blank=True)
    # What the person was shown when they consented (an opt-in keyword's terms), and which
    # version of that wording it was (contacts/consent.py); blank for other changes.
    wording = models.TextField(blank=True)
    wording_version = models.PositiveIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When it happened as its source says, where that is not when Herald recorded it: the
    # consent date column of an import. Null: at created_at.
    occurred_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "-created_at"], name="contacts_consent_hist_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} via {self.source} ({self.created_at:%Y-%m-%d %H:%M})"


class RevocationReview(models.Model):
    """A reply that may revoke consent (contacts/phrases.py): a person decides by `due_on`."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    # The inbound message's id (infobip app); a plain integer, contacts sits below infobip.
    inbound_id = models.BigIntegerField(unique=True)
    text = models.TextField()
    language = models.CharField(max_length=8, blank=True)
    received_at = models.DateTimeField()
    due_on = models.DateField(help_text="10 business days after it was received")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=20, blank=True)  # opted_out | kept
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(
                fields=["due_on"], condition=models.Q(resolved_at__isnull=True), name="review_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.text[:40]} (due {self.due_on})"


class OptInKeyword(models.Model):
    """A word people text to join (JOIN, SUBSCRIBE…): adds them to a list, sends the terms."""

    keyword = models.CharField(max_length=40, help_text="Matched as the first word, any case")
    # Our number it applies to (international digits, as Infobip writes it); blank: any.
    number = models.CharField(max_length=20, blank=True)
    contact_list = models.ForeignKey(ContactList, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(
        max_length=16, choices=ConsentChannel.choices, default=ConsentChannel.SMS
    )
    confirmation_text = models.TextField(
        help_text="Brand, frequency, 'Msg & data rates may apply', STOP to end, HELP for help"
    )
    double_opt_in = models.BooleanField(default=False, help_text="They must reply YES first")
    confirm_prompt = models.TextField(
        blank=True, help_text="Double opt-in: the terms and 'Reply YES to confirm'"
    )
    wording_version = models.PositiveIntegerField(default=1, editable=False)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["keyword", "number"], name="opt_in_keyword_unique")
        ]

    def __str__(self) -> str:
        return f"{self.keyword} → {self.contact_list}"


class PendingOptIn(models.Model):
    """A double opt-in waiting for the person's YES."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    keyword = models.ForeignKey(OptInKeyword, on_delete=models.CASCADE, related_name="+")
    wording = models.TextField()
    wording_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "-created_at"], name="pending_opt_in_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} awaiting YES to {self.keyword_id}"
