"""UI tasks: the contacts import job (progress is recorded on ImportJob)."""

from celery import shared_task

from ui.services import import_job_run


@shared_task(ignore_result=True)
def run_import(job_id: int) -> None:
    """Import one uploaded CSV (ImportJob id)."""
    import_job_run(job_id=job_id)
