"""UI services: import jobs, replies from the inbox, sandbox inbound."""

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import phonenumbers
import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from channels.registry import UnknownChannel, channel_types, mediums, reply_type
from contacts.mapping import Column, mapping_from_json, mapping_json, mapping_layout
from contacts.models import Contact
from contacts.services import (
    ImportPreview,
    contacts_import_preview,
)
from core.logging import redact
from core.rules import Actor, actor_require, actor_user
from core.services import audit_record
from infobip.links import webhook_url
from infobip.models import InboundMessage
from ui.models import ImportJob

# Audit and approval moved to the services that decide (core, campaigns); these names stay
# importable from here for the pages that used them.
__all__ = [
    "UiError",
    "audit_record",
    "import_job_create",
    "import_job_preview",
    "import_job_run",
    "import_job_start",
    "inbound_reply",
]


class UiError(Exception):
    """An operation refused, with a message for the person who asked."""


def import_job_create(
    *,
    upload: UploadedFile[bytes],
    list_name: str,
    default_region: str,
    user: AbstractBaseUser,
    allow_sequential: bool = False,
) -> ImportJob:
    """Store an upload as a job waiting for its column mapping (import_job_start runs it)."""
    job = ImportJob(
        original_name=Path(upload.name or "contacts.csv").name[:255],
        list_name=list_name.strip()[:200],
        default_region=default_region.strip().upper()[:2],
        allow_sequential=allow_sequential,
        created_by=actor_user(user),
        status=ImportJob.Status.MAPPING,
    )
    job.file.save(f"{uuid.uuid4().hex}.csv", upload, save=False)
    job.save()
    return job


def import_job_preview(*, job: ImportJob) -> ImportPreview:
    """The job's file as the mapping step shows it (ImportFileError for a file it refuses)."""
    return contacts_import_preview(source=job.file.path, default_region=job.default_region or None)


@transaction.atomic
def import_job_start(
    *,
    job: ImportJob,
    columns: list[Column],
    list_name: str,
    default_region: str,
    user: AbstractBaseUser,
    allow_sequential: bool = False,
) -> ImportJob:
    """Check a mapping against the job's file, store it and enqueue the import; ImportFileError
    (or ValueError for an unknown region) says what to change, and the file stays."""
    from ui.tasks import run_import

    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJob.Status.MAPPING:
        raise UiError("this import has started already")
    region = default_region.strip().upper()[:2]
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"“{region}” is not a country code: use two letters such as GB.")
    preview = import_job_preview(job=job)
    mapping_layout(preview.header, columns, delimiter=preview.delimiter)  # refuses a bad one
    job.mapping = mapping_json(columns)
    job.encoding = preview.encoding
    job.list_name = list_name.strip()[:200]
    job.default_region = region
    job.allow_sequential = allow_sequential
    job.status = ImportJob.Status.PENDING
    job.save()
    audit_record(actor=user, action="import", detail=f"{job.original_name} (job {job.pk})")
    transaction.on_commit(lambda: run_import.delay(job.pk))
    return job


def import_job_run(*, job_id: int) -> ImportJob:
    """Run one import job, recording progress as the importer reports it."""
    from contacts.services import contacts_import

    job = ImportJob.objects.get(pk=job_id)
    if job.status not in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING):
        return job
    ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.RUNNING)
    errors_path = Path(job.file.path).with_name(f"errors-{job.pk}.csv")

    def progress(done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(processed=done, total=total)

    columns = job.mapping.get("columns") if isinstance(job.mapping, dict) else None
    try:
        result = contacts_import(
            source=job.file.path,
            list_name=job.list_name or None,
            default_region=job.default_region or None,
            errors_path=str(errors_path),
            allow_sequential=job.allow_sequential,
            progress=progress,
            source_name=job.original_name,
            columns=mapping_from_json(job.mapping, len(columns)) if columns else None,
            imported_by=job.created_by,
        )
    except Exception as exc:
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportJob.Status.FAILED, error=str(exc)[:1000], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.DONE,
        processed=result.rows,
        total=result.rows,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        rejected=result.rejected,
        summary=result.as_dict(),
        encoding=result.encoding,
        errors_file=str(errors_path) if result.rejected and errors_path.exists() else "",
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def reply_window_problem(
    medium: str, contact: Contact | None, now: dt.datetime | None = None
) -> str:
    """'' when a free-form reply on `medium` may go to `contact` now, else why not."""
    try:
        kind = reply_type(medium)
    except UnknownChannel as exc:
        return str(exc)
    if not kind.session_field or kind.session_window is None:
        return ""
    last = getattr(contact, kind.session_field) if contact is not None else None
    if kind.session_skip(last, now or timezone.now()):
        hours = int(kind.session_window.total_seconds() // 3600)
        return (
            f"the {hours}-hour {kind.medium_label} window is closed: only a template can be "
            "sent now"
        )
    return ""


def inbound_reply(
    *, inbound: InboundMessage, text: str, user: AbstractBaseUser, key: str = ""
) -> str:
    """Reply on the medium of `inbound` to its sender: the conversation's reply service (the
    ledger, the consent rule, the session window), without the transactional confirmation,
    which only the conversation page offers. Returns the reply's messageId."""
    from inbox.conversations import ReplyError, conversation_reply

    if inbound.contact is None:
        raise UiError("this sender is not a phone number Herald can reply to")
    try:
        reply = conversation_reply(
            contact=inbound.contact, channel=inbound.channel, text=text, actor=user, key=key
        )
    except ReplyError as exc:
        where = " (in the conversation)" if exc.field == "transactional" else ""
        raise UiError(f"{exc}{where}") from exc
    return reply.message_id


SIMULATE_INBOUND = "infobip.view_inboundmessage"


def sandbox_inbound(
    *, channel: str, sender: str, text: str, user: AbstractBaseUser
) -> dict[str, Any]:
    """Have the sandbox push an inbound message to this Herald's webhook (sandbox mode only).

    Needs the permission to read inbound messages (the inbox, where the form is): what is
    pushed acts as a person writing in (STOP opts them out). Refused raises core.rules.Refused.
    """
    actor_require(user, SIMULATE_INBOUND, doing="simulate inbound messages")
    if not settings.INFOBIP_SANDBOX:
        raise UiError("simulating inbound messages only works with the sandbox")
    kind = next((k for k in channel_types() if k.ledger == channel), None)
    if kind is None:
        raise UiError(f"channel must be one of {', '.join(mediums())}")
    body = {
        # The sandbox speaks Infobip's channel names; Herald's webhook for the medium.
        "channel": kind.infobip_channel.lower(),
        "from": sender.strip().lstrip("+"),
        "text": text,
        "url": webhook_url(kind.inbound_path),
    }
    try:
        answer = requests.post(
            settings.INFOBIP_SANDBOX_URL.rstrip("/") + "/_sandbox/inbound",
            json=body,
            headers={"Authorization": f"App {settings.INFOBIP_SANDBOX_API_KEY}"},
            timeout=15,
        )
    except requests.RequestException as exc:
        raise UiError(f"the sandbox did not answer: {type(exc).__name__}") from exc
    if not answer.ok:
        raise UiError(f"the sandbox refused: {redact(answer.text[:200])}")  # no token in a flash
    audit_record(actor=user, action="simulate_inbound", detail=f"{channel} from {sender}")
    answered: dict[str, Any] = answer.json()
    return answered


# --- Compatibility: approval moved to campaigns.services (issue #14) -----------------------
# Pages written against the old names keep working; new code calls campaigns.services.
from campaigns.models import Campaign, CampaignApproval  # noqa: E402
from campaigns.services import approval_required, campaign_approval_problem  # noqa: E402


def campaign_approve(*, campaign: Campaign, user: Actor) -> CampaignApproval:
    """Approve as `user` (old UI signature): campaigns.services.campaign_approve, as UiError."""
    from campaigns.services import campaign_approve as approve
    from core.rules import Refused

    try:
        return approve(campaign=campaign, actor=user)
    except Refused as exc:
        raise UiError(str(exc)) from exc


__all__ += ["approval_required", "campaign_approval_problem", "campaign_approve"]
