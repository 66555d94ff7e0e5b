"""Conversion tasks: thin wrappers that call one service."""

from celery import Task, shared_task


@shared_task(name="conversions.tasks.splits_evaluate", ignore_result=True)
def splits_evaluate() -> None:
    """Beat: evaluate split tests, decide the due or certain ones, refresh recent figures."""
    from conversions.evaluate import splits_evaluate as evaluate

    evaluate()


@shared_task(
    bind=True, name="conversions.tasks.forward_conversions", ignore_result=True, max_retries=8
)
def forward_conversions(self: Task, conversion_ids: list[int]) -> None:
    """Forward a batch's credited SMS conversions to Infobip; retry the failed ones with backoff."""
    from conversions.services import conversions_forward

    result = conversions_forward(conversion_ids=conversion_ids, retrying=self.request.retries > 0)
    if result.retry:
        # Celery's retry, with only the ones left: 30 s, 60 s, 2 min … up to an hour.
        countdown = min(3600, 30 * 2**self.request.retries)
        raise self.retry(args=[result.retry], countdown=countdown)


@shared_task(name="conversions.tasks.forward_sweep", ignore_result=True)
def forward_sweep() -> None:
    """Beat: forward recent credited conversions whose task was lost (broker down, worker died)."""
    from django.utils import timezone

    from conversions.services import conversions_forward_stragglers

    conversions_forward_stragglers(now=timezone.now())
