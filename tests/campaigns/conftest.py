"""Builders for campaign tests: contacts in a list, and settings pointed at a live sandbox."""

import pytest

from contacts.models import Contact, ContactList, ListMembership


def make_audience(
    n: int, *, name: str = "audience", prefix: str = "+4479460", **fields
) -> ContactList:
    """`n` contacts with distinct UK mobile numbers, all in one list."""
    contact_list = ContactList.objects.create(name=name)
    contacts = Contact.objects.bulk_create(
        [
            Contact(phone=f"{prefix}{i:05d}", first_name=f"Ann{i}", country="GB", **fields)
            for i in range(n)
        ]
    )
    ListMembership.objects.bulk_create(
        [ListMembership(contact=c, contact_list=contact_list) for c in contacts]
    )
    return contact_list


@pytest.fixture
def live_sandbox(sandbox, settings):
    """Herald's client pointed at the test sandbox, webhooks at a host nobody listens on."""
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    settings.HERALD_BATCH_SIZE = 25
    settings.HERALD_SEND_CHAINS = 2
    return sandbox
