"""WhatsApp template tasks."""

import logging

from celery import shared_task

from whatsapp.services import templates_sync, templates_sync_all

logger = logging.getLogger(__name__)


@shared_task(name="whatsapp.tasks.sync_templates", ignore_result=True)
def sync_templates(sender: str | None = None) -> None:
    """Pull WhatsApp templates from Infobip (one sender, or every known sender on the beat)."""
    if sender:
        templates_sync(sender=sender)
        return
    for result in templates_sync_all():
        if not result.failure:
            logger.info("whatsapp templates of %s: %s", result.sender, result.summary())
