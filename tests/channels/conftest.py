"""The channel tests use the campaign tests' live sandbox, the webhook tests' poster and the API
tests' clients."""

from tests.api.conftest import api_for, sender_user  # noqa: F401
from tests.campaigns.conftest import live_sandbox  # noqa: F401
from tests.infobip.webhooks.conftest import post  # noqa: F401
