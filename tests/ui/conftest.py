"""Users in each role, an audience, and settings pointed at the sandbox, for the UI tests."""

import os

import pytest
from django.contrib.auth.models import Group, Permission, User

from contacts.models import ContactList
from tests import factories
from ui.roles import MARKETER, SENDER, roles_ensure

# pytest-django's live_server runs Django in a thread of the test process, where Playwright's
# sync API has an event loop: Django's async-safety check would refuse every ORM call.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "a-long-test-password-42"
SCREENSHOT_DIRS: list = []  # filled by test_browser.shots_dir


def pytest_terminal_summary(terminalreporter) -> None:
    for folder in SCREENSHOT_DIRS:
        terminalreporter.write_line(f"browser screenshots: {folder}")


def make_user(username: str, *roles: str) -> User:
    """A user in the given role groups (the groups the ui migration creates)."""
    roles_ensure(group_model=Group, permission_model=Permission)
    user = User.objects.create_user(username, password=PASSWORD)
    user.groups.set(Group.objects.filter(name__in=roles))
    return user


@pytest.fixture
def marketer(db) -> User:
    return make_user("mia", MARKETER)


@pytest.fixture
def sender(db) -> User:
    return make_user("sam", MARKETER, SENDER)


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def sender_client(client, sender):
    client.force_login(sender)
    return client


def make_audience(n: int, *, name: str = "Customers", prefix: str = "+4479460") -> ContactList:
    """`n` UK mobile contacts with first names, all on one list (tests/factories.py builds it)."""
    return factories.make_audience(n, name=name, prefix=prefix)


@pytest.fixture
def live_sandbox(sandbox, settings):
    """Herald's client pointed at the test sandbox."""
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    return sandbox


@pytest.fixture
def axe_audit():
    """An AxeAudit (tests/ui/axe.py): `.check(page, label)` per page; fails at teardown when
    any checked page had a serious or critical axe-core violation."""
    from tests.ui.axe import AxeAudit

    audit = AxeAudit()
    yield audit
    audit.assert_clean()


def htmx_settled(page) -> None:
    """Wait until htmx has swapped and processed what it was fetching.

    Content htmx swaps in is bound (its hx-* attributes wired) during the swap; an interaction
    Playwright makes in the moment between the new nodes appearing and that binding is lost (no
    request). A person cannot be that fast; a browser test on a quiet machine is.
    """
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
