from django.apps import AppConfig


class InfobipConfig(AppConfig):
    name = "infobip"
    verbose_name = "Infobip"
