"""factory-boy factories shared by the test suites (each app appends its own section)."""

import factory
from django.utils import timezone

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
