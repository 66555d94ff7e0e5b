"""List memberships keep a foreign key's guarantee without its per-row checks (migration
contacts/0005): one check per statement, a cascade per delete, one advisory lock for the race."""

import threading

import psycopg
import pytest
from django.db import IntegrityError, connection, connections, transaction

from contacts.bulk import add_memberships
from contacts.models import Contact, ContactList, ListMembership
from tests.fixtures import worker


@pytest.mark.django_db
def test_a_membership_of_a_missing_contact_or_list_is_refused_once_per_statement() -> None:
    contact = Contact.objects.create(phone="+447946000001")
    clist = ContactList.objects.create(name="a")
    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        add_memberships(clist, new_ids=[contact.pk, contact.pk + 1000], existing_ids=[])
    with pytest.raises(IntegrityError, match="does not exist"), transaction.atomic():
        ListMembership.objects.create(contact=contact, contact_list_id=clist.pk + 1000)
    # The whole statement was refused: not even the existing contact was added.
    assert not ListMembership.objects.exists()
    assert add_memberships(clist, new_ids=[contact.pk], existing_ids=[]) == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        ListMembership.objects.update(contact_id=contact.pk + 1000)


@pytest.mark.django_db
def test_deleting_contacts_or_lists_in_sql_deletes_their_memberships() -> None:
    contacts = Contact.objects.bulk_create([Contact(phone=f"+44794600000{i}") for i in range(3)])
    a, b = ContactList.objects.create(name="a"), ContactList.objects.create(name="b")
    add_memberships(a, new_ids=[c.pk for c in contacts], existing_ids=[])
    add_memberships(b, new_ids=[c.pk for c in contacts], existing_ids=[])
    with connection.cursor() as cursor:  # not the ORM: its cascade would get there first
        cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [contacts[0].pk])
        cursor.execute("DELETE FROM contacts_contactlist WHERE id = %s", [b.pk])
    assert sorted(ListMembership.objects.values_list("contact_list_id", "contact_id")) == [
        (a.pk, contacts[1].pk),
        (a.pk, contacts[2].pk),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_delete_waits_for_an_import_in_flight_and_then_takes_its_memberships() -> None:
    contact = Contact.objects.create(phone="+447946000001")
    clist = ContactList.objects.create(name="a")
    with psycopg.connect(worker.test_database_url()) as importer:
        # An import's batch added the contact to the list and has not committed yet …
        importer.execute(
            "INSERT INTO contacts_listmembership (contact_id, contact_list_id, added_at) "
            "VALUES (%s, %s, now())",
            [contact.pk, clist.pk],
        )

        def delete() -> None:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM contacts_contact WHERE id = %s", [contact.pk])
            connection.close()

        thread = threading.Thread(target=delete)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # … so the delete waits for it …
        importer.commit()
    thread.join(10)
    connections.close_all()
    # … and then removes the membership it added: none is left pointing at nothing.
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not ListMembership.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_import_after_a_committed_delete_fails_as_a_foreign_key_would() -> None:
    contact = Contact.objects.create(phone="+447946000001")
    clist = ContactList.objects.create(name="a")
    with psycopg.connect(worker.test_database_url()) as deleter:
        deleter.execute("DELETE FROM contacts_contact WHERE id = %s", [contact.pk])
        failed: list[BaseException] = []

        def add() -> None:
            try:
                with transaction.atomic():
                    add_memberships(clist, new_ids=[], existing_ids=[contact.pk])
            except IntegrityError as exc:
                failed.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=add)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # the import's check waits for the delete in flight
        deleter.commit()
    thread.join(10)
    connections.close_all()
    assert len(failed) == 1
    assert not ListMembership.objects.exists()
