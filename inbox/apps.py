from django.apps import AppConfig


class InboxConfig(AppConfig):
    """Inbound messages: keywords (opt-out, opt-in, help), their replies, the conversation.

    Its own app because it sits above both campaigns/ (an opt-out skips queued messages) and
    contacts/ (consent), and below the pages; the rows it writes keep living in infobip's
    tables (infobip.models.InboundMessage), where the raw pushes they come from are kept.
    """

    name = "inbox"
    verbose_name = "Inbox"

    def ready(self) -> None:
        from inbox.services import inbound_store, marketing_preferences_apply
        from infobip.receivers import receivers_register

        receivers_register(inbound=inbound_store, marketing=marketing_preferences_apply)
