from django.apps import AppConfig


class ApiConfig(AppConfig):
    """REST API and outbound events; the other apps never import this one (signals flow in)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API and events"

    def ready(self) -> None:
        # Connect the emitters to the owning apps' signals (campaigns, contacts, infobip).
        from api import emit

        emit.connect()
