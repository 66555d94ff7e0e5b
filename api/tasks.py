"""Event delivery tasks: thin, by id; backoff lives in the delivery rows (next_attempt_at)."""

from celery import shared_task
from django.utils import timezone

from api.delivery import delivery_defer, ingestion_busy, subscriptions_due
from api.delivery import subscription_deliver as deliver

# Event delivery yields to report ingestion: while pushes wait to be processed, a deliverer
# steps back for YIELD_STEP seconds, at most YIELD_FOR seconds in all (events are asynchronous
# and at least once; Infobip's pushes time out and are retried, so they come first). One
# deferred task per subscription holds a short lease; the tasks that find it held end there.
YIELD_STEP = 1.0
YIELD_FOR = 120.0


@shared_task(name="api.tasks.subscription_deliver", ignore_result=True)
def subscription_deliver(subscription_id: int, waited: float = 0.0) -> None:
    """Deliver a subscription's due events; schedule itself again for the next retry."""
    eager = subscription_deliver.app.conf.task_always_eager
    yielding = not eager and waited < YIELD_FOR
    if yielding and ingestion_busy():
        if delivery_defer(subscription_id=subscription_id, seconds=YIELD_STEP):
            subscription_deliver.apply_async(
                (subscription_id, waited + YIELD_STEP), countdown=YIELD_STEP
            )
        return
    # A storm that starts mid-run stops it after the wave in flight (and the next task waits).
    result = deliver(subscription_id=subscription_id, yield_to=ingestion_busy if yielding else None)
    if eager:
        return  # eager (tests, no broker): a countdown would run at once, forever; beat retries
    if result.more:  # the rest of the queue: the same chain, so it yields no longer in all
        subscription_deliver.delay(subscription_id, waited)
    elif result.retry_at is not None:
        countdown = max((result.retry_at - timezone.now()).total_seconds(), 0.0)
        subscription_deliver.apply_async((subscription_id,), countdown=countdown)


@shared_task(name="api.tasks.events_deliver_due", ignore_result=True)
def events_deliver_due() -> None:
    """Beat: restart delivery for subscriptions with due events (a lost task, a restart)."""
    for pk in subscriptions_due():
        subscription_deliver.delay(pk)
