"""Users in every role, and campaigns ready for each lifecycle action, for the rules tests."""

import pytest
from django.contrib.auth.models import Group, Permission, User

from campaigns.models import Campaign, Message
from campaigns.services import campaign_create
from contacts.models import Contact, ContactList, ListMembership
from ui.roles import MARKETER, SENDER, roles_ensure

PASSWORD = "a-long-test-password-42"

# Who can do what: the Sender role and superusers launch, approve, pause, resume, cancel and
# resend; everyone else is refused on every surface.
ROLES = ["anonymous", "viewer", "marketer", "sender", "staff", "superuser"]
ACTIONS = ["launch", "approve", "pause", "resume", "cancel", "resend"]
ALLOWED = {"sender", "superuser"}


def make_role_user(role: str) -> User | None:
    """A user in `role` (staff, so the admin is reachable and only permissions decide)."""
    if role == "anonymous":
        return None
    roles_ensure(group_model=Group, permission_model=Permission)
    if role == "superuser":
        return User.objects.create_superuser(role, password=PASSWORD)
    user = User.objects.create_user(role, password=PASSWORD, is_staff=True)
    if role == "viewer":
        user.user_permissions.set(
            Permission.objects.filter(
                codename__in=["view_campaign", "view_contact", "view_contactlist"]
            )
        )
    elif role == "marketer":
        user.groups.set(Group.objects.filter(name=MARKETER))
    elif role == "sender":
        user.groups.set(Group.objects.filter(name__in=[MARKETER, SENDER]))
    return user


def make_audience(n: int = 3, name: str = "Customers", prefix: str = "+4479460") -> ContactList:
    contact_list = ContactList.objects.create(name=name)
    contacts = Contact.objects.bulk_create(
        Contact(phone=f"{prefix}{i:05d}", first_name=f"Ann{i}", country="GB") for i in range(n)
    )
    ListMembership.objects.bulk_create(
        ListMembership(contact=c, contact_list=contact_list) for c in contacts
    )
    return contact_list


def campaign_ready_for(action: str, *, creator: User | None = None) -> Campaign:
    """A campaign in the state where `action` is possible."""
    campaign = campaign_create(
        name=f"for {action}",
        channel="sms",
        lists=[make_audience()],
        text="Hi {{first_name}}",
        created_by=creator,
    )
    state = {"pause": "running", "cancel": "running", "resume": "paused", "resend": "completed"}
    if action in state:
        Campaign.objects.filter(pk=campaign.pk).update(state=state[action])
    if action == "resend":
        contact = Contact.objects.first()
        Message.objects.create(
            campaign=campaign,
            contact=contact,
            phone=contact.phone,
            channel="sms",
            state="failed",
            error_permanent=False,
            text="Hi",
        )
        Campaign.objects.filter(pk=campaign.pk).update(count_failed=1, recipients=1)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def creator(db) -> User:
    """The campaigns' author: someone else, so approving them is possible."""
    return User.objects.create_user("creator", password=PASSWORD)


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    # Hundreds of users are made here: PBKDF2's deliberate slowness would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
