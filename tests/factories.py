"""factory-boy factories shared by the test suites (each app appends its own section)."""

import factory
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.states import CampaignState
from contacts.models import (
    ConsentAction,
    ConsentEvent,
    ConsentSource,
    Contact,
    ContactList,
    ListMembership,
)

# --- Contacts -----------------------------------------------------------------------------------


class ContactListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactList
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"List {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    """A valid UK mobile (+447400…), spaced out so factories never look sequential."""

    class Meta:
        model = Contact
        skip_postgeneration_save = True

    phone = factory.Sequence(lambda n: f"+4474{(n * 7919) % 10**8:08d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    language = "en"
    timezone = "Europe/London"
    country = "GB"
    attributes = factory.LazyFunction(dict)

    @factory.post_generation
    def lists(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            for contact_list in extracted:
                ListMembership.objects.get_or_create(contact=self, contact_list=contact_list)


class OptedOutContactFactory(ContactFactory):
    opted_out = True
    opted_out_at = factory.LazyFunction(timezone.now)
    opted_out_source = ConsentSource.KEYWORD
    opted_out_channel = "sms"


class ConsentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentEvent

    contact = factory.SubFactory(ContactFactory)
    action = ConsentAction.OPT_OUT
    source = ConsentSource.KEYWORD
    channel = "sms"


def make_audience(
    n: int, *, name: str = "audience", prefix: str = "+4479460", **fields
) -> ContactList:
    """`n` contacts with distinct UK mobile numbers and first names, all in one list (bulk)."""
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


# --- Campaigns and the ledger ----------------------------------------------------------------


class CampaignFactory(factory.django.DjangoModelFactory):
    """A draft SMS campaign with a personalised text (pass `state=` for a launched one)."""

    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = "sms"
    text = "Hi {{first_name}}, spring offers are here"
    state = CampaignState.DRAFT

    @factory.post_generation
    def lists(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.lists.set(extracted)


class MessageFactory(factory.django.DjangoModelFactory):
    """One ledger row of a running campaign, `queued` unless told (counters are not touched)."""

    class Meta:
        model = Message

    campaign = factory.SubFactory(CampaignFactory, state=CampaignState.RUNNING)
    contact = factory.SubFactory(ContactFactory)
    phone = factory.LazyAttribute(lambda m: m.contact.phone)
    channel = "sms"
    text = "Hi, spring offers are here"
    state = "queued"
    callback_data = factory.LazyAttribute(lambda m: f"herald:campaign={m.campaign.pk}")
