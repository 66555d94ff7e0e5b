"""`/api/v1/`: the REST API, its OpenAPI document and the browsable API."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from api import (
    campaign_tests,
    conversations,
    conversions,
    journeys,
    reports,
    senders,
    views,
    views_audiences,
)

app_name = "api"

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="root"),
    # The document is public (it describes, it holds nothing); the committed copy is
    # docs/openapi.yaml (tests/api/test_schema.py keeps them equal).
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path("messages", views.MessagesView.as_view(), name="messages"),
    path("messages/<uuid:message_id>", views.MessageDetailView.as_view(), name="message"),
    path("contacts", views.ContactListView.as_view(), name="contacts"),
    path("contacts/upsert", views.ContactUpsertView.as_view(), name="contacts-upsert"),
    path("contacts/import", views_audiences.ContactImportView.as_view(), name="contacts-import"),
    path(
        "contacts/import/preview",
        views_audiences.ContactImportPreviewView.as_view(),
        name="contacts-import-preview",
    ),
    path("contacts/<int:pk>", views.ContactDetailView.as_view(), name="contact"),
    path(
        "contacts/<int:pk>/opt-out",
        views.ContactConsentView.as_view(opt_out=True),
        name="contact-opt-out",
    ),
    path(
        "contacts/<int:pk>/opt-in",
        views.ContactConsentView.as_view(opt_out=False),
        name="contact-opt-in",
    ),
    path("lists", views.ListsView.as_view(), name="lists"),
    path("lists/<int:pk>/members", views.ListMembersView.as_view(), name="list-members"),
    path("templates", views.TemplatesView.as_view(), name="templates"),
    path("templates/sync", views.TemplatesSyncView.as_view(), name="templates-sync"),
    path("campaigns", views.CampaignsView.as_view(), name="campaigns"),
    path("campaigns/<int:pk>", views.CampaignDetailView.as_view(), name="campaign"),
    path(
        "campaigns/<int:pk>/preview", views.CampaignPreviewView.as_view(), name="campaign-preview"
    ),
    path(
        "campaigns/<int:pk>/messages",
        views.CampaignMessagesView.as_view(),
        name="campaign-messages",
    ),
    path(
        "campaigns/<int:pk>/test", campaign_tests.CampaignTestView.as_view(), name="campaign-test"
    ),
    path(
        "campaigns/<int:pk>/tests",
        campaign_tests.CampaignTestsView.as_view(),
        name="campaign-tests",
    ),
    path("test-numbers", campaign_tests.TestNumbersView.as_view(), name="test-numbers"),
    path(
        "test-numbers/<int:pk>", campaign_tests.TestNumberDetailView.as_view(), name="test-number"
    ),
    *[
        path(
            f"campaigns/<int:pk>/{action}",
            views.CampaignActionView.as_view(action_name=action),
            name=f"campaign-{action}",
        )
        for action in ("launch", "pause", "resume", "cancel")
    ],
    path("segments", views_audiences.SegmentsView.as_view(), name="segments"),
    path("segments/preview", views_audiences.SegmentPreviewView.as_view(), name="segments-preview"),
    path("segments/<int:pk>", views_audiences.SegmentDetailView.as_view(), name="segment"),
    path(
        "segments/<int:pk>/count", views_audiences.SegmentCountView.as_view(), name="segment-count"
    ),
    path(
        "segments/<int:pk>/contacts",
        views_audiences.SegmentContactsView.as_view(),
        name="segment-contacts",
    ),
    path("attributes", views_audiences.AttributesView.as_view(), name="attributes"),
    path("attributes/<str:key>", views_audiences.AttributeDetailView.as_view(), name="attribute"),
    path(
        "campaigns/<int:pk>/request-approval",
        views.CampaignApprovalRequestView.as_view(),
        name="campaign-request-approval",
    ),
    path("inbound", views.InboundView.as_view(), name="inbound"),
    path(
        "conversations/<int:pk>/replies",
        conversations.ConversationRepliesView.as_view(),
        name="conversation-replies",
    ),
    path("conversions", conversions.ConversionsView.as_view(), name="conversions"),
    path(
        "conversions/<str:order_id>", conversions.ConversionDetailView.as_view(), name="conversion"
    ),
    path("reports/campaigns", reports.CampaignComparisonView.as_view(), name="report-campaigns"),
    path("reports/trends", reports.TrendsView.as_view(), name="report-trends"),
    path("snippets", reports.SnippetsView.as_view(), name="snippets"),
    path("senders", senders.SendersView.as_view(), name="senders"),
    path("senders/<int:pk>", senders.SenderDetailView.as_view(), name="sender"),
    path("event-subscriptions", views.SubscriptionsView.as_view(), name="subscriptions"),
    path(
        "event-subscriptions/<int:pk>", views.SubscriptionDetailView.as_view(), name="subscription"
    ),
    path(
        "event-subscriptions/<int:pk>/deliveries",
        views.SubscriptionDeliveriesView.as_view(),
        name="subscription-deliveries",
    ),
    path("infobip/request", views.InfobipRequestView.as_view(), name="infobip-request"),
    path("journeys", journeys.JourneysView.as_view(), name="journeys"),
    path("journeys/<int:pk>", journeys.JourneyDetailView.as_view(), name="journey"),
    path(
        "journeys/<int:pk>/entries", journeys.JourneyEntriesView.as_view(), name="journey-entries"
    ),
    *[
        path(
            f"journeys/<int:pk>/{action}",
            journeys.JourneyActionView.as_view(action_name=action),
            name=f"journey-{action}",
        )
        for action in ("activate", "pause", "resume", "archive", "move")
    ],
    path("events", journeys.EventsView.as_view(), name="events"),
    path("events/batch", journeys.EventsBatchView.as_view(), name="events-batch"),
    # Anything else under /api/v1/ (a bad id such as `/contacts/abc`): the JSON 404, not HTML.
    # [\s\S], not .: a path holding a newline (%0A) is an unknown API path too, not HTML.
    re_path(r"^[\s\S]*$", views.not_found),
]
