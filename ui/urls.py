"""The marketer UI's pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from ui.views import (
    approvals,
    campaigns,
    contacts,
    conversations,
    dashboard,
    editing,
    inbox,
    people,
    preferences,
    templates,
    wizard,
)

app_name = "ui"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="ui/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", dashboard.dashboard, name="dashboard"),
    path("dashboard/campaigns/", dashboard.dashboard_campaigns, name="dashboard_campaigns"),
    path("audit/", dashboard.audit, name="audit"),
    path("settings/", preferences.preferences, name="preferences"),
    path("contacts/", contacts.contact_list, name="contacts"),
    path("contacts/import/", contacts.contact_import, name="contact_import"),
    path("contacts/new/", people.contact_new, name="contact_new"),
    path("contacts/bulk/", people.contacts_bulk, name="contacts_bulk"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact"),
    path("contacts/<int:pk>/edit/", people.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", people.contact_remove, name="contact_delete"),
    path("lists/<int:pk>/", people.list_detail, name="list"),
    path("lists/<int:pk>/delete/", people.list_delete, name="list_delete"),
    path("contacts/<int:pk>/consent/", contacts.contact_consent, name="contact_consent"),
    path("imports/<int:pk>/", contacts.import_status, name="import"),
    path("imports/<int:pk>/errors.csv", contacts.import_errors, name="import_errors"),
    path("lists/", contacts.lists, name="lists"),
    path("templates/", templates.template_list, name="templates"),
    path("templates/sync/", templates.template_sync, name="template_sync"),
    path("templates/<int:pk>/", templates.template_detail, name="template"),
    path("campaigns/", campaigns.campaign_list, name="campaigns"),
    path("campaigns/new/", wizard.audience, name="wizard_audience"),
    path("campaigns/new/count/", wizard.audience_count, name="wizard_count"),
    path("campaigns/new/message/", wizard.message, name="wizard_message"),
    path("campaigns/new/template-form/", wizard.template_form, name="wizard_template_form"),
    path("campaigns/new/options/", wizard.options, name="wizard_options"),
    path("campaigns/sms-counter/", wizard.sms_counter, name="sms_counter"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/preview/", campaigns.campaign_preview_page, name="campaign_preview"),
    path("campaigns/<int:pk>/test/", campaigns.campaign_test, name="campaign_test"),
    path(
        "campaigns/<int:pk>/progress/",
        campaigns.campaign_progress_fragment,
        name="campaign_progress",
    ),
    path(
        "campaigns/<int:pk>/recipients/", campaigns.campaign_recipients, name="campaign_recipients"
    ),
    path("campaigns/<int:pk>/export.csv", campaigns.campaign_export_csv, name="campaign_export"),
    path("campaigns/<int:pk>/make-list/", campaigns.campaign_make_list, name="campaign_make_list"),
    path("campaigns/<int:pk>/do/<str:action>/", campaigns.campaign_action, name="campaign_action"),
    path("campaigns/<int:pk>/edit/", wizard.edit, name="campaign_edit"),
    path("campaigns/<int:pk>/duplicate/", editing.duplicate, name="campaign_duplicate"),
    path("campaigns/<int:pk>/reschedule/", editing.reschedule, name="campaign_reschedule"),
    path("campaigns/<int:pk>/delete/", editing.delete, name="campaign_delete"),
    path("approvals/", approvals.approval_queue, name="approvals"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/<int:pk>/reply/", inbox.inbox_reply, name="inbox_reply"),
    path("inbox/threads/", conversations.threads_fragment, name="threads"),
    path("inbox/contact/<int:pk>/", conversations.thread, name="thread"),
    path("inbox/contact/<int:pk>/messages/", conversations.thread_messages, name="thread_messages"),
    path("inbox/contact/<int:pk>/reply/", conversations.thread_reply, name="thread_reply"),
    path("inbox/contact/<int:pk>/handled/", conversations.thread_handled, name="thread_handled"),
    path("sandbox/inbound/", inbox.sandbox_simulate, name="sandbox_inbound"),
]
