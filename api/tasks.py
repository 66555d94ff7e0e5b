"""Event delivery tasks: thin, by id; backoff lives in the delivery rows (next_attempt_at)."""

from celery import shared_task
from django.utils import timezone

from api.delivery import subscription_deliver as deliver
from api.delivery import subscriptions_due


@shared_task(name="api.tasks.subscription_deliver", ignore_result=True)
def subscription_deliver(subscription_id: int) -> None:
    """Deliver a subscription's due events; schedule itself again for the next retry."""
    result = deliver(subscription_id=subscription_id)
    if subscription_deliver.app.conf.task_always_eager:
        return  # eager (tests, no broker): a countdown would run at once, forever; beat retries
    if result.more:
        subscription_deliver.delay(subscription_id)
    elif result.retry_at is not None:
        countdown = max((result.retry_at - timezone.now()).total_seconds(), 0.0)
        subscription_deliver.apply_async((subscription_id,), countdown=countdown)


@shared_task(name="api.tasks.events_deliver_due", ignore_result=True)
def events_deliver_due() -> None:
    """Beat: restart delivery for subscriptions with due events (a lost task, a restart)."""
    for pk in subscriptions_due():
        subscription_deliver.delay(pk)
