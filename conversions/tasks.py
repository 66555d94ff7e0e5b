"""Conversion tasks: thin wrappers that call one service."""

from celery import shared_task


@shared_task(name="conversions.tasks.splits_evaluate", ignore_result=True)
def splits_evaluate() -> None:
    """Beat: evaluate split tests, decide the due or certain ones, refresh recent figures."""
    from conversions.evaluate import splits_evaluate as evaluate

    evaluate()
