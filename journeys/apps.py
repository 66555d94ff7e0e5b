from django.apps import AppConfig


class JourneysConfig(AppConfig):
    """Journeys: triggered, multi-step automation on top of the campaign ledger.

    Sits between inbox (which hands it keyword messages and replies) and campaigns (whose
    ledger sends its messages). What happens below it reaches it through the owning apps'
    signals, connected here: a message delivered or failed (campaigns), a link clicked
    (infobip), a contact joining a list or changing (contacts) — and through the stored rows
    its engine reads.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from campaigns import signals as campaign_signals
        from contacts import signals as contact_signals
        from infobip import signals as infobip_signals
        from journeys import outcomes
        from journeys.segment_trigger import contacts_changed_receiver
        from journeys.triggers import list_joined_receiver
        from journeys.waits import links_clicked_receiver, messages_final_receiver

        campaign_signals.messages_final.connect(
            messages_final_receiver, dispatch_uid="journeys.delivered"
        )
        infobip_signals.links_clicked.connect(links_clicked_receiver, dispatch_uid="journeys.click")
        # `message` triggers: outcomes of Herald's messages let their contacts in.
        campaign_signals.messages_final.connect(
            outcomes.messages_final_receiver, dispatch_uid="journeys.outcome.final"
        )
        infobip_signals.links_clicked.connect(
            outcomes.links_clicked_receiver, dispatch_uid="journeys.outcome.click"
        )
        contact_signals.list_joined.connect(list_joined_receiver, dispatch_uid="journeys.list")
        # Segment triggers look again at contacts whose fields, lists or consent changed.
        for name, signal in (
            ("changed", contact_signals.contacts_changed),
            ("joined", contact_signals.list_joined),
            ("opted_in", contact_signals.contacts_opted_in),
            ("opted_out", contact_signals.contacts_opted_out),
        ):
            signal.connect(contacts_changed_receiver, dispatch_uid=f"journeys.segment.{name}")
