"""Events, journey entries and journey members keep a foreign key's guarantees without its
per-row checks (migration journeys/0005): one check per statement, cascades per delete, the
advisory lock of list memberships for the race. Rows are written in raw SQL: the ORM's own
cascade would get there first otherwise."""

import threading

import psycopg
import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from campaigns.erasure import contact_erase
from contacts.models import Contact
from core.rules import OPERATOR
from journeys.events import events_record
from journeys.models import EntryStep, Event, JourneyEntry, JourneyMember
from tests.fixtures import worker

EVENT = (
    "INSERT INTO journeys_event (name, contact_id, key, properties, occurred_at, received_at,"
    " source) VALUES ('bought', %s, '', '{}', now(), now(), 'api')"
)
MEMBER = (
    "INSERT INTO journeys_journeymember (journey_id, contact_id, entries, last_entered_at)"
    " VALUES (%s, %s, 1, now())"
)
ENTRY = (
    "INSERT INTO journeys_journeyentry (journey_id, version_id, contact_id, event_id, seq, key,"
    " unique_key, source, properties, state, step, phase, due_at, wait_event, resolved,"
    " steps_taken, entered_at, exit_reason) VALUES (%s, %s, %s, %s, 1, '', false, %s, '{}',"
    " 'active', 'wait1', 'ready', now(), '', '', 0, now(), '')"
)
DEFINITION = {
    "name": "Bought",
    "trigger": {"type": "event", "event": "bought"},
    "reentry": "always",
    "steps": [{"id": "wait1", "type": "wait", "for": "P1D"}],
}


def _sql(statement: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _refused(statement: str, *params: object) -> None:
    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        _sql(statement, *params)


@pytest.fixture
def story(live_journey):
    """A live journey, a contact with an event, an entry of it with one ledger row, a member."""
    journey = live_journey(dict(DEFINITION))
    contact = Contact.objects.create(phone="+447946000001")
    result = events_record(events=[{"name": "bought", "contact": {"id": contact.pk}}])
    assert result.events[0]["journeys"] == [{"id": journey.pk, "entered": True}]
    entry = JourneyEntry.objects.get(contact=contact)
    EntryStep.objects.create(
        entry=entry, n=1, step_id="wait1", step_type="wait", at=timezone.now(), outcome="waited"
    )
    return journey, contact, entry


@pytest.mark.django_db
def test_rows_naming_a_missing_contact_journey_version_or_event_are_refused(story) -> None:
    journey, contact, entry = story
    missing = 10**9
    event = entry.event_id
    _refused(EVENT, missing)
    _refused(MEMBER, journey.pk, missing)
    _refused(MEMBER, missing, contact.pk)
    version = journey.version_id
    _refused(ENTRY, journey.pk, version, missing, None, "a")
    _refused(ENTRY, missing, version, contact.pk, None, "b")
    _refused(ENTRY, journey.pk, missing, contact.pk, None, "c")
    _refused(ENTRY, journey.pk, version, contact.pk, missing, "d")
    # A statement is refused whole: the good row of it is not kept either.
    other = Contact.objects.create(phone="+447946000002")
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.bulk_create(
            [
                Event(
                    name="x", contact_id=cid, occurred_at=timezone.now(), received_at=timezone.now()
                )
                for cid in (other.pk, missing)
            ]
        )
    assert not Event.objects.filter(contact=other).exists()
    # An update that changes a key to a missing row is refused too.
    _refused("UPDATE journeys_event SET contact_id = %s WHERE id = %s", missing, event)
    _refused("UPDATE journeys_journeyentry SET version_id = %s WHERE id = %s", missing, entry.pk)
    _refused("UPDATE journeys_journeyentry SET event_id = %s WHERE id = %s", missing, entry.pk)
    _refused("UPDATE journeys_journeymember SET journey_id = %s", missing)
    # Rows naming what exists are kept.
    _sql(ENTRY, journey.pk, version, other.pk, event, "e")
    _sql("UPDATE journeys_journeyentry SET contact_id = %s WHERE id = %s", other.pk, entry.pk)
    assert JourneyEntry.objects.filter(contact=other).count() == 2


@pytest.mark.django_db
def test_deleting_a_contact_in_sql_deletes_its_events_entries_ledger_and_members(story) -> None:
    _journey, contact, entry = story
    other = Contact.objects.create(phone="+447946000002")
    events_record(events=[{"name": "bought", "contact": {"id": other.pk}}])
    _sql("DELETE FROM contacts_contact WHERE id = %s", contact.pk)
    assert list(Event.objects.values_list("contact_id", flat=True)) == [other.pk]
    assert list(JourneyEntry.objects.values_list("contact_id", flat=True)) == [other.pk]
    assert list(JourneyMember.objects.values_list("contact_id", flat=True)) == [other.pk]
    assert not EntryStep.objects.filter(entry_id=entry.pk).exists()


@pytest.mark.django_db
def test_erasing_a_contact_removes_its_journey_rows_and_keeps_the_others(story) -> None:
    journey, contact, entry = story
    other = Contact.objects.create(phone="+447946000002")
    events_record(events=[{"name": "bought", "contact": {"id": other.pk}}])
    contact_erase(contact=contact, actor=OPERATOR)
    assert not Event.objects.filter(contact_id=contact.pk).exists()
    assert not JourneyEntry.objects.filter(contact_id=contact.pk).exists()
    assert not JourneyMember.objects.filter(contact_id=contact.pk).exists()
    assert not EntryStep.objects.filter(entry_id=entry.pk).exists()
    assert JourneyEntry.objects.filter(contact=other, journey=journey).count() == 1
    assert Event.objects.filter(contact=other).count() == 1


@pytest.mark.django_db
def test_a_deleted_event_leaves_its_entries_and_a_named_version_cannot_go(story) -> None:
    journey, _contact, entry = story
    _sql("DELETE FROM journeys_event WHERE id = %s", entry.event_id)
    entry.refresh_from_db()
    assert entry.event_id is None  # SET NULL, as the model says
    with pytest.raises(IntegrityError, match="cannot be deleted"), transaction.atomic():
        _sql("DELETE FROM journeys_journeyversion WHERE id = %s", journey.version_id)
    assert JourneyEntry.objects.filter(version_id=journey.version_id).count() == 1


@pytest.mark.django_db
def test_deleting_a_journey_in_sql_deletes_its_entries_ledger_and_members(story) -> None:
    journey, _contact, _entry = story
    with transaction.atomic():
        _sql("DELETE FROM journeys_journey WHERE id = %s", journey.pk)
        assert not JourneyEntry.objects.exists()
        assert not JourneyMember.objects.exists()
        assert not EntryStep.objects.exists()
        transaction.set_rollback(True)  # the versions' own foreign key would refuse the commit


@pytest.mark.django_db(transaction=True)
def test_a_delete_waits_for_an_events_batch_in_flight_and_then_takes_its_rows(
    live_journey,
) -> None:
    journey = live_journey(dict(DEFINITION))
    contact = Contact.objects.create(phone="+447946000001")
    with psycopg.connect(worker.test_database_url()) as api:
        # An events batch stored an event, let the contact in and has not committed yet …
        event = api.execute(EVENT + " RETURNING id", [contact.pk]).fetchone()[0]  # type: ignore[index]
        api.execute(MEMBER, [journey.pk, contact.pk])
        api.execute(ENTRY, [journey.pk, journey.version_id, contact.pk, event, f"event:{event}"])

        def delete() -> None:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [contact.pk])
            connection.close()

        thread = threading.Thread(target=delete)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # … so the delete waits for it …
        api.commit()
    thread.join(10)
    connections.close_all()
    # … and then removes what it wrote: nothing is left pointing at nothing.
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not Event.objects.exists()
    assert not JourneyEntry.objects.exists()
    assert not JourneyMember.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_events_batch_after_a_committed_delete_fails_as_a_foreign_key_would(
    live_journey,
) -> None:
    live_journey(dict(DEFINITION))
    contact = Contact.objects.create(phone="+447946000001")
    with psycopg.connect(worker.test_database_url()) as deleter:
        deleter.execute("DELETE FROM contacts_contact WHERE id = %s", [contact.pk])
        failed: list[BaseException] = []

        def record() -> None:
            try:
                with transaction.atomic():
                    _sql(EVENT, contact.pk)
            except IntegrityError as exc:
                failed.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=record)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # the batch's check waits for the delete in flight
        deleter.commit()
    thread.join(10)
    connections.close_all()
    assert len(failed) == 1
    assert not Event.objects.exists()
