"""Pages that belong to no single app."""

from django.urls import include, path

from core import views

urlpatterns = [
    path("healthz/", views.healthz, name="healthz"),
    path("healthz/live/", views.healthz_live, name="healthz_live"),
    path("", include("ui.urls")),
]
