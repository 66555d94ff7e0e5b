"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path

from api.pages import api_settings

admin.site.site_header = "Herald administration"
admin.site.site_title = "Herald admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("infobip/", include("infobip.urls")),
    path("api/v1/", include("api.urls")),
    path("settings/api/", api_settings, name="api_settings"),
    path("", include("core.urls")),
    path("", include("contacts.urls")),  # the recipient's opt-out page, /o/<token>
]

# Under /api/ every error is the API's JSON shape; elsewhere Django's pages (api/errors.py).
handler400 = "api.errors.handler400"
handler403 = "api.errors.handler403"
handler404 = "api.errors.handler404"
handler500 = "api.errors.handler500"
