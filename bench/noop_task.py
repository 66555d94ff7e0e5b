"""A no-op task for bench.broker: appends its argument to a file so the bench can count."""

import os

from celery import shared_task


@shared_task(name="bench.noop", ignore_result=True)
def noop(i: int) -> None:
    """Record that task `i` ran."""
    with open(os.environ["BENCH_DONE_FILE"], "a") as fh:
        fh.write(f"{i}\n")
