"""The outcome tests again, on PostgreSQL: reports are applied there by one SQL statement."""

import pytest

from tests.campaigns.test_outcomes import *  # noqa: F403

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _on_postgres(integration_env) -> None:
    """Skip (and so fail the integration run) unless on PostgreSQL."""
