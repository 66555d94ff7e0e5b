"""Inbox tests post real pushes: the webhook tests' poster and fake Infobip, reused."""

from tests.infobip.webhooks.conftest import infobip_api, post  # noqa: F401
