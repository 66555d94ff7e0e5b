"""The inbox's own records: the replies people send from a conversation, and its read/handled state.

Moved from ui/ (their tables keep their names) so the one reply service (inbox/conversations.py)
serves the pages, the API and the command line alike.
"""

from django.conf import settings
from django.db import models

from channels.registry import medium_choices


class ConversationReply(models.Model):
    """A reply a person sent from the inbox (on any reply medium), so the thread shows it."""

    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="conversation_replies"
    )
    channel = models.CharField(max_length=10, choices=medium_choices)  # the medium
    text = models.TextField()
    sender = models.CharField(max_length=64, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    status_name = models.CharField(max_length=100, blank=True, help_text="Infobip's answer")
    # The one-off ledger campaign the reply went out as (issue 26 #12: its delivery state comes
    # back like any message's); hidden from the marketer's campaign lists.
    campaign = models.OneToOneField(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbox_reply",
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)
    # The key the surface sent with the reply (the form's, the API's Idempotency-Key, --key):
    # a double click or a retry with the same key returns this reply instead of a second send.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, unique=True)

    class Meta:
        db_table = "ui_conversationreply"  # moved from ui/ (its table stays)
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["contact", "-sent_at"], name="ui_reply_contact_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} reply to {self.contact_id} at {self.sent_at:%H:%M}"


class ConversationState(models.Model):
    """Per-contact inbox state: when the thread was last read, and whether it is handled."""

    contact = models.OneToOneField(
        "contacts.Contact", on_delete=models.CASCADE, related_name="conversation_state"
    )
    read_at = models.DateTimeField(null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "ui_conversationstate"  # moved from ui/ (its table stays)

    def __str__(self) -> str:
        return f"conversation with {self.contact_id}"
