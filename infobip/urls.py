"""Infobip webhook URLs (Infobip → Herald)."""

app_name = "infobip"

urlpatterns: list = []
