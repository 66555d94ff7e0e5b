from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    """The registry of channel types (channels/registry.py) and the senders per country."""

    name = "channels"
    verbose_name = "Channels"

    def ready(self) -> None:
        # A type that cannot be imported, or declares too little, fails at start-up.
        from channels import checks  # noqa: F401  (registers the system checks)
        from channels.registry import import_builtins

        import_builtins()
