from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        # The ledger receives what Infobip reports (infobip.receivers explains why a registry).
        from campaigns import checks  # noqa: F401  (registers the system checks)
        from campaigns.clicks import clicks_store
        from campaigns.outcomes import reports_apply, seen_apply
        from infobip.receivers import receivers_register

        receivers_register(reports=reports_apply, seen=seen_apply, clicks=clicks_store)
