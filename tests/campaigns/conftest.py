"""Campaign test fixtures: settings pointed at a live sandbox (builders: tests/factories.py)."""

import pytest

from tests.factories import make_audience  # noqa: F401  (imported from here by the tests)


@pytest.fixture
def live_sandbox(sandbox, settings):
    """Herald's client pointed at the test sandbox, webhooks at a host nobody listens on."""
    settings.INFOBIP_SANDBOX_URL = sandbox.url
    settings.INFOBIP_SANDBOX_API_KEY = sandbox.api_key
    settings.HERALD_BATCH_SIZE = 25
    settings.HERALD_SEND_CHAINS = 2
    return sandbox


# The webhook poster of the webhook tests (POST a body, run what commits enqueue).
from tests.infobip.webhooks.conftest import post  # noqa: E402, F401
