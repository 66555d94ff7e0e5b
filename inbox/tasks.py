"""Inbox tasks: thin wrappers that take ids and call one service (imported in the body:
inbox.services imports this module to enqueue)."""

from celery import Task, shared_task


# The name is the one already-queued messages carry (the task lived in infobip.tasks).
@shared_task(
    name="infobip.tasks.send_keyword_reply",
    bind=True,
    ignore_result=True,
    max_retries=6,
)
def send_keyword_reply(self: Task, inbound_id: int) -> None:
    """Send the confirmation of an inbound keyword (claimed first: never sent twice)."""
    from inbox.services import ReplyRetry, inbound_reply_give_up, inbound_reply_send

    try:
        inbound_reply_send(inbound_id=inbound_id)
    except ReplyRetry as exc:
        if self.request.retries >= self.max_retries:
            inbound_reply_give_up(inbound_id=inbound_id, error=str(exc))
            return
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from exc
