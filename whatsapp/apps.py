from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp templates"

    def ready(self) -> None:
        # Template status updates pushed by Infobip land here (see infobip.receivers).
        from infobip.receivers import receivers_register
        from whatsapp.services import template_apply_update_event

        receivers_register(template_updates=template_apply_update_event)
