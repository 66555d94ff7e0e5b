from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """Journeys: triggered, multi-step automation on top of the campaign ledger.

    Sits between inbox (which hands it keyword messages and replies) and campaigns (whose
    ledger sends its messages). What happens below it reaches it through the owning apps'
    signals, connected here: a message delivered (campaigns), a link clicked (infobip), a
    contact joining a list (contacts) — and through the stored rows its engine reads.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from campaigns import signals as campaign_signals
        from contacts import signals as contact_signals
        from infobip import signals as infobip_signals
        from journeys.triggers import list_joined_receiver
        from journeys.waits import links_clicked_receiver, messages_final_receiver

        campaign_signals.messages_final.connect(
            messages_final_receiver, dispatch_uid="journeys.delivered"
        )
        infobip_signals.links_clicked.connect(links_clicked_receiver, dispatch_uid="journeys.click")
        contact_signals.list_joined.connect(list_joined_receiver, dispatch_uid="journeys.list")
