"""The command's parallel import (checker processes + a writer thread) against the in-process one.

Same file, same options: the result (every count, sample and warning), the errors file and
the stored contacts, lists and consent must be identical. Real processes (spawn), real
PostgreSQL, committed transactions (the writer thread has its own connection).
"""

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from contacts import checkpool, importer
from contacts.csvfile import ImportFileError
from contacts.models import ConsentEvent, Contact, ListMembership
from contacts.services import contacts_import

pytestmark = [pytest.mark.integration]

CONTACT_FIELDS = [
    "phone",
    "first_name",
    "last_name",
    "language",
    "timezone",
    "country",
    "attributes",
    "opted_out",
    "opted_out_source",
]
ROWS = [
    ["+447400123456", "Ann", "", "en", "gold", ""],
    ["07400 123457", "Ben", "B", "de", "", "no"],
    ["", "", "", "", "", ""],  # blank
    ["", "Nobody", "", "", "", ""],  # missing phone
    ["not a number", "X", "", "", "", ""],
    ["+44 20 7946 0000", "Land", "", "", "", ""],  # landline: warning
    ["0800 123 4567", "Free", "", "", "", ""],  # toll-free: rejected
    ["+447400123456", "", "Later", "xx-1234567890", "silver", "yes"],  # duplicate, opts out
    ["447400123458", "Digits", "", "", "", ""],  # international digits / national
    ["+49 151 23456789", "Jan", "", "de-DE", "", ""],
    ["0044 7400 123459", "Zero", "", "", "", "maybe"],  # bad opted_out
    ["+3467" + "1234567", "Es", "", "", "", ""],
    ["+447400123457", "Ben again", "", "", "", ""],  # same as the national row 3
    ["+999 1234 5678", "Bad cc", "", "", "", ""],
]


def _file(tmp_path: Path, copies: int = 6) -> Path:
    path = tmp_path / "contacts.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["phone", "first_name", "last_name", "language", "tier", "opted_out"])
        for copy in range(copies):
            for row in ROWS:
                phone = row[0]
                if copy and phone and phone[-1].isdigit():  # new numbers per copy, same shapes
                    phone = phone[:-2] + f"{(int(phone[-2:]) + copy * 7) % 100:02d}"
                writer.writerow([phone, *row[1:]])
    return path


def _state() -> dict:
    return {
        "contacts": sorted(Contact.objects.values_list(*CONTACT_FIELDS)),
        "members": sorted(
            ListMembership.objects.values_list("contact__phone", "contact_list__name")
        ),
        "consent": sorted(
            ConsentEvent.objects.values_list("contact__phone", "source", "action", "note")
        ),
    }


def _wipe() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE contacts_listmembership, contacts_consentevent, contacts_contact, "
            "contacts_contactlist CASCADE"
        )


def _run(path: Path, errors: Path, **options) -> dict:
    result = contacts_import(
        source=path,
        list_name="pool",
        default_region="GB",
        errors_path=str(errors),
        batch_size=7,
        **options,
    ).as_dict()
    result.pop("elapsed")
    result.pop("errors_path")
    return result


@pytest.fixture
def pool_on_small_files(monkeypatch) -> list[int]:
    """Let the pool run on a test-sized file; count the batches it checked."""
    monkeypatch.setattr(importer, "POOL_MIN_BYTES", 0)
    checked: list[int] = []
    original = checkpool.CheckPool.checked

    def counting(self, batches, phones):
        for batch, results in original(self, batches, phones):
            checked.append(len(results))
            yield batch, results

    monkeypatch.setattr(checkpool.CheckPool, "checked", counting)
    return checked


def test_pool_and_writer_give_the_in_process_result(
    integration_env, transactional_db, tmp_path, pool_on_small_files
) -> None:
    path = _file(tmp_path)
    alone = _run(path, tmp_path / "errors-0.csv")
    alone_state = _state()
    assert pool_on_small_files == []  # workers=0: no pool
    for count in ("duplicates", "rejected", "warnings", "opted_out", "blank"):
        assert alone[count] > 0, count  # the file exercises every rule
    _wipe()
    pooled = _run(path, tmp_path / "errors-2.csv", workers=2)
    assert sum(pool_on_small_files) == pooled["rows"]  # every row was checked by the pool
    assert pooled == alone
    assert _state() == alone_state
    assert (tmp_path / "errors-2.csv").read_bytes() == (tmp_path / "errors-0.csv").read_bytes()
    # A re-import with the pool is a no-op, as in-process.
    again = _run(path, tmp_path / "errors-3.csv", workers=2)
    assert (again["created"], again["updated"], again["listed"]) == (0, 0, 0)
    assert _state() == alone_state


def test_pool_writes_nothing_on_a_bad_file(
    integration_env, transactional_db, tmp_path, pool_on_small_files
) -> None:
    path = _file(tmp_path)
    with path.open("a", encoding="utf-8") as fh:
        fh.write('+447400999999,"unclosed\n')
    with pytest.raises(ImportFileError, match="malformed CSV"):
        _run(path, tmp_path / "errors.csv", workers=2)
    assert not Contact.objects.exists()


def test_a_failed_write_stops_the_import_and_a_rerun_completes_it(
    integration_env, transactional_db, tmp_path, pool_on_small_files, monkeypatch
) -> None:
    path = _file(tmp_path)
    calls = 0
    original = importer.upsert_contacts

    def failing(rows):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("database went away")
        return original(rows)

    monkeypatch.setattr(importer, "upsert_contacts", failing)
    with pytest.raises(RuntimeError, match="went away"):
        _run(path, tmp_path / "errors.csv", workers=1)
    partial = Contact.objects.count()
    assert partial > 0  # the batches before the failure are committed
    monkeypatch.setattr(importer, "upsert_contacts", original)
    _run(path, tmp_path / "errors.csv", workers=1)
    done = _state()
    _wipe()
    _run(path, tmp_path / "errors.csv")
    assert _state() == done


def test_command_runs_the_pool(integration_env, transactional_db, tmp_path, capsys) -> None:
    # A file over the pool's threshold, imported by the command with its default workers.
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("phone,first_name,note\n")
        for i in range(30_000):
            fh.write(f"+44 7400 {(i * 7919) % 1_000_000:06d},Name {i},{'x' * 20}\n")
    assert path.stat().st_size >= importer.POOL_MIN_BYTES
    call_command("import_contacts", str(path), "--json", "--workers", "2")
    out = capsys.readouterr().out
    assert '"created": 30000' in out
    assert Contact.objects.count() == 30_000


def test_without_workers_no_process_and_no_thread_is_started(
    integration_env, transactional_db, tmp_path, pool_on_small_files, monkeypatch
) -> None:
    # The UI's Celery task calls the service without workers: a prefork child must not start
    # processes, and its import runs in its own thread, as before.
    def refuse(*args, **kwargs):
        raise AssertionError("started")

    monkeypatch.setattr(importer, "CheckPool", refuse)
    monkeypatch.setattr(importer, "_Writer", refuse)
    result = _run(_file(tmp_path), tmp_path / "errors.csv")
    assert result["created"] > 0
