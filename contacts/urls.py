"""Public pages of the contacts app: the personal opt-out link (`{{opt_out_url}}`)."""

from django.urls import path

from contacts.views import opt_out_page

app_name = "contacts"

urlpatterns = [
    path("o/<str:token>", opt_out_page, name="opt_out"),
]
