"""Pages that belong to no single app."""

from django.urls import path
from django.views.generic import RedirectView

from core import views

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    # The marketer UI replaces this with its dashboard; until then the admin is the front door.
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
]
