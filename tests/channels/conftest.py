"""The channel tests use the campaign tests' live sandbox and the webhook tests' poster."""

from tests.campaigns.conftest import live_sandbox  # noqa: F401
from tests.infobip.webhooks.conftest import post  # noqa: F401
