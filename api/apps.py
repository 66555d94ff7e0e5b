from django.apps import AppConfig


class ApiConfig(AppConfig):
    """REST API and outbound events; the other apps never import this one (signals flow in)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API and events"

    def ready(self) -> None:
        # Connect the emitters to the owning apps' signals (campaigns, contacts, infobip).
        from drf_spectacular.plumbing import _load_enum_name_overrides

        from api import emit
        from channels.registry import on_change

        emit.connect()
        # The schema's enum names are cached from the registry's choices (ENUM_NAME_OVERRIDES):
        # a type registered or removed at run time (a test's throw-away type) must redraw them.
        on_change(_load_enum_name_overrides.cache_clear)
